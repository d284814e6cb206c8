#pragma once
// The seams the reliability tests drive, inert for users. Fault sites: every Vulkan call that can fail
// asks `fault::inject(site)` first; while no site is armed that is one relaxed atomic increment and
// one load, and the real call runs. Live-object counts: the RAII owners (vk_handles.hpp), the buffer
// allocator and the command-buffer recorder count what they create and destroy. Test switches: what
// only tests turn on (poisoned allocations, forced staging, no tuned tiles). The control side (arming
// sites, VKATTN_FAULT, snapshots, the switches) is the testing library's: engine/testing/, linked by
// the tests and the vkattn program, not by users. See docs/testing_hooks.md.
#include <vulkan/vulkan.h>

#include <array>
#include <atomic>
#include <cstdint>

namespace vkattn::detail {
namespace fault {

enum class Site {
    alloc,     ///< vkAllocateMemory                     (default VK_ERROR_OUT_OF_DEVICE_MEMORY)
    buffer,    ///< vkCreateBuffer                       (default VK_ERROR_OUT_OF_DEVICE_MEMORY)
    map,       ///< vkMapMemory                          (default VK_ERROR_MEMORY_MAP_FAILED)
    shader,    ///< vkCreateShaderModule                 (default VK_ERROR_OUT_OF_HOST_MEMORY)
    pipeline,  ///< vkCreateComputePipelines             (default VK_ERROR_INITIALIZATION_FAILED)
    dpool,     ///< vkCreateDescriptorPool               (default VK_ERROR_OUT_OF_DEVICE_MEMORY)
    dset,      ///< vkAllocateDescriptorSets             (default VK_ERROR_OUT_OF_POOL_MEMORY)
    cmdbuf,    ///< vkAllocateCommandBuffers             (default VK_ERROR_OUT_OF_HOST_MEMORY)
    submit,    ///< vkQueueSubmit                        (default VK_ERROR_OUT_OF_DEVICE_MEMORY)
    lost,      ///< vkWaitForFences after a submission   (default VK_ERROR_DEVICE_LOST; the real wait still runs)
    /// What a Context creates once (default VK_ERROR_OUT_OF_HOST_MEMORY): vkCreateInstance, the debug
    /// messenger, vkCreateDevice, the command pool, fence, descriptor-set and pipeline layouts, query pool.
    init,
    cache,     ///< vkCreatePipelineCache                (default VK_ERROR_OUT_OF_HOST_MEMORY)
};
inline constexpr std::size_t kSiteCount = static_cast<std::size_t>(Site::cache) + 1;
inline constexpr std::array<Site, kSiteCount> kAllSites = {Site::alloc,  Site::buffer, Site::map,    Site::shader,
                                                           Site::pipeline, Site::dpool, Site::dset,  Site::cmdbuf,
                                                           Site::submit, Site::lost,   Site::init,   Site::cache};

/// Counts a call at `site` and returns the failure to report instead of the real call's result, or
/// VK_SUCCESS (the common case).
VkResult inject(Site site);

/// `inject(site)`, or else the real call's result.
template <typename Call>
VkResult inject_or(Site site, Call&& call) {
    const VkResult r = inject(site);
    return r != VK_SUCCESS ? r : call();
}

/// What one site keeps; the testing library arms it (engine/testing/fault_injection.hpp).
struct SiteState {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> fail_at{0};  // 0: not armed; else the value of `calls` that fails
    std::atomic<int> result{VK_SUCCESS};
};
SiteState& site_state(Site site) noexcept;
/// False while no site is armed: inject's fast path.
std::atomic<bool>& any_armed() noexcept;
/// Faults injected so far in this process, all sites together.
std::atomic<uint64_t>& injected_count() noexcept;

}  // namespace fault

enum class ObjectKind {
    instance,
    device,
    buffer,
    memory,
    shader_module,
    pipeline,
    pipeline_layout,
    pipeline_cache,
    descriptor_set_layout,
    descriptor_pool,
    command_pool,
    command_buffer,
    fence,
    query_pool,
};
inline constexpr std::size_t kObjectKindCount = static_cast<std::size_t>(ObjectKind::query_pool) + 1;

/// Called by the owners when an object is created or destroyed.
void count_object(ObjectKind kind, int delta) noexcept;
/// Called by the allocator when device memory is allocated (positive) or freed (negative).
void count_device_bytes(int64_t delta) noexcept;
/// The counts now (engine/testing/object_counters.hpp takes snapshots of them).
int64_t object_count(ObjectKind kind) noexcept;
int64_t device_bytes_count() noexcept;

/// What only tests turn on (engine/testing/test_switches.hpp sets them); all off for users.
struct TestSwitches {
    bool use_tuned_tiles = true;      ///< plan with `vkattn tune`'s cached winners when there are any
    bool force_staging = false;       ///< copy through staging even where device memory is host visible
    bool poison_allocations = false;  ///< fill every new tensor with NaN bits before use
};
/// The switches a Context takes when it is created (process-wide; default: all off).
TestSwitches default_test_switches() noexcept;
void set_default_test_switches(const TestSwitches& switches) noexcept;

}  // namespace vkattn::detail
