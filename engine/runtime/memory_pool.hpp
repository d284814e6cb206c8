#pragma once
// Device memory sub-allocation: buffers take ranges of a few large VkDeviceMemory blocks instead of
// one vkAllocateMemory each, so that an operation repeated in a steady state allocates nothing
// (issue 12). Debian ships no Vulkan memory allocator, hence this small one: per memory type a list
// of blocks, best-fit inside each block, a dedicated allocation for large requests, one empty block
// kept per type. No defragmentation: ranges never move. See docs/architecture.md, "Device memory".
#include <vulkan/vulkan.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/vk_handles.hpp"

namespace vkattn::detail {

/// The free space of one block of `size` bytes: which byte ranges are handed out and which are
/// free. Pure bookkeeping, no Vulkan. Best fit: of the free ranges that can hold the request (after
/// aligning its start), the shortest, lowest offset first on ties. Best fit keeps long free ranges
/// whole for the large tensors (attention scratch, KV caches) while the many small buffers
/// (parameters, staging for a few rows) fill the gaps; its linear scan is over the free ranges of
/// one block, a handful in practice. Released ranges merge with free neighbours, so a block whose
/// allocations are all released is one free range again.
class BlockSpace {
public:
    explicit BlockSpace(uint64_t size);

    /// The offset of `size` bytes aligned to `alignment` (a power of two), or nullopt when no free
    /// range can hold them. Throws Error (internal) for a zero size or an alignment that is not a
    /// power of two.
    std::optional<uint64_t> allocate(uint64_t size, uint64_t alignment);
    /// Frees what allocate returned: exactly that offset and size. Anything else (a double free, a
    /// range of another block, a size that differs) throws Error (internal) and changes nothing.
    void release(uint64_t offset, uint64_t size);

    bool empty() const { return allocated_.empty(); }    ///< nothing handed out
    uint64_t size() const { return size_; }
    uint64_t free_bytes() const { return free_bytes_; }  ///< alignment gaps included
    uint64_t largest_free_range() const;
    std::size_t free_range_count() const { return free_.size(); }
    std::size_t allocation_count() const { return allocated_.size(); }

private:
    uint64_t size_;
    uint64_t free_bytes_;
    std::map<uint64_t, uint64_t> free_;       // offset -> length; disjoint and never adjacent (merged)
    std::map<uint64_t, uint64_t> allocated_;  // offset -> length of every range handed out
};

/// The preferred block size for a memory type on a heap of `heap_size` bytes. The rule, from probed
/// properties only: a sixteenth of the heap, rounded down to a power of two, within [16 MiB, 256 MiB]
/// (256 MiB bounds what an idle context holds; 16 MiB keeps the allocation count low on small heaps);
/// never more than an eighth of the heap (a 64 MiB heap gets 8 MiB blocks), nor more than the
/// device's maxMemoryAllocationSize; at least 64 KiB.
VkDeviceSize preferred_block_size(VkDeviceSize heap_size, VkDeviceSize max_allocation_size);

class MemoryPool;
struct MemoryBlock;

/// A range of pooled device memory; gives it back to its pool when destroyed (or reset). Move-only.
class PoolAllocation {
public:
    PoolAllocation() = default;
    ~PoolAllocation() { reset(); }
    PoolAllocation(PoolAllocation&& o) noexcept;
    PoolAllocation& operator=(PoolAllocation&& o) noexcept;
    PoolAllocation(const PoolAllocation&) = delete;
    PoolAllocation& operator=(const PoolAllocation&) = delete;

    void reset() noexcept;
    explicit operator bool() const { return block_ != nullptr; }
    VkDeviceMemory memory() const;
    VkDeviceSize offset() const { return offset_; }
    VkDeviceSize size() const { return size_; }
    uint32_t memory_type() const;
    /// The host address of the range (the block's one mapping plus the offset), or nullptr when the
    /// memory is not host visible.
    void* mapped() const;
    /// The range has a VkDeviceMemory of its own (a large request, or a block that could not be had).
    bool dedicated() const;

private:
    friend class MemoryPool;
    MemoryPool* pool_ = nullptr;
    MemoryBlock* block_ = nullptr;
    VkDeviceSize offset_ = 0;
    VkDeviceSize size_ = 0;
};

/// One VkDeviceMemory of the pool, mapped once (whole) when host visible. `space` is absent for a
/// dedicated allocation, which holds exactly one range.
struct MemoryBlock {
    VkDevice device = VK_NULL_HANDLE;
    UniqueMemory memory;
    uint32_t type = 0;
    VkDeviceSize size = 0;
    void* mapped = nullptr;
    std::optional<BlockSpace> space;

    MemoryBlock() = default;
    MemoryBlock(const MemoryBlock&) = delete;
    MemoryBlock& operator=(const MemoryBlock&) = delete;
    ~MemoryBlock() {
        if (mapped) vkUnmapMemory(device, memory.get());
    }
};

/// The device memory of one context: per memory type, the blocks buffers are bound into. Thread-safe
/// (buffers are released from whatever thread drops the last reference to them). Destroyed before the
/// device (ContextState's member order), after every buffer (each holds the context state); it frees
/// every block it still holds.
class MemoryPool {
public:
    /// `vk_allocations` counts each successful vkAllocateMemory (Context::stats().memory_allocations).
    MemoryPool(VkDevice device, VkPhysicalDevice physical, const VkPhysicalDeviceMemoryProperties& properties,
               std::atomic<uint64_t>& vk_allocations);
    MemoryPool(const MemoryPool&) = delete;
    MemoryPool& operator=(const MemoryPool&) = delete;
    ~MemoryPool();

    /// A range for `requirements` in memory type `type` (one of requirements.memoryTypeBits), in `out`.
    /// Returns VK_SUCCESS, or the result of the vkAllocateMemory that failed (the caller turns it
    /// into its error, as for any Vulkan call). Throws Error for a failed vkMapMemory of a new block.
    VkResult allocate(const VkMemoryRequirements& requirements, uint32_t type, PoolAllocation& out);

    /// What the rules chose for `type` (tests and docs state them).
    VkDeviceSize preferred_block_size(uint32_t type) const { return preferred_block_size_.at(type); }
    /// Requests larger than this get a VkDeviceMemory of their own: half the preferred block size.
    VkDeviceSize dedicated_threshold(uint32_t type) const { return preferred_block_size_.at(type) / 2; }
    /// Blocks of `type` held now, dedicated allocations left out.
    std::size_t block_count(uint32_t type) const;
    /// Dedicated allocations held now, all types together.
    std::size_t dedicated_count() const;

private:
    friend class PoolAllocation;
    void release(PoolAllocation& allocation) noexcept;
    /// vkAllocateMemory (+ the one vkMapMemory when host visible) of `bytes` in `type`; nullptr and
    /// `result` set when the allocation fails.
    std::unique_ptr<MemoryBlock> new_memory(uint32_t type, VkDeviceSize bytes, VkResult& result);
    /// The size of the next block of `type` for a request of `bytes`: blocks start at an eighth of
    /// the preferred size and double with each block held, so a small context holds little.
    VkDeviceSize next_block_size(uint32_t type, VkDeviceSize bytes) const;

    VkDevice device_;
    VkPhysicalDeviceMemoryProperties properties_;
    std::atomic<uint64_t>& vk_allocations_;
    std::array<VkDeviceSize, VK_MAX_MEMORY_TYPES> preferred_block_size_{};
    mutable std::mutex mutex_;  // guards blocks_ and dedicated_, and every block's space
    std::array<std::vector<std::unique_ptr<MemoryBlock>>, VK_MAX_MEMORY_TYPES> blocks_;
    std::vector<std::unique_ptr<MemoryBlock>> dedicated_;
};

}  // namespace vkattn::detail
