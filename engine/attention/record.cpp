// Recorded operations (vkattn/embedding.hpp): the Workspace, the workspace sizes, and attention and KV
// cache appends recorded into the application's command buffer.
#include <algorithm>

#include "attention/call_target.hpp"
#include "attention/kv_cache_access.hpp"
#include "layers/layer_calls.hpp"
#include "layers/matmul_engine.hpp"
#include "runtime/access.hpp"
#include "runtime/recording.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

struct Workspace::State : detail::WorkspaceState {};

struct WorkspaceAccess {
    static std::shared_ptr<Workspace::State> make(Context& ctx, Tensor storage) {
        auto ws = std::make_shared<Workspace::State>();
        ws->owner = detail::state_of(ctx).shared_from_this();
        ws->storage = std::move(storage);
        ws->resources = std::make_unique<detail::RecordingResources>(*ws->owner);
        return ws;
    }
    static detail::WorkspaceState& state(Workspace& w) {
        if (!w.state_) throw Error(ErrorCode::invalid_argument, "workspace: moved from");
        return *w.state_;
    }
};

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

// What every recorded operation refuses before planning: no command buffer, a foreign workspace, no
// options.out (nothing new can be returned), and timing (the caller's command buffer is not timed).
void check_recordable(Context& ctx, VkCommandBuffer cmd, detail::WorkspaceState& ws, bool has_out, bool measure_time, const char* op) {
    const std::string what(op);
    if (cmd == VK_NULL_HANDLE) fail("cmd: " + what + " needs a command buffer in the recording state; got VK_NULL_HANDLE");
    if (ws.owner.get() != &detail::state_of(ctx)) fail("workspace: belongs to another Context");
    if (!has_out) fail("out: " + what + " writes into options.out, which is required (e.g. wrap_buffer of the application's output buffer)");
    if (measure_time) fail("measure_time: " + what + " cannot time the caller's command buffer (write timestamps around it)");
}

void check_attention_recordable(Context& ctx, VkCommandBuffer cmd, detail::WorkspaceState& ws, const AttentionOptions& o, const char* op) {
    check_recordable(ctx, cmd, ws, o.out.has_value(), o.measure_time, op);
    if (o.return_lse) fail("return_lse: " + std::string(op) + " returns no lse (it is for the synchronous call)");
    if (o.return_weights) fail("return_weights: " + std::string(op) + " returns no weights (use attention_full)");
}

// Runs `call` (a layer's *_call) through a record target of `workspace`, after check_recordable.
template <class Call>
auto record_with(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, bool has_out, bool measure_time, const char* op, Call&& call) {
    detail::WorkspaceState& ws = WorkspaceAccess::state(workspace);
    check_recordable(ctx, cmd, ws, has_out, measure_time, op);
    detail::RecordTarget target(cmd, ws, op);
    return call(target);
}

// The workspace bytes `call` would carve: planned through a sizing target, nothing allocated or compiled.
template <class Call>
VkDeviceSize size_with(Context& ctx, Call&& call) {
    detail::PlanningOnly planning(detail::state_of(ctx));
    detail::SizingTarget target;
    call(target);
    return target.bytes();
}

AttentionResult record_in(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const Tensor& k, const Tensor& v,
                          const AttentionOptions& o, const char* op) {
    detail::WorkspaceState& ws = WorkspaceAccess::state(workspace);
    check_attention_recordable(ctx, cmd, ws, o, op);
    detail::RecordTarget target(cmd, ws, op);
    return detail::attention_call(ctx, q, k, v, o, target);
}

VkDeviceSize size_in(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
    AttentionOptions checked = o;
    checked.return_lse = checked.return_weights = checked.measure_time = false;  // refused when recording anyway
    return size_with(ctx, [&](detail::CallTarget& t) { detail::attention_call(ctx, q, k, v, checked, t); });
}

}  // namespace

Workspace::Workspace(Context& ctx, VkDeviceSize bytes)
    : state_(WorkspaceAccess::make(ctx, ctx.empty({static_cast<int64_t>(std::max<VkDeviceSize>(bytes, 16))}, DType::u8))) {}

Workspace::Workspace(Context& ctx, const Tensor& storage) {
    if (!storage.defined()) fail("storage: tensor is empty");
    if (detail::buffer_of(storage)->owner.get() != &detail::state_of(ctx)) fail("storage: tensor belongs to another Context");
    if (!storage.is_contiguous()) fail("storage: must be contiguous");
    if (dtype_is_quantized(storage.dtype())) fail("storage: a block-format (" + std::string(dtype_name(storage.dtype())) + ") tensor cannot be a workspace");
    const VkDeviceSize es = dtype_size(storage.dtype());
    const VkDeviceSize first = static_cast<VkDeviceSize>(storage.offset()) * es, bytes = static_cast<VkDeviceSize>(storage.numel()) * es;
    const VkDeviceSize align = detail::workspace_alignment(ctx.device());
    if (first % align != 0)
        fail("storage: starts at byte " + std::to_string(first) + ", not a multiple of " + std::to_string(align) +
             " (the device's minStorageBufferOffsetAlignment, at least 16)");
    if (bytes < 16) fail("storage: holds " + std::to_string(bytes) + " bytes; a workspace needs at least 16");
    state_ = WorkspaceAccess::make(ctx, TensorAccess::make_view(detail::buffer_of(storage), {static_cast<int64_t>(bytes)}, {1},
                                                         static_cast<int64_t>(first), DType::u8));
}

Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

VkDeviceSize Workspace::size() const { return state_ ? static_cast<VkDeviceSize>(state_->storage.numel()) : 0; }
void Workspace::reset() {
    if (state_) state_->resources->reset();
}
VkDeviceSize Workspace::parameter_bytes() const { return state_ ? state_->resources->ring_bytes() : 0; }

VkDeviceSize attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
    return size_in(ctx, q, k, v, o);
}

VkDeviceSize attention_workspace_size(Context& ctx, const Shape& q, const Shape& k, const Shape& v, DType dtype,
                                      const AttentionOptions& o) {
    const auto check = [&](const Shape& s, const char* name) {
        for (int64_t d : s)
            if (d < 1) fail(std::string(name) + ": shape " + to_string(s) + " must have positive dimensions");
        if (s.size() != 4) fail(std::string(name) + ": shape " + to_string(s) + " must have 4 dimensions");
    };
    check(q, "q");
    check(k, "k");
    check(v, "v");
    return size_in(ctx, detail::stand_in(ctx, q, dtype), detail::stand_in(ctx, k, dtype), detail::stand_in(ctx, v, dtype), o);
}

AttentionResult record_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const AttentionOptions& o) {
    return record_in(ctx, cmd, workspace, q, k, v, o, "record_attention");
}

VkDeviceSize attend_workspace_size(Context& ctx, const Tensor& q, const KvCache& cache, const AttentionOptions& o) {
    return size_in(ctx, q, cache.keys(), cache.values(), KvCacheAccess::attend_options(ctx, q, cache, o));
}

AttentionResult record_attend(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const KvCache& cache,
                              const AttentionOptions& o) {
    return record_in(ctx, cmd, workspace, q, cache.keys(), cache.values(), KvCacheAccess::attend_options(ctx, q, cache, o),
                     "record_attend");
}

void record_append(Context& ctx, VkCommandBuffer cmd, KvCache& cache, const Tensor& k_new, const Tensor& v_new,
                   std::span<const int32_t> counts) {
    if (cmd == VK_NULL_HANDLE) fail("cmd: record_append needs a command buffer in the recording state; got VK_NULL_HANDLE");
    detail::ContextState& st = detail::state_of(ctx);
    if (detail::buffer_of(cache.keys())->owner.get() != &st) fail("cache: belongs to another Context");
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    KvCacheAccess::require_copyable(cache, "record_append");
    KvCacheAccess::AppendPlan plan = KvCacheAccess::plan_append(cache, k_new, v_new, counts);
    KvCacheAccess::record_copies(cmd, cache, k_new, v_new, plan);
    // The copies' writes, visible to the attention that reads the cache next.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    KvCacheAccess::commit(cache, plan);
}

// The layers, recorded and sized: the same code paths as the synchronous calls (layers/layer_calls.hpp).

VkDeviceSize matmul_workspace_size(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias,
                                   const MatmulOptions& o) {
    MatmulOptions checked = o;
    checked.measure_time = false;
    return size_with(ctx, [&](detail::CallTarget& t) { detail::matmul_call(ctx, a, w, bias, checked, t); });
}

MatmulResult record_matmul(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& a, const Tensor& w,
                           const std::optional<Tensor>& bias, const MatmulOptions& o) {
    return record_with(ctx, cmd, workspace, o.out.has_value(), o.measure_time, "record_matmul",
                       [&](detail::CallTarget& t) { return detail::matmul_call(ctx, a, w, bias, o, t); });
}

VkDeviceSize linear_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                             const LinearAttentionOptions& o) {
    LinearAttentionOptions checked = o;
    checked.measure_time = false;
    return size_with(ctx, [&](detail::CallTarget& t) { detail::linear_call(ctx, q, k, v, checked, t); });
}

LinearAttentionResult record_linear_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q,
                                              const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
    return record_with(ctx, cmd, workspace, o.out.has_value(), o.measure_time, "record_linear_attention",
                       [&](detail::CallTarget& t) { return detail::linear_call(ctx, q, k, v, o, t); });
}

VkDeviceSize additive_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                               const AdditiveWeights& weights, const AdditiveOptions& o) {
    AdditiveOptions checked = o;
    checked.return_lse = checked.return_weights = checked.measure_time = false;
    return size_with(ctx, [&](detail::CallTarget& t) { detail::additive_call(ctx, q, k, v, weights, checked, t); });
}

AttentionResult record_additive_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const Tensor& k,
                                          const Tensor& v, const AdditiveWeights& weights, const AdditiveOptions& o) {
    detail::WorkspaceState& ws = WorkspaceAccess::state(workspace);
    check_attention_recordable(ctx, cmd, ws, o, "record_additive_attention");
    detail::RecordTarget target(cmd, ws, "record_additive_attention");
    return detail::additive_call(ctx, q, k, v, weights, o, target);
}

VkDeviceSize luong_general_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                                    const AttentionOptions& o) {
    AttentionOptions checked = o;
    checked.return_lse = checked.return_weights = checked.measure_time = false;
    return size_with(ctx, [&](detail::CallTarget& t) { detail::luong_call(ctx, q, k, v, w, checked, t); });
}

AttentionResult record_luong_general_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q,
                                               const Tensor& k, const Tensor& v, const Tensor& w, const AttentionOptions& o) {
    detail::WorkspaceState& ws = WorkspaceAccess::state(workspace);
    check_attention_recordable(ctx, cmd, ws, o, "record_luong_general_attention");
    detail::RecordTarget target(cmd, ws, "record_luong_general_attention");
    return detail::luong_call(ctx, q, k, v, w, o, target);
}

VkDeviceSize multi_head_attention_workspace_size(Context& ctx, const MhaWeights& weights, const Tensor& x_q,
                                                 const std::optional<Tensor>& x_k, const std::optional<Tensor>& x_v,
                                                 const MhaOptions& o) {
    MhaOptions checked = o;
    checked.need_weights = checked.measure_time = false;
    return size_with(ctx, [&](detail::CallTarget& t) { detail::mha_call(ctx, weights, x_q, x_k, x_v, checked, t, false); });
}

MhaResult record_multi_head_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const MhaWeights& weights,
                                      const Tensor& x_q, const std::optional<Tensor>& x_k, const std::optional<Tensor>& x_v,
                                      const MhaOptions& o) {
    if (o.need_weights) fail("need_weights: record_multi_head_attention returns no weights (use multi_head_attention)");
    return record_with(ctx, cmd, workspace, o.out.has_value(), o.measure_time, "record_multi_head_attention",
                       [&](detail::CallTarget& t) { return detail::mha_call(ctx, weights, x_q, x_k, x_v, o, t, false); });
}

}  // namespace vkattn
