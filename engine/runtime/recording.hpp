#pragma once
// Recording dispatches into a command buffer without per-call allocation: parameters and host words go
// into a host-visible ring, descriptor sets come from a pool that is reset, not recreated, once the
// work recorded with it is done. The synchronous calls use the context's own resources; a recorded
// operation (vkattn/embedding.hpp) uses its Workspace's; a Batch uses one set per submission.
#include <vulkan/vulkan.h>

#include <memory>
#include <span>
#include <vector>

#include "runtime/buffer.hpp"
#include "runtime/context_state.hpp"
#include "runtime/vk_handles.hpp"

namespace vkattn::detail {

/// Host-visible memory and descriptor sets for recorded work. Grows during warm-up (a bigger ring or
/// pool replaces the old one, which is kept until reset because recorded commands may still use it);
/// after reset() the largest one is reused, so a steady state allocates and creates nothing.
class RecordingResources {
public:
    explicit RecordingResources(ContextState& st) : st_(st) {}
    RecordingResources(const RecordingResources&) = delete;
    RecordingResources& operator=(const RecordingResources&) = delete;

    /// Creates the first ring and pool now (they are otherwise made at the first use).
    void prepare();

    /// Every command buffer recorded with these resources has completed (or was never submitted):
    /// rewinds the ring and resets the pool.
    void reset();

    /// `bytes` of the ring at `alignment`: where to write them, and the range to bind.
    struct HostSlice {
        void* data = nullptr;
        BoundRange range;
    };
    HostSlice host(VkDeviceSize bytes, VkDeviceSize alignment);

    /// `count` descriptor sets of the context's layout.
    void descriptor_sets(uint32_t count, VkDescriptorSet* out);

    /// Bytes of ring and descriptor sets reserved now (for tests and the bench).
    VkDeviceSize ring_bytes() const { return ring_ ? ring_->size : 0; }
    uint32_t pool_capacity() const { return pool_capacity_; }

private:
    ContextState& st_;
    std::shared_ptr<DeviceBuffer> ring_;
    VkDeviceSize ring_used_ = 0;
    std::vector<std::shared_ptr<DeviceBuffer>> retired_rings_;
    UniqueDescriptorPool pool_;
    uint32_t pool_capacity_ = 0, pool_used_ = 0;
    std::vector<UniqueDescriptorPool> retired_pools_;
};

/// Records `dispatches` into `cmd` in order, with a compute-to-compute barrier between consecutive
/// ones: each dispatch's parameters and `words` (bound where a dispatch's binding says host_words)
/// are written into `res`'s ring now, so `cmd` must be submitted before `res` is reset.
void record_dispatches(ContextState& st, VkCommandBuffer cmd, const std::vector<Dispatch>& dispatches,
                       std::span<const int32_t> words, RecordingResources& res);

/// The barrier between two dispatches (and the one a recorded operation starts with): compute-shader
/// writes before it, visible to compute-shader reads and writes after it.
void record_compute_barrier(VkCommandBuffer cmd);

/// Compute and transfer writes before it visible to compute and transfer reads and writes after it (and
/// those reads done before the writes after it): between the operations of a batch.
void record_compute_transfer_barrier(VkCommandBuffer cmd);
/// The first command of each of vkattn's own submissions (record_compute_transfer_barrier): orders it after the previous ones (a fence
/// wait makes their device writes available but not visible to later device accesses, and WAR/WAW
/// needs the execution dependency; a barrier's first scope covers everything earlier in submission order).
void record_after_earlier_submissions(VkCommandBuffer cmd);
/// The last: every device write available to the host before the fence wait returns.
void record_visible_to_host(VkCommandBuffer cmd);

}  // namespace vkattn::detail
