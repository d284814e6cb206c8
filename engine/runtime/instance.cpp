#include "runtime/instance.hpp"

#include <cstring>
#include <vector>

#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {
constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool has_instance_extension(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}
bool layer_has_extension(const char* name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(kValidationLayer, &n, nullptr) != VK_SUCCESS) return false;
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateInstanceExtensionProperties(kValidationLayer, &n, exts.data());
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}
}  // namespace

bool validation_layer_available() {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, nullptr) != VK_SUCCESS) return false;
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    for (const auto& l : layers)
        if (std::strcmp(l.layerName, kValidationLayer) == 0) return true;
    return false;
}

Instance::Instance(bool validation, ValidationChecks checks, MessageSink sink) : sink_(std::move(sink)) {
    uint32_t loader_version = VK_API_VERSION_1_0;
    vkEnumerateInstanceVersion(&loader_version);
    if (loader_version < VK_API_VERSION_1_1)
        throw Error(ErrorCode::no_device, "the Vulkan loader supports only Vulkan 1.0; vkattn needs 1.1 or newer");

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkattn";
    app.pEngineName = "vkattn";
    // Ask for the newest API the loader knows, capped at 1.3; devices report their own.
    app.apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version;

    std::vector<const char*> layers, extensions;
    if (validation) {
        if (!validation_layer_available())
            throw Error(ErrorCode::unsupported,
                        "validation: VK_LAYER_KHRONOS_validation is not installed (Debian package vulkan-validationlayers)");
        layers.push_back(kValidationLayer);
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkInstanceCreateFlags flags = 0;
    if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        // MoltenVK and other portability drivers are only listed with this flag.
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = &Instance::on_debug_message;
    dbg.pUserData = this;

    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.flags = flags;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    if (validation) ci.pNext = &dbg;  // also catches messages from instance creation itself
    // Extra checks through VK_EXT_validation_features (the layer's own extension, in every layer
    // version since 2019; VK_EXT_layer_settings is newer than some installed layers).
    std::vector<VkValidationFeatureEnableEXT> enables;
    if (checks == ValidationChecks::synchronization) enables.push_back(VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT);
    if (checks == ValidationChecks::gpu_assisted) {
        enables.push_back(VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT);
        // GPU-AV binds its output buffer at the last descriptor set slot; reserving it keeps
        // maxBoundDescriptorSets honest for ours (we use set 0 only).
        enables.push_back(VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_RESERVE_BINDING_SLOT_EXT);
    }
    if (checks == ValidationChecks::best_practices) enables.push_back(VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT);
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = static_cast<uint32_t>(enables.size());
    features.pEnabledValidationFeatures = enables.data();
    if (validation && !enables.empty()) {
        if (!layer_has_extension(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME))
            throw Error(ErrorCode::unsupported, std::string("validation: the installed validation layer lacks ") +
                                                    VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME + ", needed for " + to_string(checks) +
                                                    " checks");
        extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
        ci.ppEnabledExtensionNames = extensions.data();
        features.pNext = &dbg;
        ci.pNext = &features;
    }
    checks_ = validation ? checks : ValidationChecks::standard;
    VkResult r = fault::inject_or(fault::Site::init, [&] { return vkCreateInstance(&ci, nullptr, &instance_); });
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw Error(ErrorCode::no_device, "no Vulkan driver found (install mesa-vulkan-drivers for the CPU device lavapipe)");
    vk_check(r, "vkCreateInstance");
    count_object(ObjectKind::instance, +1);

    if (validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        r = create ? fault::inject_or(fault::Site::init, [&] { return create(instance_, &dbg, nullptr, &messenger_); }) : VK_SUCCESS;
        if (r != VK_SUCCESS) {
            // The destructor does not run for a constructor that throws: release the instance here.
            messenger_ = VK_NULL_HANDLE;
            vkDestroyInstance(instance_, nullptr);
            count_object(ObjectKind::instance, -1);
            vk_check(r, "vkCreateDebugUtilsMessengerEXT");
        }
    }
}

Instance::~Instance() {
    if (messenger_ != VK_NULL_HANDLE) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance_, messenger_, nullptr);
    }
    if (instance_ != VK_NULL_HANDLE) {
        vkDestroyInstance(instance_, nullptr);
        count_object(ObjectKind::instance, -1);
    }
}

VKAPI_ATTR VkBool32 VKAPI_CALL Instance::on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                          VkDebugUtilsMessageTypeFlagsEXT,
                                                          const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                          void* user) {
    auto* self = static_cast<Instance*>(user);
    self->messages_.fetch_add(1);
    const char* level = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error" : "warning";
    if (self->sink_)
        self->sink_(std::string("vkattn: validation ") + level + ": " + (data && data->pMessage ? data->pMessage : "?"));
    return VK_FALSE;
}

}  // namespace vkattn::detail
