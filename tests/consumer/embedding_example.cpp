// vkattn embedded in an application, built against the installed package (docs/embedding.md).
//
// The application owns everything Vulkan: its instance (with the validation layer and synchronization
// validation), device, queue, buffers, memory, pipelines and one command buffer. Into that command
// buffer it records
//   1. its own compute pass (fill_inputs.comp), which writes Q, K and V of two problems into its
//      device-local arena buffer;
//   2. vkattn's attention for both problems (record_attention), reading Q, K and V where the pass wrote
//      them, using a workspace in the application's memory, writing into the application's output
//      buffer;
//   3. its own compute pass (row_sums.comp), which reads the attention outputs and writes each row's sum;
// then submits once and waits on its fence. The outputs are checked against vkattn's CPU reference, the
// row sums against the outputs. Exits non-zero on any validation message (a missing barrier is a
// synchronization-validation hazard), a missing validation layer, or a wrong result.
//
// The problems: f32 grouped-query attention (B 2, Hq 8, Hkv 2, Lq 7, Lk 53, D 64, causal bottom-right)
// and an f16 decoding step (B 2, Hq 8, Hkv 2, Lq 1, Lk 200, D 64, key lengths 200 and 137).
#include <vulkan/vulkan.h>

#include <vkattn/embedding.hpp>
#include <vkattn/reference.hpp>
#include <vkattn/vkattn.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef EXAMPLE_SHADER_DIR
#error "EXAMPLE_SHADER_DIR must name the directory of fill_inputs.spv and row_sums.spv"
#endif

namespace {

// ---------------------------------------------------------------------------------------------------
// The application's validation messages: every warning and error counts, and any fails the program.

int g_validation_messages = 0;

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        ++g_validation_messages;
        std::fprintf(stderr, "embedding_example: validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed: VkResult " + std::to_string(r));
}

VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) { return (x + a - 1) / a * a; }

// The value fill_inputs.comp writes at element `e` of the tensor with `seed`: the same integer hash,
// then k / 512 for an integer k in [-512, 512], exact in f32 and f16.
float input_value(uint32_t seed, uint32_t e) {
    uint32_t h = e * 2654435761u + seed * 0x9E3779B9u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return static_cast<float>(static_cast<int32_t>(h % 1025u) - 512) * (1.0f / 512.0f);
}

std::vector<uint32_t> read_spirv(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % 4 != 0) throw std::runtime_error(path + " is not SPIR-V");
    std::vector<uint32_t> words(bytes.size() / 4);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    return words;
}

// ---------------------------------------------------------------------------------------------------
// The application's Vulkan objects.

struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    VkBufferUsageFlags usage = 0;
    void* mapped = nullptr;  // host-visible buffers only
    vkattn::ApplicationBuffer for_vkattn() const { return {buffer, size, usage}; }
};

struct ComputePipeline {
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
};

class Application {
public:
    static constexpr uint32_t kApiVersion = VK_API_VERSION_1_3;

    Application() {
        require_validation_layer();
        VkApplicationInfo ai{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        ai.pApplicationName = "vkattn embedding example";
        ai.apiVersion = kApiVersion;
        std::vector<const char*> extensions = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
        if (layer_has_extension(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        const char* layer = "VK_LAYER_KHRONOS_validation";
        // Synchronization validation: reports hazards between commands, such as a read of vkattn's
        // output without a barrier after the dispatch that wrote it.
        const VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
        VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
        features.enabledValidationFeatureCount = 1;
        features.pEnabledValidationFeatures = &sync;
        VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
        mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
        mi.pfnUserCallback = on_validation_message;
        features.pNext = &mi;  // also reports during vkCreateInstance and vkDestroyInstance
        VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ii.pNext = &features;
        ii.pApplicationInfo = &ai;
        ii.enabledLayerCount = 1;
        ii.ppEnabledLayerNames = &layer;
        ii.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
        ii.ppEnabledExtensionNames = extensions.data();
        check(vkCreateInstance(&ii, nullptr, &instance), "vkCreateInstance");
        auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
        if (!create_messenger) throw std::runtime_error("vkCreateDebugUtilsMessengerEXT is missing");
        check(create_messenger(instance, &mi, nullptr, &messenger), "vkCreateDebugUtilsMessengerEXT");

        // The first device with a compute queue family.
        uint32_t count = 0;
        check(vkEnumeratePhysicalDevices(instance, &count, nullptr), "vkEnumeratePhysicalDevices");
        std::vector<VkPhysicalDevice> devices(count);
        check(vkEnumeratePhysicalDevices(instance, &count, devices.data()), "vkEnumeratePhysicalDevices");
        for (VkPhysicalDevice d : devices) {
            uint32_t families = 0;
            vkGetPhysicalDeviceQueueFamilyProperties(d, &families, nullptr);
            std::vector<VkQueueFamilyProperties> props(families);
            vkGetPhysicalDeviceQueueFamilyProperties(d, &families, props.data());
            for (uint32_t f = 0; f < families && !physical; ++f)
                if (props[f].queueFlags & VK_QUEUE_COMPUTE_BIT) physical = d, family = f;
            if (physical) break;
        }
        if (!physical) throw std::runtime_error("no Vulkan device with a compute queue");
        vkGetPhysicalDeviceProperties(physical, &properties);
        vkGetPhysicalDeviceMemoryProperties(physical, &memory_properties);

        // shaderFloat16 when the device has it (vkattn then computes f16 problems in f16).
        VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
        const bool vulkan12 = properties.apiVersion >= VK_API_VERSION_1_2;
        if (vulkan12) {
            VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
            f2.pNext = &f12;
            vkGetPhysicalDeviceFeatures2(physical, &f2);
            shader_float16 = f12.shaderFloat16 == VK_TRUE;
            f12 = VkPhysicalDeviceVulkan12Features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
            f12.shaderFloat16 = shader_float16 ? VK_TRUE : VK_FALSE;
        }
        const float priority = 1;
        VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qi.queueFamilyIndex = family;
        qi.queueCount = 1;
        qi.pQueuePriorities = &priority;
        VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        di.pNext = vulkan12 ? &f12 : nullptr;
        di.queueCreateInfoCount = 1;
        di.pQueueCreateInfos = &qi;
        check(vkCreateDevice(physical, &di, nullptr, &device), "vkCreateDevice");
        vkGetDeviceQueue(device, family, 0, &queue);

        VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pi.queueFamilyIndex = family;
        check(vkCreateCommandPool(device, &pi, nullptr, &command_pool), "vkCreateCommandPool");
        VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 3};
        VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dpi.maxSets = 2;
        dpi.poolSizeCount = 1;
        dpi.pPoolSizes = &ps;
        check(vkCreateDescriptorPool(device, &dpi, nullptr, &descriptor_pool), "vkCreateDescriptorPool");
        VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        check(vkCreateFence(device, &fi, nullptr, &fence), "vkCreateFence");
    }

    ~Application() {
        if (device) {
            vkDeviceWaitIdle(device);
            for (Buffer& b : buffers) {
                if (b.buffer) vkDestroyBuffer(device, b.buffer, nullptr);
                if (b.memory) vkFreeMemory(device, b.memory, nullptr);
            }
            for (ComputePipeline& p : pipelines) {
                if (p.pipeline) vkDestroyPipeline(device, p.pipeline, nullptr);
                if (p.layout) vkDestroyPipelineLayout(device, p.layout, nullptr);
                if (p.set_layout) vkDestroyDescriptorSetLayout(device, p.set_layout, nullptr);
            }
            if (fence) vkDestroyFence(device, fence, nullptr);
            if (descriptor_pool) vkDestroyDescriptorPool(device, descriptor_pool, nullptr);
            if (command_pool) vkDestroyCommandPool(device, command_pool, nullptr);
            vkDestroyDevice(device, nullptr);
        }
        if (messenger) {
            auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
                vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
            destroy(instance, messenger, nullptr);
        }
        if (instance) vkDestroyInstance(instance, nullptr);
    }
    Application(const Application&) = delete;
    Application& operator=(const Application&) = delete;

    vkattn::AdoptedDevice adopted() const {
        vkattn::AdoptedDevice a;
        a.instance = instance;
        a.physical_device = physical;
        a.device = device;
        a.queue_family = family;
        a.queue = queue;
        a.api_version = kApiVersion;
        a.enabled_extensions = {};  // none
        a.shader_float16 = shader_float16;
        return a;
    }

    /// A buffer with its own memory: device-local when `host_visible` is false (falling back to any
    /// type), host-visible, coherent and mapped otherwise. Destroyed with the application.
    const Buffer& make_buffer(VkDeviceSize size, VkBufferUsageFlags usage, bool host_visible) {
        Buffer& b = buffers.emplace_back();
        b.size = size;
        b.usage = usage;
        VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bi.size = size;
        bi.usage = usage;
        check(vkCreateBuffer(device, &bi, nullptr, &b.buffer), "vkCreateBuffer");
        VkMemoryRequirements req{};
        vkGetBufferMemoryRequirements(device, b.buffer, &req);
        const VkMemoryPropertyFlags want =
            host_visible ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        uint32_t type = UINT32_MAX;
        for (uint32_t t = 0; t < memory_properties.memoryTypeCount && type == UINT32_MAX; ++t)
            if ((req.memoryTypeBits & (1u << t)) && (memory_properties.memoryTypes[t].propertyFlags & want) == want) type = t;
        for (uint32_t t = 0; t < memory_properties.memoryTypeCount && type == UINT32_MAX && !host_visible; ++t)
            if (req.memoryTypeBits & (1u << t)) type = t;
        if (type == UINT32_MAX) throw std::runtime_error("no suitable memory type");
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = type;
        check(vkAllocateMemory(device, &mai, nullptr, &b.memory), "vkAllocateMemory");
        check(vkBindBufferMemory(device, b.buffer, b.memory, 0), "vkBindBufferMemory");
        if (host_visible) check(vkMapMemory(device, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
        return b;
    }

    /// A compute pipeline from a SPIR-V file, with `bindings` storage buffers in set 0 and
    /// `push_bytes` of push constants. Destroyed with the application.
    const ComputePipeline& make_pipeline(const std::string& spirv_path, uint32_t bindings, uint32_t push_bytes) {
        ComputePipeline& p = pipelines.emplace_back();
        std::vector<VkDescriptorSetLayoutBinding> b(bindings);
        for (uint32_t i = 0; i < bindings; ++i) b[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
        VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        li.bindingCount = bindings;
        li.pBindings = b.data();
        check(vkCreateDescriptorSetLayout(device, &li, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");
        VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
        VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        pli.setLayoutCount = 1;
        pli.pSetLayouts = &p.set_layout;
        pli.pushConstantRangeCount = 1;
        pli.pPushConstantRanges = &range;
        check(vkCreatePipelineLayout(device, &pli, nullptr, &p.layout), "vkCreatePipelineLayout");
        const std::vector<uint32_t> code = read_spirv(spirv_path);
        VkShaderModuleCreateInfo si{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        si.codeSize = code.size() * 4;
        si.pCode = code.data();
        VkShaderModule module = VK_NULL_HANDLE;
        check(vkCreateShaderModule(device, &si, nullptr, &module), "vkCreateShaderModule");
        VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, "main", nullptr};
        ci.layout = p.layout;
        const VkResult r = vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &ci, nullptr, &p.pipeline);
        vkDestroyShaderModule(device, module, nullptr);
        check(r, "vkCreateComputePipelines");
        return p;
    }

    /// A descriptor set of `p`'s layout whose binding i is all of buffers[i].
    VkDescriptorSet make_set(const ComputePipeline& p, const std::vector<const Buffer*>& bound) {
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = descriptor_pool;
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &p.set_layout;
        VkDescriptorSet set = VK_NULL_HANDLE;
        check(vkAllocateDescriptorSets(device, &ai, &set), "vkAllocateDescriptorSets");
        std::vector<VkDescriptorBufferInfo> infos(bound.size());
        std::vector<VkWriteDescriptorSet> writes(bound.size());
        for (std::size_t i = 0; i < bound.size(); ++i) {
            infos[i] = {bound[i]->buffer, 0, VK_WHOLE_SIZE};
            writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
            writes[i].dstSet = set;
            writes[i].dstBinding = static_cast<uint32_t>(i);
            writes[i].descriptorCount = 1;
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
        vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
        return set;
    }

    VkCommandBuffer begin_commands() {
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = command_pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        check(vkAllocateCommandBuffers(device, &ai, &cmd), "vkAllocateCommandBuffers");
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
        return cmd;
    }

    /// The one submission: `cmd` alone, then a wait on the fence.
    void submit_and_wait(VkCommandBuffer cmd) {
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        check(vkQueueSubmit(queue, 1, &si, fence), "vkQueueSubmit");
        check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    }

    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkPhysicalDeviceProperties properties{};
    VkPhysicalDeviceMemoryProperties memory_properties{};
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    bool shader_float16 = false;
    VkCommandPool command_pool = VK_NULL_HANDLE;
    VkDescriptorPool descriptor_pool = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;

private:
    static std::vector<VkExtensionProperties> layer_extensions() {
        uint32_t n = 0;
        vkEnumerateInstanceExtensionProperties("VK_LAYER_KHRONOS_validation", &n, nullptr);
        std::vector<VkExtensionProperties> e(n);
        vkEnumerateInstanceExtensionProperties("VK_LAYER_KHRONOS_validation", &n, e.data());
        return e;
    }
    static bool layer_has_extension(const char* name) {
        for (const VkExtensionProperties& e : layer_extensions())
            if (std::strcmp(e.extensionName, name) == 0) return true;
        return false;
    }
    static void require_validation_layer() {
        uint32_t n = 0;
        vkEnumerateInstanceLayerProperties(&n, nullptr);
        std::vector<VkLayerProperties> layers(n);
        vkEnumerateInstanceLayerProperties(&n, layers.data());
        for (const VkLayerProperties& l : layers)
            if (std::strcmp(l.layerName, "VK_LAYER_KHRONOS_validation") == 0) {
                if (!layer_has_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
                    throw std::runtime_error("VK_LAYER_KHRONOS_validation does not offer VK_EXT_debug_utils");
                return;
            }
        throw std::runtime_error(
            "VK_LAYER_KHRONOS_validation is not installed (package vulkan-validationlayers); this example runs only under "
            "synchronization validation");
    }

    std::deque<Buffer> buffers;  // a deque: references to its elements stay valid as it grows
    std::deque<ComputePipeline> pipelines;
};

// ---------------------------------------------------------------------------------------------------
// The two attention problems, where their tensors live, and the checks.

struct Problem {
    const char* name;
    int64_t B, Hq, Hkv, Lq, Lk, D;
    vkattn::DType dtype;
    vkattn::Causal causal;
    std::vector<int32_t> key_lengths;
    uint32_t seed;  // q: seed, k: seed + 1, v: seed + 2
    // Byte offsets of q, k, v in the arena, of the output in the output buffer; first float of the row sums.
    VkDeviceSize q_at = 0, k_at = 0, v_at = 0, out_at = 0;
    uint32_t sums_at = 0;

    int64_t q_elements() const { return B * Hq * Lq * D; }
    int64_t kv_elements() const { return B * Hkv * Lk * D; }
    int64_t out_elements() const { return B * Hq * Lq * D; }
    int64_t rows() const { return B * Hq * Lq; }
    VkDeviceSize bytes(int64_t elements) const { return static_cast<VkDeviceSize>(elements) * vkattn::dtype_size(dtype); }
};

struct FillPush {
    uint32_t word_offset, word_count, seed, halves;
};
struct SumsPush {
    uint32_t word_offset, rows, row_elements, halves, sum_offset;
};

/// The inputs fill_inputs.comp writes, computed on the host: the reference's problem.
vkattn::HostAttentionProblem host_problem(const Problem& p) {
    vkattn::HostAttentionProblem h;
    h.B = p.B, h.Hq = p.Hq, h.Hkv = p.Hkv, h.Lq = p.Lq, h.Lk = p.Lk, h.D = p.D, h.Dv = p.D;
    h.causal = p.causal;
    h.key_lengths = p.key_lengths;
    const auto fill = [](std::vector<float>& x, int64_t n, uint32_t seed) {
        x.resize(static_cast<std::size_t>(n));
        for (int64_t e = 0; e < n; ++e) x[e] = input_value(seed, static_cast<uint32_t>(e));  // exact in f16 too
    };
    fill(h.q, p.q_elements(), p.seed);
    fill(h.k, p.kv_elements(), p.seed + 1);
    fill(h.v, p.kv_elements(), p.seed + 2);
    return h;
}

/// The output as the host sees it in the application's output buffer, as floats.
std::vector<float> read_output(const Buffer& out, const Problem& p) {
    std::vector<float> got(static_cast<std::size_t>(p.out_elements()));
    const char* base = static_cast<const char*>(out.mapped) + p.out_at;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (p.dtype == vkattn::DType::f32) {
            std::memcpy(&got[i], base + i * 4, 4);
        } else {
            uint16_t h;
            std::memcpy(&h, base + i * 2, 2);
            got[i] = vkattn::half_to_float(h);
        }
    }
    return got;
}

/// FlashAttention's rule: within twice the error of a plain implementation in the same precision
/// (naive_attention) against the double-precision reference; every element finite (the output buffer
/// was NaN before, so a finite value was written). "" or why not; `error` receives max |got - ref|.
std::string check_output(const Problem& p, const std::vector<float>& got, double* error) {
    const vkattn::HostAttentionProblem h = host_problem(p);
    const std::vector<float> ref = vkattn::reference_attention(h).out;
    const std::vector<float> naive = vkattn::naive_attention(h, p.dtype).out;
    double naive_error = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) naive_error = std::max(naive_error, std::fabs(static_cast<double>(naive[i]) - ref[i]));
    const double bound = 2 * naive_error + 1e-6;
    *error = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
        if (!std::isfinite(got[i]) || !(d <= bound))
            return std::string(p.name) + ": out[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", reference " +
                   std::to_string(ref[i]) + " (bound " + std::to_string(bound) + ")";
        *error = std::max(*error, d);
    }
    return "";
}

/// row_sums.comp read what vkattn wrote: each sum within f32 rounding of the host's sum of the same row.
std::string check_row_sums(const Problem& p, const std::vector<float>& got, const float* sums) {
    for (int64_t r = 0; r < p.rows(); ++r) {
        double s = 0, magnitude = 0;
        for (int64_t j = 0; j < p.D; ++j) s += got[r * p.D + j], magnitude += std::fabs(got[r * p.D + j]);
        const float pass = sums[p.sums_at + r];
        if (!std::isfinite(pass) || !(std::fabs(pass - s) <= 1e-5 * (1 + magnitude)))
            return std::string(p.name) + ": the application's pass summed row " + std::to_string(r) + " to " + std::to_string(pass) +
                   ", the output's row sums to " + std::to_string(s);
    }
    return "";
}

struct Outcome {
    std::string device_name;
    bool float16 = false;
    std::vector<std::string> results;  // per problem: its name, the variant that ran, the error
    std::string failure;               // "" when every check passed
    VkDeviceSize workspace_bytes = 0;
};

Outcome run(Application& app) {
    Outcome outcome;
    outcome.device_name = app.properties.deviceName;
    outcome.float16 = app.shader_float16;
    std::vector<Problem> problems(2);
    problems[0] = {"f32 GQA causal", 2, 8, 2, 7, 53, 64, vkattn::DType::f32, vkattn::Causal::bottom_right, {}, 1};
    problems[1] = {"f16 decode", 2, 8, 2, 1, 200, 64, vkattn::DType::f16, vkattn::Causal::none, {200, 137}, 11};
    if (!app.shader_float16) std::printf("embedding_example: the device has no shaderFloat16; vkattn computes the f16 problem in f32\n");

    // Where everything lives. Offsets are aligned to minStorageBufferOffsetAlignment (at least 16) so that
    // any of them could also be bound as a descriptor's offset; vkattn itself only needs element alignment.
    const VkDeviceSize align = std::max<VkDeviceSize>(app.properties.limits.minStorageBufferOffsetAlignment, 16);
    VkDeviceSize arena_bytes = 0, out_bytes = align;  // `align` bytes of guard before the first output
    uint32_t sums = 0;
    for (Problem& p : problems) {
        p.q_at = arena_bytes, arena_bytes = align_up(arena_bytes + p.bytes(p.q_elements()), align);
        p.k_at = arena_bytes, arena_bytes = align_up(arena_bytes + p.bytes(p.kv_elements()), align);
        p.v_at = arena_bytes, arena_bytes = align_up(arena_bytes + p.bytes(p.kv_elements()), align);
        p.out_at = out_bytes, out_bytes = align_up(out_bytes + p.bytes(p.out_elements()), align) + align;  // guard after each
        p.sums_at = sums, sums += static_cast<uint32_t>(p.rows());
    }
    // Q, K and V: written and read only by the device.
    const Buffer& arena = app.make_buffer(arena_bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, /*host_visible=*/false);
    // The attention outputs and the row sums: the host checks them.
    const Buffer& out = app.make_buffer(out_bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, /*host_visible=*/true);
    const Buffer& row_sums = app.make_buffer(sums * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, /*host_visible=*/true);
    // Poison: all-ones bytes are NaN in f32 and in f16. Host writes before vkQueueSubmit are visible to
    // the device without a barrier (the submission makes them so).
    std::memset(out.mapped, 0xFF, out.size);
    std::memset(row_sums.mapped, 0xFF, row_sums.size);

    const ComputePipeline& fill = app.make_pipeline(EXAMPLE_SHADER_DIR "/fill_inputs.spv", 1, sizeof(FillPush));
    const ComputePipeline& sum_rows = app.make_pipeline(EXAMPLE_SHADER_DIR "/row_sums.spv", 2, sizeof(SumsPush));
    const VkDescriptorSet fill_set = app.make_set(fill, {&arena});
    const VkDescriptorSet sums_set = app.make_set(sum_rows, {&out, &row_sums});

    std::vector<std::string> variants;
    std::string& failure = outcome.failure;
    {
        // vkattn on the application's device. Everything of vkattn's (tensors, workspace, the context)
        // is destroyed at the end of this scope, before the application destroys its device.
        vkattn::Context ctx(app.adopted());
        std::vector<vkattn::Tensor> q, k, v, o;
        std::vector<vkattn::AttentionOptions> options(problems.size());
        VkDeviceSize workspace_bytes = 16;
        for (std::size_t i = 0; i < problems.size(); ++i) {
            const Problem& p = problems[i];
            q.push_back(vkattn::wrap_buffer(ctx, arena.for_vkattn(), p.q_at, {p.B, p.Hq, p.Lq, p.D}, p.dtype));
            k.push_back(vkattn::wrap_buffer(ctx, arena.for_vkattn(), p.k_at, {p.B, p.Hkv, p.Lk, p.D}, p.dtype));
            v.push_back(vkattn::wrap_buffer(ctx, arena.for_vkattn(), p.v_at, {p.B, p.Hkv, p.Lk, p.D}, p.dtype));
            o.push_back(vkattn::wrap_buffer(ctx, out.for_vkattn(), p.out_at, {p.B, p.Hq, p.Lq, p.D}, p.dtype));
            options[i].causal = p.causal;
            options[i].key_lengths = p.key_lengths;
            options[i].out = o.back();
            workspace_bytes = std::max(workspace_bytes, vkattn::attention_workspace_size(ctx, q[i], k[i], v[i], options[i]));
        }
        // The workspace in the application's memory: one buffer, device-local, sized for the larger
        // problem (operations recorded one after another reuse it from its start). It starts at byte 0
        // of its buffer, aligned to anything; sub-allocated, it would start at a multiple of `align`.
        const Buffer& scratch = app.make_buffer(workspace_bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, /*host_visible=*/false);
        outcome.workspace_bytes = workspace_bytes;
        vkattn::Workspace workspace(ctx, vkattn::wrap_buffer(ctx, scratch.for_vkattn(), 0, {static_cast<int64_t>(workspace_bytes)},
                                                             vkattn::DType::u8));

        const VkCommandBuffer cmd = app.begin_commands();

        // 1. The application's pass: Q, K and V of both problems into the arena.
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, fill.pipeline);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, fill.layout, 0, 1, &fill_set, 0, nullptr);
        for (const Problem& p : problems) {
            const uint32_t per_word = p.dtype == vkattn::DType::f16 ? 2 : 1;
            const std::pair<VkDeviceSize, int64_t> tensors[3] = {{p.q_at, p.q_elements()}, {p.k_at, p.kv_elements()}, {p.v_at, p.kv_elements()}};
            for (uint32_t t = 0; t < 3; ++t) {
                const FillPush push{static_cast<uint32_t>(tensors[t].first / 4), static_cast<uint32_t>(tensors[t].second / per_word),
                                    p.seed + t, per_word == 2 ? 1u : 0u};
                vkCmdPushConstants(cmd, fill.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, &push);
                vkCmdDispatch(cmd, (push.word_count + 63) / 64, 1, 1);
            }
        }

        // No barrier of ours here. The barrier contract (vkattn/embedding.hpp): every operation vkattn
        // records starts with a global barrier COMPUTE_SHADER|TRANSFER (SHADER_WRITE|TRANSFER_WRITE) ->
        // COMPUTE_SHADER (SHADER_READ|SHADER_WRITE|UNIFORM_READ). That barrier makes the pass's writes to
        // Q, K and V visible to vkattn's dispatches. The output buffer's NaN poison and the parameters
        // vkattn wrote into its host-visible ring are host writes, made visible by vkQueueSubmit.

        // 2. vkattn's attention, into the application's output buffer. The second operation's starting
        // barrier also orders it after the first's use of the shared workspace.
        for (std::size_t i = 0; i < problems.size(); ++i) {
            const vkattn::AttentionResult r = vkattn::record_attention(ctx, cmd, workspace, q[i], k[i], v[i], options[i]);
            variants.push_back(r.variant);
        }

        // Ours: vkattn ends with its last dispatches' SHADER_WRITEs to the outputs at COMPUTE_SHADER; the
        // application's pass reads them, so COMPUTE_SHADER/SHADER_WRITE -> COMPUTE_SHADER/SHADER_READ.
        VkMemoryBarrier output_to_reader{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        output_to_reader.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        output_to_reader.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &output_to_reader, 0,
                             nullptr, 0, nullptr);

        // 3. The application's pass that reads the outputs: one sum per row.
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, sum_rows.pipeline);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, sum_rows.layout, 0, 1, &sums_set, 0, nullptr);
        for (const Problem& p : problems) {
            const SumsPush push{static_cast<uint32_t>(p.out_at / 4), static_cast<uint32_t>(p.rows()), static_cast<uint32_t>(p.D),
                                p.dtype == vkattn::DType::f16 ? 1u : 0u, p.sums_at};
            vkCmdPushConstants(cmd, sum_rows.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, &push);
            vkCmdDispatch(cmd, (push.rows + 63) / 64, 1, 1);
        }

        // Ours: the host reads the outputs (vkattn's writes) and the row sums (the pass's) after the
        // fence, so COMPUTE_SHADER/SHADER_WRITE -> HOST/HOST_READ.
        VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, nullptr, 0, nullptr);
        check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");

        app.submit_and_wait(cmd);  // the only submission: fill, both attentions, row sums

        for (const Problem& p : problems) {
            const std::vector<float> got = read_output(out, p);
            double error = 0;
            if (failure.empty()) failure = check_output(p, got, &error);
            if (failure.empty()) failure = check_row_sums(p, got, static_cast<const float*>(row_sums.mapped));
            char line[256];
            std::snprintf(line, sizeof line, "%s %s (max err %.2e)", p.name, variants[&p - problems.data()].c_str(), error);
            outcome.results.push_back(line);
        }
        // Nothing outside the outputs was written: the guard bytes around them are still poison.
        for (VkDeviceSize b = 0; b < out.size && failure.empty(); ++b) {
            bool inside = false;
            for (const Problem& p : problems) inside |= b >= p.out_at && b < p.out_at + p.bytes(p.out_elements());
            if (!inside && static_cast<const unsigned char*>(out.mapped)[b] != 0xFF)
                failure = "byte " + std::to_string(b) + " of the output buffer, outside both outputs, was written";
        }
    }
    return outcome;
}

}  // namespace

int main() {
    const auto start = std::chrono::steady_clock::now();
    Outcome outcome;
    try {
        Application app;
        outcome = run(app);
        // `app` is destroyed here: vkattn's objects are gone already, and the validation layer reports
        // anything still alive on the device or the instance before the messages are counted.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "embedding_example: FAILED: %s\n", e.what());
        return 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!outcome.failure.empty()) std::fprintf(stderr, "embedding_example: FAILED: %s\n", outcome.failure.c_str());
    if (g_validation_messages != 0)
        std::fprintf(stderr, "embedding_example: FAILED: %d validation message(s) under synchronization validation\n", g_validation_messages);
    if (!outcome.failure.empty() || g_validation_messages != 0) return 1;
    std::printf("embedding_example: vkattn %s on %s (shaderFloat16 %s), one submission: app fill pass; attention %s, %s; app "
                "row-sum pass; workspace %llu bytes of the application's; results match the reference; 0 validation messages (synchronization validation); %.1f s\n",
                vkattn::version(), outcome.device_name.c_str(), outcome.float16 ? "on" : "off", outcome.results.at(0).c_str(),
                outcome.results.at(1).c_str(), static_cast<unsigned long long>(outcome.workspace_bytes), seconds);
    return 0;
}
