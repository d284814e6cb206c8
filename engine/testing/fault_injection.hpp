#pragma once
// Test-only fault injection, compiled into the library and inert unless armed. Every call site of
// the Vulkan functions below asks `fault::inject(site)` first; when the site is armed for this call,
// the engine skips the real call (or, for `lost`, overrides its result) and handles the returned
// VkResult exactly as if the driver had returned it. Arm from a test with `fault::arm`, or from the
// environment with VKATTN_FAULT, e.g. VKATTN_FAULT=alloc:3 or VKATTN_FAULT=pipeline:1,submit:4
// (read once, at the first site reached). Counts are process-wide. See docs/faults.md.
#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <string>

namespace vkattn::detail::fault {

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

/// "alloc", "buffer", ... (the names VKATTN_FAULT uses).
const char* site_name(Site site) noexcept;
/// The VkResult an armed site returns unless arm() was given another.
VkResult default_result(Site site) noexcept;

/// Counts a call at `site` and returns the failure to report instead of the real call's result, or
/// VK_SUCCESS (the common case: one relaxed atomic increment and one load).
VkResult inject(Site site);

/// `inject(site)`, or else the real call's result.
template <typename Call>
VkResult inject_or(Site site, Call&& call) {
    const VkResult r = inject(site);
    return r != VK_SUCCESS ? r : call();
}

/// Makes the `nth` call (1-based) at `site` counted from now fail with `result`, once.
void arm(Site site, uint64_t nth, VkResult result);
inline void arm(Site site, uint64_t nth) { arm(site, nth, default_result(site)); }
/// Disarms every site.
void disarm() noexcept;
/// Calls counted at `site` since the process started (or the last reset_calls).
uint64_t calls(Site site) noexcept;
void reset_calls() noexcept;
/// Faults injected so far in this process, all sites together.
uint64_t injected() noexcept;

/// Parses a VKATTN_FAULT value ("alloc:3", "pipeline:1,submit:4") and arms it; throws
/// Error(invalid_argument) naming the bad entry. Exposed for tests; the library calls it itself.
void arm_from_spec(const std::string& spec);

}  // namespace vkattn::detail::fault
