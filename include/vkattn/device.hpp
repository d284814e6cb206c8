#pragma once
/// \file device.hpp
/// Vulkan device discovery, capabilities and selection.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vkattn {

/// Kind of physical device, in the order the default selection prefers them.
enum class DeviceType { discrete_gpu, integrated_gpu, virtual_gpu, cpu, other };

/// "discrete", "integrated", "virtual", "cpu", "other".
const char* to_string(DeviceType t) noexcept;

/// Everything the engine probed about one physical device and that kernels depend on.
struct DeviceInfo {
    uint32_t index = 0;                 ///< position in vkEnumeratePhysicalDevices
    std::string name;                   ///< e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
    uint32_t vendor_id = 0;             ///< PCI vendor id (0x10DE NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x10005 Mesa)
    std::string vendor;                 ///< vendor name derived from vendor_id
    uint32_t device_id = 0;
    DeviceType type = DeviceType::other;
    uint32_t api_version = 0;           ///< VK_MAKE_API_VERSION encoded
    std::string driver_name;            ///< VkPhysicalDeviceDriverProperties::driverName
    std::string driver_info;            ///< VkPhysicalDeviceDriverProperties::driverInfo
    uint32_t driver_version = 0;
    std::array<uint8_t, 16> pipeline_cache_uuid{};

    uint32_t subgroup_size = 1;         ///< lanes per subgroup (8 on lavapipe, 32 NVIDIA, 32/64 AMD, 8-32 Intel)
    bool subgroup_basic = false;        ///< VK_SUBGROUP_FEATURE_BASIC in compute
    bool subgroup_arithmetic = false;   ///< VK_SUBGROUP_FEATURE_ARITHMETIC in compute
    bool subgroup_shuffle = false;      ///< VK_SUBGROUP_FEATURE_SHUFFLE in compute
    /// A compute pipeline can require a subgroup size (VK_EXT_subgroup_size_control / Vulkan 1.3:
    /// the subgroupSizeControl feature, compute in requiredSubgroupSizeStages).
    bool subgroup_size_control = false;
    uint32_t min_subgroup_size = 0, max_subgroup_size = 0;
    uint32_t max_workgroup_subgroups = 0; ///< maxComputeWorkgroupSubgroups (0: not reported)
    /// A compute pipeline can require full subgroups (computeFullSubgroups, Vulkan 1.3 or
    /// VK_EXT_subgroup_size_control), so that a kernel may rely on consecutive invocations sharing one.
    bool compute_full_subgroups = false;
    bool fp16_arithmetic = false;       ///< shaderFloat16
    bool storage_16bit = false;         ///< storageBuffer16BitAccess
    bool cooperative_matrix_nv = false; ///< VK_NV_cooperative_matrix exposed
    /// Compute units that run workgroups side by side (SMs, CUs, shader cores, CPU threads); the
    /// split-KV planner sizes its grid from it. See compute_units_source for where it came from.
    uint32_t compute_units = 1;
    /// "VK_NV_shader_sm_builtins", "VK_AMD_shader_core_properties2", "VK_AMD_shader_core_properties",
    /// "VK_ARM_shader_core_builtins", "CPU threads" (CPU devices: LP_NUM_THREADS, else the host's
    /// hardware threads) or "estimate" (no extension reports it: 64 discrete, 16 integrated, 8 other).
    std::string compute_units_source = "estimate";

    uint32_t shared_memory_bytes = 0;   ///< maxComputeSharedMemorySize
    uint32_t max_workgroup_invocations = 0;
    std::array<uint32_t, 3> max_workgroup_size{};
    std::array<uint32_t, 3> max_workgroup_count{};
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_buffer_size = 0;       ///< maxBufferSize (Vulkan 1.3) or a conservative guess
    uint64_t min_storage_offset_alignment = 0;
    uint64_t min_uniform_offset_alignment = 0;
    uint64_t device_local_bytes = 0;    ///< size of the largest device-local heap
    bool host_visible_device_memory = false; ///< a memory type that is both (UMA / ReBAR / CPU)
    bool timestamps = false;            ///< compute queue supports timestamps
    float timestamp_period_ns = 0;

    /// The limits profile applied (include/vkattn/profile.hpp): "desktop" for the probed values.
    std::string profile = "desktop";

    bool usable = true;                 ///< meets vkattn's minimum (Vulkan 1.1+, compute queue)
    std::string unusable_reason;        ///< why not, when !usable
};

/// How to choose a device. An empty selector means the default rule:
/// discrete > integrated > virtual > CPU, first in enumeration order on ties.
/// The VKATTN_DEVICE environment variable, when set, overrides the selector:
/// a number is an index, "discrete|integrated|virtual|cpu" a type, anything else a name substring.
struct DeviceSelector {
    std::optional<uint32_t> index;      ///< exact index
    std::string name_contains;          ///< case-insensitive substring of the device name
    std::optional<DeviceType> type;     ///< device type
    bool ignore_environment = false;    ///< do not read VKATTN_DEVICE

    /// Parses the CLI / VKATTN_DEVICE form described above.
    static DeviceSelector parse(const std::string& text);
    bool empty() const { return !index && name_contains.empty() && !type; }
};

/// One device and whether the selector chose it, with the reason when it did not.
struct DeviceChoice {
    DeviceInfo info;
    bool selected = false;
    std::string reason;  ///< "selected: ..." or why it was passed over
};

/// Enumerates every Vulkan device and applies `selector` (reading VKATTN_DEVICE unless told not to).
/// Throws Error(no_device) only when no Vulkan implementation is present at all.
std::vector<DeviceChoice> enumerate_devices(const DeviceSelector& selector = {});

}  // namespace vkattn
