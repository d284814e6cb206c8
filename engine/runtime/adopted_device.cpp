// A Context on an application's device (docs/embedding.md): checks the handles it is given, probes
// the physical device, and plans from what the application enabled rather than from what the device
// could enable. Nothing adopted is owned: no instance, device or queue is ever destroyed or waited
// idle on by vkattn.
#include <algorithm>
#include <iostream>

#include "runtime/context_state.hpp"
#include "runtime/device_probe.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/error.hpp"
#include "vkattn/profile.hpp"

namespace vkattn::detail {
namespace {

std::string version_text(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v));
}

bool has_extension(const AdoptedDevice& app, const char* name) {
    return std::find(app.enabled_extensions.begin(), app.enabled_extensions.end(), name) != app.enabled_extensions.end();
}

void refuse_null(bool is_null, const char* field) {
    if (is_null) throw Error(ErrorCode::invalid_argument, std::string("adopted device: ") + field + " is VK_NULL_HANDLE");
}

}  // namespace

void ContextState::initialise_adopted(const AdoptedDevice& app, ContextOptions opts) {
    options = std::move(opts);
    test_switches = default_test_switches();
    if (!options.device.empty())
        throw Error(ErrorCode::invalid_argument,
                    "options.device: a context on an adopted device runs on the application's device; leave the selector empty");
    if (options.validation)
        throw Error(ErrorCode::invalid_argument,
                    "options.validation: a context on an adopted device uses the application's instance; enable "
                    "VK_LAYER_KHRONOS_validation there (its messages go to the application's debug messenger)");
    options.verbose = options.verbose || env_flag("VKATTN_VERBOSE");
    log = options.on_message ? options.on_message : [](const std::string& s) { std::cerr << s << '\n'; };
    refuse_null(app.instance == VK_NULL_HANDLE, "instance");
    refuse_null(app.physical_device == VK_NULL_HANDLE, "physical_device");
    refuse_null(app.device == VK_NULL_HANDLE, "device");
    refuse_null(app.queue == VK_NULL_HANDLE, "queue");
    if (app.api_version < VK_API_VERSION_1_1)
        throw Error(ErrorCode::unsupported, "adopted device: api_version " + version_text(app.api_version) +
                                                " is below Vulkan 1.1, the least vkattn runs on");

    uint32_t families = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(app.physical_device, &families, nullptr);
    std::vector<VkQueueFamilyProperties> props(families);
    vkGetPhysicalDeviceQueueFamilyProperties(app.physical_device, &families, props.data());
    if (app.queue_family >= families)
        throw Error(ErrorCode::invalid_argument, "adopted device: queue_family " + std::to_string(app.queue_family) +
                                                     " does not exist (the device has " + std::to_string(families) + ")");
    if (!(props[app.queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT))
        throw Error(ErrorCode::invalid_argument, "adopted device: queue_family " + std::to_string(app.queue_family) +
                                                     " has no VK_QUEUE_COMPUTE_BIT");

    const std::string profile = effective_profile(options.profile);
    const std::string profile_argument = options.profile.empty() ? "VKATTN_PROFILE" : "profile";
    probed = probe_device(app.physical_device, 0);
    // The device is as capable as the application made it: its API version up to the instance's,
    // and only the features the application enabled.
    probed.api_version = std::min(probed.api_version, app.api_version);
    const bool float16_enabled = app.shader_float16 && (probed.api_version >= VK_API_VERSION_1_2 ||
                                                        has_extension(app, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME));
    probed.fp16_arithmetic = probed.fp16_arithmetic && float16_enabled;
    const bool size_control_enabled = app.subgroup_size_control && (probed.api_version >= VK_API_VERSION_1_3 ||
                                                                    has_extension(app, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME));
    probed.subgroup_size_control = probed.subgroup_size_control && size_control_enabled;
    probed.compute_full_subgroups = probed.compute_full_subgroups && app.compute_full_subgroups &&
                                    (probed.api_version >= VK_API_VERSION_1_3 || has_extension(app, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME));
    if (options.subgroup_size && !probed.subgroup_size_control)
        throw Error(ErrorCode::unsupported,
                    "subgroup_size: " + std::to_string(options.subgroup_size) +
                        ": the application did not enable subgroupSizeControl (Vulkan 1.3, or VK_EXT_subgroup_size_control) "
                        "on device '" + probed.name + "'");
    info = apply_profile(probed, profile, profile_argument);
    apply_subgroup_size(info, options.subgroup_size);
    vkGetPhysicalDeviceMemoryProperties(app.physical_device, &memory_properties);

    adopted = true;
    queue_mutex = app.queue_mutex;
    physical = app.physical_device;
    device = UniqueDevice::adopted(app.device);
    queue_family = app.queue_family;
    queue = app.queue;
    if (options.verbose)
        log("vkattn: adopted the application's device '" + info.name + "' (Vulkan " + version_text(info.api_version) +
            ", fp16 arithmetic " + (info.fp16_arithmetic ? "on" : "off: not enabled by the application") + ", queue family " +
            std::to_string(queue_family) + ")");
    create_common_objects();
}

}  // namespace vkattn::detail
