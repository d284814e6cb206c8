#include "runtime/buffer.hpp"

#include "runtime/context_state.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

// The range goes back to the pool with `memory`, after `buffer` is destroyed (member order); the
// block's mapping stays with the block.
DeviceBuffer::~DeviceBuffer() {
    count_device_bytes(-static_cast<int64_t>(memory_bytes));
    if (owner) owner->note_release(memory_bytes);
}

std::shared_ptr<DeviceBuffer> create_buffer(const std::shared_ptr<ContextState>& state, VkDeviceSize bytes,
                                            MemoryKind kind) {
    state->ensure_alive();
    bytes = std::max<VkDeviceSize>(4, (bytes + 3) & ~VkDeviceSize{3});
    if (bytes > state->info.max_buffer_size)
        throw Error(ErrorCode::out_of_memory, "buffer of " + std::to_string(bytes) + " bytes exceeds the device's maxBufferSize (" +
                                                  std::to_string(state->info.max_buffer_size) + ")");
    VkDevice dev = state->device.get();
    auto buf = std::make_shared<DeviceBuffer>();
    buf->owner = state;
    buf->size = bytes;

    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = bytes;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer handle = VK_NULL_HANDLE;
    VkResult r = fault::inject(fault::Site::buffer);
    if (r == VK_SUCCESS) r = vkCreateBuffer(dev, &bi, nullptr, &handle);
    vk_check(r, "vkCreateBuffer");
    UniqueBuffer owned_buffer(dev, handle);

    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(dev, handle, &req);
    const uint32_t type = state->memory_type(req.memoryTypeBits, kind);
    // The fault seams fire once per buffer, as when each buffer had its own vkAllocateMemory and
    // vkMapMemory: tests count calls per site. The pool makes the real calls only for new blocks.
    r = fault::inject(fault::Site::alloc);
    if (r == VK_SUCCESS) r = state->memory_pool->allocate(req, type, buf->memory);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        throw Error(ErrorCode::out_of_memory, "vkAllocateMemory: allocating " + std::to_string(bytes) + " bytes of device memory failed (" +
                                                  vk_result_name(r) + ")");
    vk_check(r, "vkAllocateMemory");
    buf->memory_bytes = req.size;
    count_device_bytes(static_cast<int64_t>(req.size));
    state->note_allocation(req.size);
    vk_check(vkBindBufferMemory(dev, handle, buf->memory.memory(), buf->memory.offset()), "vkBindBufferMemory");
    buf->buffer = std::move(owned_buffer);

    const VkMemoryPropertyFlags flags = state->memory_properties.memoryTypes[type].propertyFlags;
    if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        r = fault::inject(fault::Site::map);
        vk_check(r, "vkMapMemory");
        buf->mapped = buf->memory.mapped();
    }
    return buf;
}

}  // namespace vkattn::detail
