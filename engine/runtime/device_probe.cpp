#include "runtime/device_probe.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

std::string vendor_name(uint32_t id) {
    switch (id) {
        case 0x10DE: return "NVIDIA";
        case 0x1002: return "AMD";
        case 0x1022: return "AMD";
        case 0x8086: return "Intel";
        case 0x13B5: return "ARM";
        case 0x5143: return "Qualcomm";
        case 0x106B: return "Apple";
        case 0x1010: return "Imagination";
        case 0x10005: return "Mesa";
        default: return "vendor 0x" + [&] { char b[16]; std::snprintf(b, sizeof b, "%X", id); return std::string(b); }();
    }
}

DeviceType to_device_type(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceType::discrete_gpu;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return DeviceType::integrated_gpu;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceType::virtual_gpu;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return DeviceType::cpu;
        default: return DeviceType::other;
    }
}

}  // namespace

bool has_device_extension(VkPhysicalDevice physical, const char* name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, exts.data());
    return std::any_of(exts.begin(), exts.end(), [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

namespace {

void probe_memory(VkPhysicalDevice physical, DeviceInfo& info) {
    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(physical, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info.device_local_bytes = std::max<uint64_t>(info.device_local_bytes, mem.memoryHeaps[h].size);
    const VkMemoryPropertyFlags both = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t t = 0; t < mem.memoryTypeCount; ++t)
        if ((mem.memoryTypes[t].propertyFlags & both) == both) info.host_visible_device_memory = true;
}

// Compute units from the vendor extensions that report them, else the CPU's threads or an estimate
// by device type (Intel, Apple, Qualcomm and Imagination expose no count).
void probe_compute_units(VkPhysicalDevice physical, uint32_t api_version, DeviceInfo& info) {
    if (info.type == DeviceType::cpu) {
        // lavapipe runs workgroups on LP_NUM_THREADS threads (default: every hardware thread).
        const char* env = std::getenv("LP_NUM_THREADS");
        const long threads = env && *env ? std::strtol(env, nullptr, 10) : static_cast<long>(std::thread::hardware_concurrency());
        info.compute_units = static_cast<uint32_t>(std::clamp<long>(threads, 1, 1024));
        info.compute_units_source = "CPU threads";
        return;
    }
    info.compute_units = info.type == DeviceType::discrete_gpu ? 64 : info.type == DeviceType::integrated_gpu ? 16 : 8;
    info.compute_units_source = "estimate";
    if (api_version < VK_API_VERSION_1_1) return;
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
    VkPhysicalDeviceShaderCorePropertiesAMD amd{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
    VkPhysicalDeviceShaderCoreProperties2AMD amd2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_2_AMD};
    VkPhysicalDeviceShaderCoreBuiltinsPropertiesARM arm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_BUILTINS_PROPERTIES_ARM};
    const bool has_nv = has_device_extension(physical, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
    const bool has_amd = has_device_extension(physical, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
    const bool has_amd2 = has_device_extension(physical, VK_AMD_SHADER_CORE_PROPERTIES_2_EXTENSION_NAME);
    const bool has_arm = has_device_extension(physical, VK_ARM_SHADER_CORE_BUILTINS_EXTENSION_NAME);
    if (!has_nv && !has_amd && !has_amd2 && !has_arm) return;
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    void** tail = &props2.pNext;
    if (has_nv) { *tail = &nv; tail = &nv.pNext; }
    if (has_amd) { *tail = &amd; tail = &amd.pNext; }
    if (has_amd2) { *tail = &amd2; tail = &amd2.pNext; }
    if (has_arm) { *tail = &arm; tail = &arm.pNext; }
    vkGetPhysicalDeviceProperties2(physical, &props2);
    const auto take = [&](uint64_t n, const char* source) {
        if (n == 0 || n > 65536) return false;
        info.compute_units = static_cast<uint32_t>(n);
        info.compute_units_source = source;
        return true;
    };
    if (has_nv && take(nv.shaderSMCount, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) return;
    if (has_amd2 && take(amd2.activeComputeUnitCount, VK_AMD_SHADER_CORE_PROPERTIES_2_EXTENSION_NAME)) return;
    if (has_amd && take(uint64_t{amd.shaderEngineCount} * amd.shaderArraysPerEngineCount * amd.computeUnitsPerShaderArray,
                        VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME))
        return;
    if (has_arm) take(arm.shaderCoreCount, VK_ARM_SHADER_CORE_BUILTINS_EXTENSION_NAME);
}

int type_rank(DeviceType t) {
    switch (t) {
        case DeviceType::discrete_gpu: return 0;
        case DeviceType::integrated_gpu: return 1;
        case DeviceType::virtual_gpu: return 2;
        case DeviceType::cpu: return 3;
        default: return 4;
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

uint32_t find_compute_queue_family(VkPhysicalDevice physical) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, nullptr);
    std::vector<VkQueueFamilyProperties> fams(n);
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, fams.data());
    uint32_t any = UINT32_MAX;
    for (uint32_t i = 0; i < n; ++i) {
        if (!(fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        // Prefer a queue that also does graphics only when nothing else exists: dedicated compute
        // queues are what async-compute hardware schedules best.
        if (!(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return i;
        if (any == UINT32_MAX) any = i;
    }
    return any;
}

DeviceInfo probe_device(VkPhysicalDevice physical, uint32_t index) {
    DeviceInfo info;
    info.index = index;

    VkPhysicalDeviceProperties base{};
    vkGetPhysicalDeviceProperties(physical, &base);
    info.api_version = base.apiVersion;
    const bool v12 = base.apiVersion >= VK_API_VERSION_1_2, v13 = base.apiVersion >= VK_API_VERSION_1_3;

    VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties size_ctl{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceMaintenance4Properties maint4{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props2.pNext = &subgroup;
    const bool has_driver_props = v12 || has_device_extension(physical, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    const bool has_size_ctl = v13 || has_device_extension(physical, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    void** tail = &subgroup.pNext;
    if (has_driver_props) { *tail = &driver; tail = &driver.pNext; }
    if (has_size_ctl) { *tail = &size_ctl; tail = &size_ctl.pNext; }
    if (v13) { *tail = &maint4; tail = &maint4.pNext; }
    if (base.apiVersion >= VK_API_VERSION_1_1) vkGetPhysicalDeviceProperties2(physical, &props2);

    const VkPhysicalDeviceLimits& lim = base.limits;
    info.name = base.deviceName;
    info.vendor_id = base.vendorID;
    info.vendor = vendor_name(base.vendorID);
    info.device_id = base.deviceID;
    info.type = to_device_type(base.deviceType);
    info.driver_version = base.driverVersion;
    std::memcpy(info.pipeline_cache_uuid.data(), base.pipelineCacheUUID, VK_UUID_SIZE);
    if (has_driver_props) {
        info.driver_name = driver.driverName;
        info.driver_info = driver.driverInfo;
    }
    info.subgroup_size = std::max(1u, subgroup.subgroupSize);
    const bool compute_subgroups = subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
    info.subgroup_basic = compute_subgroups && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
    info.subgroup_arithmetic = compute_subgroups && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    info.subgroup_shuffle = compute_subgroups && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    bool size_ctl_feature = false;

    if (base.apiVersion >= VK_API_VERSION_1_1) {
        VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
        VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        VkPhysicalDeviceSubgroupSizeControlFeatures size_ctl_feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
        feats.pNext = &storage16;
        void** feat_tail = &storage16.pNext;
        if (v12 || has_device_extension(physical, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME)) {
            *feat_tail = &f16;
            feat_tail = &f16.pNext;
        }
        if (has_size_ctl) *feat_tail = &size_ctl_feats;
        vkGetPhysicalDeviceFeatures2(physical, &feats);
        size_ctl_feature = has_size_ctl && size_ctl_feats.subgroupSizeControl;
        info.compute_full_subgroups = has_size_ctl && size_ctl_feats.computeFullSubgroups;
        info.storage_16bit = storage16.storageBuffer16BitAccess;
        info.fp16_arithmetic = f16.shaderFloat16;
    }
    info.cooperative_matrix_nv = has_device_extension(physical, "VK_NV_cooperative_matrix");
    // Forcing a subgroup size on compute pipelines needs the feature and compute among the stages.
    if (size_ctl_feature && (size_ctl.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT)) {
        info.subgroup_size_control = true;
        info.min_subgroup_size = size_ctl.minSubgroupSize;
        info.max_subgroup_size = size_ctl.maxSubgroupSize;
        info.max_workgroup_subgroups = size_ctl.maxComputeWorkgroupSubgroups;
    }

    info.shared_memory_bytes = lim.maxComputeSharedMemorySize;
    info.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; ++i) {
        info.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
        info.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
    }
    info.max_storage_buffer_range = lim.maxStorageBufferRange;
    // Without maintenance4 there is no stated limit; 2 GiB is what every implementation allows.
    info.max_buffer_size = v13 ? maint4.maxBufferSize : (uint64_t{1} << 31);
    info.min_storage_offset_alignment = lim.minStorageBufferOffsetAlignment;
    info.min_uniform_offset_alignment = lim.minUniformBufferOffsetAlignment;
    probe_memory(physical, info);
    probe_compute_units(physical, base.apiVersion, info);

    const uint32_t family = find_compute_queue_family(physical);
    if (family != UINT32_MAX) {
        uint32_t n = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, nullptr);
        std::vector<VkQueueFamilyProperties> fams(n);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, fams.data());
        info.timestamps = fams[family].timestampValidBits > 0 && lim.timestampPeriod > 0;
        info.timestamp_period_ns = lim.timestampPeriod;
    }

    if (base.apiVersion < VK_API_VERSION_1_1) {
        info.usable = false;
        info.unusable_reason = "supports only Vulkan 1.0 (vkattn needs 1.1+)";
    } else if (family == UINT32_MAX) {
        info.usable = false;
        info.unusable_reason = "has no compute queue";
    }
    return info;
}

DeviceSelector effective_selector(const DeviceSelector& selector) {
    if (selector.ignore_environment) return selector;
    const char* env = std::getenv("VKATTN_DEVICE");
    if (!env || !*env) return selector;
    DeviceSelector s = DeviceSelector::parse(env);
    s.ignore_environment = true;
    return s;
}

void choose_devices(std::vector<DeviceChoice>& choices, const DeviceSelector& requested) {
    const DeviceSelector sel = effective_selector(requested);
    int best = -1;
    for (std::size_t i = 0; i < choices.size(); ++i) {
        DeviceChoice& c = choices[i];
        const DeviceInfo& d = c.info;
        if (!d.usable) { c.reason = "unusable: " + d.unusable_reason; continue; }
        if (sel.index && *sel.index != d.index) { c.reason = "not selected: index is not " + std::to_string(*sel.index); continue; }
        if (!sel.name_contains.empty() && lower(d.name).find(lower(sel.name_contains)) == std::string::npos) {
            c.reason = "not selected: name does not contain '" + sel.name_contains + "'";
            continue;
        }
        if (sel.type && *sel.type != d.type) {
            c.reason = std::string("not selected: type is ") + to_string(d.type) + ", not " + to_string(*sel.type);
            continue;
        }
        if (best < 0 || type_rank(d.type) < type_rank(choices[best].info.type)) best = static_cast<int>(i);
    }
    for (std::size_t i = 0; i < choices.size(); ++i) {
        DeviceChoice& c = choices[i];
        if (static_cast<int>(i) == best) {
            c.selected = true;
            c.reason = sel.empty() ? std::string("selected: best type (discrete > integrated > virtual > cpu)")
                                   : std::string("selected: matches the requested device");
        } else if (c.reason.empty()) {
            c.reason = std::string("not selected: ") + to_string(choices[best].info.type) + " device " +
                       std::to_string(choices[best].info.index) + " ranks higher or comes first";
        }
    }
}

uint32_t chosen_index(const std::vector<DeviceChoice>& choices, const DeviceSelector& selector) {
    for (const auto& c : choices)
        if (c.selected) return c.info.index;
    const DeviceSelector sel = effective_selector(selector);
    std::string msg = "device: no Vulkan device matches";
    if (sel.index) msg += " index " + std::to_string(*sel.index);
    if (!sel.name_contains.empty()) msg += " name '" + sel.name_contains + "'";
    if (sel.type) msg += std::string(" type ") + to_string(*sel.type);
    if (choices.empty()) msg += " (no Vulkan devices at all; install mesa-vulkan-drivers for lavapipe)";
    for (const auto& c : choices) msg += "; [" + std::to_string(c.info.index) + "] " + c.info.name + ": " + c.reason;
    throw Error(ErrorCode::no_device, msg);
}

}  // namespace vkattn::detail
