// Tensors over an application's VkBuffer (docs/embedding.md): checked, never copied, never owned.
#include <string>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/error.hpp"

namespace vkattn {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw Error(ErrorCode::invalid_argument, "wrap_buffer: " + what); }

}  // namespace

Tensor wrap_buffer(Context& ctx, const ApplicationBuffer& app, VkDeviceSize byte_offset, const Shape& shape, DType dtype,
                   const Strides& strides) {
    detail::ContextState& st = detail::state_of(ctx);
    st.ensure_alive();
    if (app.buffer == VK_NULL_HANDLE) refuse("buffer.buffer is VK_NULL_HANDLE");
    if (!(app.usage & VK_BUFFER_USAGE_STORAGE_BUFFER_BIT))
        refuse("buffer.usage lacks VK_BUFFER_USAGE_STORAGE_BUFFER_BIT (vkattn's kernels bind tensors as storage buffers)");
    if (app.size == 0) refuse("buffer.size is 0");
    // A buffer's memory requirements are at least its size: a larger `size` cannot be the buffer's.
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(st.device.get(), app.buffer, &req);
    if (app.size > req.size)
        refuse("buffer.size " + std::to_string(app.size) + " is larger than the buffer can be (its memory requirements are " +
               std::to_string(req.size) + " bytes)");
    if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16 && dtype != DType::i32 && dtype != DType::u8)
        refuse("dtype is not one of f32, f16, bf16, i32, u8 (q8_0 / q4_0 blocks: upload_raw them, or append to a KvCache)");
    const VkDeviceSize es = dtype_size(dtype);
    if (byte_offset % es != 0)
        refuse("byte_offset " + std::to_string(byte_offset) + " is not a multiple of the " + std::string(dtype_name(dtype)) +
               " element size " + std::to_string(es) + " (vkattn aligns its bindings to the device itself; elements must not straddle)");
    if (byte_offset >= app.size)
        refuse("byte_offset " + std::to_string(byte_offset) + " is at or past the end of a buffer of " + std::to_string(app.size) + " bytes");
    if (shape.empty()) refuse("shape must have at least one dimension");
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] <= 0) refuse("dimension " + std::to_string(i) + " of shape " + to_string(shape) + " must be positive");
    const Strides st_strides = strides.empty() ? contiguous_strides(shape) : strides;
    if (st_strides.size() != shape.size())
        refuse("strides have " + std::to_string(st_strides.size()) + " entries for a shape of rank " + std::to_string(shape.size()));
    int64_t last = 0;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (st_strides[i] < 0) refuse("stride " + std::to_string(i) + " is negative");
        int64_t reach = 0;
        if (__builtin_mul_overflow(st_strides[i], shape[i] - 1, &reach) || __builtin_add_overflow(last, reach, &last))
            refuse("stride " + std::to_string(i) + " of shape " + to_string(shape) + " overflows the element index");
    }
    const VkDeviceSize need = byte_offset + (static_cast<VkDeviceSize>(last) + 1) * es;
    if (need > app.size)
        refuse("shape " + to_string(shape) + " of " + std::string(dtype_name(dtype)) + " with these strides needs bytes [" +
               std::to_string(byte_offset) + ", " + std::to_string(need) + ") but buffer.size is " + std::to_string(app.size));

    auto buffer = std::make_shared<detail::DeviceBuffer>();
    buffer->owner = st.shared_from_this();
    buffer->buffer = detail::UniqueBuffer::borrowed(app.buffer);
    buffer->size = app.size;
    buffer->usage = app.usage;
    return TensorAccess::make_view(std::move(buffer), shape, st_strides, static_cast<int64_t>(byte_offset / es), dtype);
}

}  // namespace vkattn
