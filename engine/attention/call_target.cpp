// The three call targets (call_target.hpp).
#include "attention/call_target.hpp"

#include "runtime/access.hpp"
#include "runtime/recording.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

namespace {
VkDeviceSize bytes_of(const Shape& shape, DType dtype) {
    VkDeviceSize n = dtype_size(dtype);
    for (int64_t d : shape) n *= static_cast<VkDeviceSize>(d);
    return n;
}

[[noreturn]] void no_new_results(const char* operation, const char* name) {
    if (std::string(name) == "out")
        throw Error(ErrorCode::invalid_argument, std::string("out: ") + operation +
                                                     " writes into options.out and returns no new tensor; give options.out "
                                                     "(e.g. wrap_buffer of the application's output buffer)");
    throw Error(ErrorCode::invalid_argument, std::string(name) + ": " + operation + " returns no " + name +
                                                 " (return_lse and return_weights are for the synchronous call)");
}
}  // namespace

VkDeviceSize workspace_alignment(const DeviceInfo& dev) { return std::max<VkDeviceSize>(dev.min_storage_offset_alignment, 16); }

BoundRange range_of(const Tensor& t) {
    const VkDeviceSize es = dtype_size(t.dtype());
    return {buffer_of(t)->buffer.get(), static_cast<VkDeviceSize>(t.offset()) * es, static_cast<VkDeviceSize>(t.numel()) * es};
}

Tensor SyncTarget::temporary(Context& ctx, const Shape& shape, DType dtype, const char*) { return ctx.empty(shape, dtype); }

Tensor SyncTarget::result(Context& ctx, const Shape& shape, DType dtype, const char* name) {
    // A result larger than the device can hold fails here, named (docs/bad_inputs.md).
    try {
        return ctx.empty(shape, dtype);
    } catch (const Error& e) {
        throw Error(e.code(), std::string(name) + ": the " + std::string(dtype_name(dtype)) + " result " + to_string(shape) +
                                  " does not fit: " + e.message());
    }
}

double SyncTarget::finish(ContextState& st, const std::vector<Dispatch>& dispatches, std::span<const int32_t> words, bool measure) {
    return st.run_dispatches(dispatches, measure, words);
}

WorkspaceState::~WorkspaceState() = default;

Tensor RecordTarget::temporary(Context& ctx, const Shape& shape, DType dtype, const char*) {
    carving_.alignment = workspace_alignment(ctx.device());
    const VkDeviceSize bytes = bytes_of(shape, dtype);
    const VkDeviceSize at = carving_.take(bytes);
    const VkDeviceSize have = static_cast<VkDeviceSize>(ws_.storage.numel());
    if (carving_.used > have)
        throw Error(ErrorCode::invalid_argument, "workspace: holds " + std::to_string(have) + " bytes, but " + operation_ +
                                                     "'s temporaries need at least " + std::to_string(carving_.used) +
                                                     "; size it with the matching *_workspace_size call");
    const VkDeviceSize first = static_cast<VkDeviceSize>(ws_.storage.offset()) + at;  // the storage is u8
    return TensorAccess::make_view(buffer_of(ws_.storage), shape, contiguous_strides(shape),
                                   static_cast<int64_t>(first / dtype_size(dtype)), dtype);
}

Tensor RecordTarget::result(Context&, const Shape&, DType, const char* name) { no_new_results(operation_, name); }

double RecordTarget::finish(ContextState& st, const std::vector<Dispatch>& dispatches, std::span<const int32_t> words, bool) {
    // Every recorded operation starts with one barrier: compute and transfer writes recorded before it
    // (the caller's passes that wrote the inputs, an earlier operation's use of this workspace, a KV
    // cache append) are visible to its shaders, and their reads finish before it overwrites anything.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_UNIFORM_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    record_dispatches(st, cmd_, dispatches, words, *ws_.resources);
    return -1;
}

// A stand-in buffer of exactly a view's size, never bound (SizingTarget::finish records nothing).
Tensor stand_in(Context& ctx, const Shape& shape, DType dtype) {
    auto buffer = std::make_shared<DeviceBuffer>();
    buffer->owner = state_of(ctx).shared_from_this();
    buffer->size = std::max<VkDeviceSize>(4, (bytes_of(shape, dtype) + 3) / 4 * 4);
    return TensorAccess::make(std::move(buffer), shape, dtype);
}

Tensor SizingTarget::temporary(Context& ctx, const Shape& shape, DType dtype, const char*) {
    carving_.alignment = workspace_alignment(ctx.device());
    carving_.take(bytes_of(shape, dtype));
    return stand_in(ctx, shape, dtype);
}

// The size does not depend on where the output goes: a call sized without options.out plans as if
// it had one (record_attention then requires it).
Tensor SizingTarget::result(Context& ctx, const Shape& shape, DType dtype, const char*) { return stand_in(ctx, shape, dtype); }

}  // namespace vkattn::detail
