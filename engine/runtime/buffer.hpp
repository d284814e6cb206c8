#pragma once
// A device buffer bound to a range of the context's pooled device memory (memory_pool.hpp); mapped
// when the memory is host visible.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>

#include "runtime/memory_pool.hpp"
#include "runtime/vk_handles.hpp"

namespace vkattn::detail {

struct ContextState;

enum class MemoryKind {
    device,   ///< device local; host visible too where the device shares memory with the host
    staging,  ///< host visible and coherent, for transfers and parameters
};

struct DeviceBuffer {
    // Declared first so it is destroyed last: the device must outlive its buffers.
    std::shared_ptr<ContextState> owner;
    // Before `buffer`, so the VkBuffer is destroyed before its range goes back to the pool (and can
    // be bound to another buffer). Empty for an application's buffer.
    PoolAllocation memory;
    UniqueBuffer buffer;
    VkDeviceSize size = 0;
    /// The buffer's memory requirement: its share of the pool's memory, counted in object_counters'
    /// device bytes and the owner's memory_in_use (0 for an application's buffer).
    VkDeviceSize memory_bytes = 0;
    void* mapped = nullptr;  ///< non-null when host visible: the block's mapping at the buffer's offset
    /// What the buffer may be used for: everything for vkattn's own buffers; for an application's
    /// buffer (wrap_buffer, docs/embedding.md) what the application says it was created with.
    VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bool application_owned() const { return !buffer.owned(); }

    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer();
};

/// Creates a buffer of `bytes` (at least 4) usable as storage, uniform and transfer source/target.
std::shared_ptr<DeviceBuffer> create_buffer(const std::shared_ptr<ContextState>& state, VkDeviceSize bytes,
                                            MemoryKind kind);

}  // namespace vkattn::detail
