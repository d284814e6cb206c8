#include "runtime/memory_pool.hpp"

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

[[noreturn]] void internal(const std::string& what) { throw Error(ErrorCode::vulkan_error, "internal: memory pool: " + what); }

std::string range_text(uint64_t offset, uint64_t size) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...).
    std::string text = "[";
    text.append(std::to_string(offset)).append(", ").append(std::to_string(offset + size)).append(")");
    return text;
}

constexpr VkDeviceSize kMiB = VkDeviceSize{1} << 20;

}  // namespace

// ---------------------------------------------------------------------------------------------
// BlockSpace

BlockSpace::BlockSpace(uint64_t size) : size_(size), free_bytes_(size) {
    if (size == 0) internal("a block of 0 bytes");
    free_.emplace(0, size);
}

std::optional<uint64_t> BlockSpace::allocate(uint64_t size, uint64_t alignment) {
    if (size == 0) internal("an allocation of 0 bytes");
    if (alignment == 0 || !std::has_single_bit(alignment)) internal("alignment " + std::to_string(alignment) + " is not a power of two");
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        const auto [start, length] = *it;
        const uint64_t padding = (alignment - start % alignment) % alignment;
        if (padding >= length || length - padding < size) continue;
        if (best == free_.end() || length < best->second) best = it;  // ties: the lower offset, seen first
        if (length == size) break;  // an exact fit cannot be beaten
    }
    if (best == free_.end()) return std::nullopt;
    const auto [start, length] = *best;
    const uint64_t offset = start + (alignment - start % alignment) % alignment;
    const uint64_t tail = start + length - (offset + size);
    auto hint = free_.erase(best);
    // What the range leaves on either side stays free: the alignment gap before it, the rest after.
    if (tail > 0) hint = free_.emplace_hint(hint, offset + size, tail);
    if (offset > start) free_.emplace_hint(hint, start, offset - start);
    allocated_.emplace(offset, size);
    free_bytes_ -= size;
    return offset;
}

void BlockSpace::release(uint64_t offset, uint64_t size) {
    const auto live = allocated_.find(offset);
    if (live == allocated_.end() || live->second != size)
        internal("release of " + range_text(offset, size) + ", which is not a range handed out by this block of " +
                 std::to_string(size_) + " bytes (a double free or another block's range)");
    allocated_.erase(live);
    free_bytes_ += size;
    uint64_t start = offset, length = size;
    // Merge with the free range right after, then with the one right before.
    auto next = free_.lower_bound(offset);
    if (next != free_.end() && next->first == offset + size) {
        length += next->second;
        next = free_.erase(next);
    }
    if (next != free_.begin()) {
        const auto prev = std::prev(next);
        if (prev->first + prev->second == offset) {
            prev->second += length;
            return;
        }
    }
    free_.emplace_hint(next, start, length);
}

uint64_t BlockSpace::largest_free_range() const {
    uint64_t largest = 0;
    for (const auto& [start, length] : free_) largest = std::max(largest, length);
    return largest;
}

VkDeviceSize preferred_block_size(VkDeviceSize heap_size, VkDeviceSize max_allocation_size) {
    const auto floor_pow2 = [](VkDeviceSize v) { return v == 0 ? VkDeviceSize{0} : std::bit_floor(v); };
    VkDeviceSize size = std::clamp(floor_pow2(heap_size / 16), 16 * kMiB, 256 * kMiB);
    size = std::min(size, floor_pow2(heap_size / 8));
    size = std::min(size, floor_pow2(max_allocation_size));
    return std::max(size, VkDeviceSize{64} << 10);
}

// ---------------------------------------------------------------------------------------------
// PoolAllocation

PoolAllocation::PoolAllocation(PoolAllocation&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)), block_(std::exchange(o.block_, nullptr)), offset_(o.offset_), size_(o.size_) {}

PoolAllocation& PoolAllocation::operator=(PoolAllocation&& o) noexcept {
    if (this != &o) {
        reset();
        pool_ = std::exchange(o.pool_, nullptr);
        block_ = std::exchange(o.block_, nullptr);
        offset_ = o.offset_;
        size_ = o.size_;
    }
    return *this;
}

void PoolAllocation::reset() noexcept {
    if (block_) pool_->release(*this);
    pool_ = nullptr;
    block_ = nullptr;
    offset_ = size_ = 0;
}

VkDeviceMemory PoolAllocation::memory() const { return block_ ? block_->memory.get() : VK_NULL_HANDLE; }
void* PoolAllocation::mapped() const { return block_ && block_->mapped ? static_cast<char*>(block_->mapped) + offset_ : nullptr; }
uint32_t PoolAllocation::memory_type() const { return block_ ? block_->type : 0; }
bool PoolAllocation::dedicated() const { return block_ && !block_->space; }

// ---------------------------------------------------------------------------------------------
// MemoryPool

MemoryPool::MemoryPool(VkDevice device, VkPhysicalDevice physical, const VkPhysicalDeviceMemoryProperties& properties,
                       std::atomic<uint64_t>& vk_allocations)
    : device_(device), properties_(properties), vk_allocations_(vk_allocations) {
    // maxMemoryAllocationSize: core since Vulkan 1.1, the least vkattn runs on.
    VkPhysicalDeviceMaintenance3Properties maintenance3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 properties2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    properties2.pNext = &maintenance3;
    vkGetPhysicalDeviceProperties2(physical, &properties2);
    for (uint32_t t = 0; t < properties_.memoryTypeCount; ++t) {
        const VkDeviceSize heap = properties_.memoryHeaps[properties_.memoryTypes[t].heapIndex].size;
        // 0 would be a driver that left the limit out (the spec requires at least 1 GiB): no bound then.
        const VkDeviceSize most = maintenance3.maxMemoryAllocationSize ? maintenance3.maxMemoryAllocationSize : heap;
        preferred_block_size_[t] = detail::preferred_block_size(heap, most);
    }
}

// Every buffer holds the context state, which holds the pool, so no range is still handed out here;
// the blocks (spares, and the one the context's dummy buffer used) are freed with their mappings.
MemoryPool::~MemoryPool() = default;

std::unique_ptr<MemoryBlock> MemoryPool::new_memory(uint32_t type, VkDeviceSize bytes, VkResult& result) {
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = bytes;
    ai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    result = vkAllocateMemory(device_, &ai, nullptr, &memory);
    if (result != VK_SUCCESS) return nullptr;
    UniqueMemory owned(device_, memory);  // owned before anything else can throw
    ++vk_allocations_;
    auto block = std::make_unique<MemoryBlock>();
    block->device = device_;
    block->memory = std::move(owned);
    block->type = type;
    block->size = bytes;
    // Mapped once for the block's life: every range's host address is the block's plus its offset.
    if (properties_.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
        vk_check(vkMapMemory(device_, memory, 0, bytes, 0, &block->mapped), "vkMapMemory");
    return block;
}

VkDeviceSize MemoryPool::next_block_size(uint32_t type, VkDeviceSize bytes) const {
    const VkDeviceSize preferred = preferred_block_size_[type];
    const std::size_t held = std::min<std::size_t>(blocks_[type].size(), 3);
    VkDeviceSize size = preferred >> (3 - held);
    while (size < bytes) size *= 2;  // bytes <= preferred / 2: a smaller request is never dedicated
    return size;
}

VkResult MemoryPool::allocate(const VkMemoryRequirements& requirements, uint32_t type, PoolAllocation& out) {
    if (type >= properties_.memoryTypeCount || !(requirements.memoryTypeBits & (1u << type)))
        internal("memory type " + std::to_string(type) + " does not fit the requirements");
    const VkDeviceSize bytes = requirements.size;
    const VkDeviceSize alignment = std::max<VkDeviceSize>(requirements.alignment, 1);
    out.reset();  // before the lock: giving back what `out` held takes it too
    std::lock_guard lock(mutex_);
    const auto hand_out = [&](MemoryBlock* block, VkDeviceSize offset) {
        out.pool_ = this;
        out.block_ = block;
        out.offset_ = offset;
        out.size_ = bytes;
        return VK_SUCCESS;
    };
    const auto dedicated = [&]() -> VkResult {
        VkResult r = VK_SUCCESS;
        auto block = new_memory(type, bytes, r);
        if (!block) return r;
        dedicated_.push_back(std::move(block));
        return hand_out(dedicated_.back().get(), 0);
    };
    if (bytes > dedicated_threshold(type)) return dedicated();
    for (const auto& block : blocks_[type])
        if (const auto offset = block->space->allocate(bytes, alignment)) return hand_out(block.get(), *offset);

    VkResult r = VK_SUCCESS;
    const VkDeviceSize size = next_block_size(type, bytes);
    auto block = new_memory(type, size, r);
    // Near the end of the heap a whole block may not fit where this request would: the request gets
    // exactly its own size then, as it would have without the pool, rather than failing.
    if (!block) return r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY ? dedicated() : r;
    block->space.emplace(size);
    const auto offset = block->space->allocate(bytes, alignment);  // offset 0: aligned for any alignment
    if (!offset) internal("a new block of " + std::to_string(size) + " bytes cannot hold " + std::to_string(bytes));
    blocks_[type].push_back(std::move(block));
    return hand_out(blocks_[type].back().get(), *offset);
}

void MemoryPool::release(PoolAllocation& allocation) noexcept {
    std::lock_guard lock(mutex_);
    MemoryBlock* block = allocation.block_;
    if (!block->space) {
        std::erase_if(dedicated_, [&](const auto& b) { return b.get() == block; });
        return;
    }
    try {
        block->space->release(allocation.offset_, allocation.size_);
    } catch (const Error&) {
        // Cannot happen: a PoolAllocation releases exactly what it was handed, once. Keeping the
        // range allocated (leaked until the context goes) is the safe way out of a destructor.
        return;
    }
    if (!block->space->empty()) return;
    // One empty block per type stays as a spare, so that allocating and freeing around a block
    // boundary does not allocate and free device memory each time; of two empty blocks the larger
    // one stays.
    auto& blocks = blocks_[block->type];
    const auto spare = std::find_if(blocks.begin(), blocks.end(), [&](const auto& b) { return b.get() != block && b->space->empty(); });
    if (spare == blocks.end()) return;
    MemoryBlock* drop = (*spare)->size < block->size ? spare->get() : block;
    std::erase_if(blocks, [&](const auto& b) { return b.get() == drop; });
}

std::size_t MemoryPool::block_count(uint32_t type) const {
    std::lock_guard lock(mutex_);
    return blocks_.at(type).size();
}

std::size_t MemoryPool::dedicated_count() const {
    std::lock_guard lock(mutex_);
    return dedicated_.size();
}

}  // namespace vkattn::detail
