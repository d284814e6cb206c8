// Additive (Bahdanau) and Luong-general attention: projections by the matmul engine, then either the
// additive score kernel (shaders/layers/additive_attention.comp) or the dot-product engine.
#include "runtime/access.hpp"
#include "vkattn/additive.hpp"

#include <algorithm>

#include "layers/additive_plan.hpp"
#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "attention/call_target.hpp"
#include "attention/chunking.hpp"
#include "layers/layer_calls.hpp"
#include "layers/matmul_engine.hpp"
#include "runtime/convert.hpp"
#include "vkattn/error.hpp"
#include "vkattn/matmul.hpp"

namespace vkattn {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }

void check_input(Context& ctx, const Tensor& t, const char* name, const char* layout) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
    if (t.rank() != 4) fail(std::string(name) + ": expected rank 4 " + layout + ", got shape " + to_string(t.shape()));
}

void check_param(Context& ctx, const Tensor& t, const char* name, const Shape& s, DType dt) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
    if (t.shape() != s) fail(std::string(name) + ": shape " + to_string(t.shape()) + " must be " + to_string(s));
    if (t.dtype() != dt)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " does not match q's " + std::string(dtype_name(dt)));
}

}  // namespace

namespace detail {

AttentionResult additive_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& w,
                              const AdditiveOptions& o, CallTarget& target) {
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    check_input(ctx, q, "q", "[B, H, Lq, Dq]");
    check_input(ctx, k, "k", "[B, Hkv, Lk, Dk]");
    check_input(ctx, v, "v", "[B, Hkv, Lk, Dv]");
    if (q.dtype() != DType::f32 && q.dtype() != DType::f16)
        fail("q: dtype " + std::string(dtype_name(q.dtype())) + " is not supported (f32 or f16)");
    if (!w.w_q.defined() || w.w_q.rank() != 2)
        fail("w_q: expected rank 2 [A, Dq], got " + (w.w_q.defined() ? to_string(w.w_q.shape()) : std::string("an empty tensor")));
    const int64_t A = w.w_q.dim(0);
    check_param(ctx, w.w_q, "w_q", {A, q.dim(3)}, q.dtype());
    check_param(ctx, w.w_k, "w_k", {A, k.dim(3)}, q.dtype());
    check_param(ctx, w.v_a, "v_a", {A}, q.dtype());
    if (w.bias) check_param(ctx, *w.bias, "bias", {A}, q.dtype());
    if (o.path == Path::fused && o.return_weights)
        fail("return_weights: additive attention returns weights from its second pass; leave path automatic");
    // The kernel walks A and Dv in chunks at run time (shaders/layers/additive_attention.comp), so this is not a
    // kernel capacity: it is the engine's head-dim maximum, checked here to name the argument.
    if (A > kAdditiveMaxWidth)
        throw Error(ErrorCode::unsupported, "w_q: attention width A = " + std::to_string(A) + " exceeds the supported maximum " +
                                                std::to_string(kAdditiveMaxWidth));
    if (v.dim(3) > kAdditiveMaxWidth)
        throw Error(ErrorCode::unsupported, "v: value width Dv = " + std::to_string(v.dim(3)) + " exceeds the supported maximum " +
                                                std::to_string(kAdditiveMaxWidth));
    if (w.v_a.strides()[0] != 1) fail("v_a: must be contiguous (stride 1)");

    // Projections: qp = q W_qᵀ [B, H, Lq, A], kp = k W_kᵀ + b [B, Hkv, Lk, A], in q's dtype.
    const auto project = [&](const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, const char* name) {
        MatmulOptions mo;
        mo.out = target.temporary(ctx, {x.dim(0), x.dim(1), x.dim(2), weight.dim(0)}, x.dtype(), name);
        mo.measure_time = o.measure_time;
        return matmul_call(ctx, x, weight, bias, mo, target);
    };
    const MatmulResult rq = project(q, w.w_q, std::nullopt, "q projection");
    const MatmulResult rk = project(k, w.w_k, w.bias, "k projection");
    AttentionOptions vo = o;
    vo.scale = 1.0f;
    vo.path = Path::automatic;
    const AttentionProblem p = validate_attention(ctx, rq.out, rk.out, v, vo);  // batches, heads, masks, key_lengths, out

    const DeviceInfo& dev = st.info;
    const AdditiveConfig cfg = choose_additive_config(dev);
    if (has_loop_iteration_limit(dev) && p.Lk / cfg.keys > 60000)
        throw Error(ErrorCode::unsupported, "k: " + std::to_string(p.Lk) + " keys exceed this device's shader loop iteration limit");
    const int64_t slices = p.B * p.Hq;
    const int64_t row_groups = (p.Lq + cfg.rows_per_group() - 1) / cfg.rows_per_group();
    if (row_groups > dev.max_workgroup_count[0] || slices > dev.max_workgroup_count[1])
        throw Error(ErrorCode::unsupported, "q: " + std::to_string(slices) + " slices x " + std::to_string(p.Lq) + " rows exceed the device's workgroup counts");

    AttentionResult result;
    result.path = Path::fused;
    result.variant = "additive." + std::string(dtype_name(p.dtype)) + cfg.name() + " + " + rq.variant;
    result.dispatches = rq.dispatches + rk.dispatches;
    const bool need_lse = o.return_lse || o.return_weights;
    const Shape out_shape = {p.B, p.Hq, p.Lq, p.Dv};
    // f32 output: the result itself (options.out, else new); f16: f32 rows packed at the end.
    const Tensor out32 = p.out_dtype == DType::f16 ? target.temporary(ctx, out_shape, DType::f32, "out")
                         : o.out                   ? *o.out
                                                   : target.result(ctx, out_shape, DType::f32, "out");
    const Tensor lse = o.return_lse ? target.result(ctx, {p.B, p.Hq, p.Lq}, DType::f32, "lse")
                       : need_lse   ? target.temporary(ctx, {p.B, p.Hq, p.Lq}, DType::f32, "lse")
                                    : Tensor();
    if (o.return_weights) result.weights = target.result(ctx, {p.B, p.Hq, p.Lq, p.Lk}, DType::f32, "weights");
    const bool key_lengths = !o.key_lengths.empty();  // go with the parameters (host_words)

    const auto bind = [&](const Tensor& t, const char* name, int32_t& offset) {
        int64_t hi = t.offset();
        for (int i = 0; i < t.rank(); ++i) hi += (t.dim(i) - 1) * t.strides()[static_cast<std::size_t>(i)];
        int64_t base = 0;
        const BoundRange r = bind_elements(st, *detail::buffer_of(t), dtype_size(t.dtype()), t.offset(), hi, name, base);
        offset = static_cast<int32_t>(t.offset() - base);
        return r;
    };
    const auto s4 = [](const Tensor& t) {
        const Strides& s = t.strides();
        return std::array<int32_t, 4>{int32_t(s[0]), int32_t(s[1]), int32_t(s[2]), int32_t(s[3])};
    };
    KernelParams kp;
    kp.dims0 = {int32_t(p.B), int32_t(p.Hq), int32_t(p.Hkv), int32_t(p.Lq)};
    kp.dims1 = {int32_t(p.Lk), int32_t(p.D), int32_t(p.Dv), int32_t(p.Hq / p.Hkv)};
    kp.q_stride = s4(rq.out);
    kp.k_stride = s4(rk.out);
    kp.v_stride = s4(v);
    kp.o_stride = s4(out32);
    kp.m_stride = {int32_t(p.mask_strides.empty() ? 0 : p.mask_strides[0]), int32_t(p.mask_strides.empty() ? 0 : p.mask_strides[1]),
                   int32_t(p.mask_strides.empty() ? 0 : p.mask_strides[2]), int32_t(p.mask_strides.empty() ? 0 : p.mask_strides[3])};
    kp.flags = {static_cast<int32_t>(o.causal), p.mask_kind, (key_lengths ? 1 : 0) | (need_lse ? 2 : 0), 0};
    kp.scalars = {1.4426950408889634f, 1.4426950408889634f, 1.0f, 0};
    Dispatch d;
    d.pipeline = st.pipeline(p.dtype == DType::f16 ? "additive_attention_f16" : "additive_attention_f32", {cfg.rows, cfg.keys, cfg.chunk, p.mask_kind ? 1 : 0, cfg.rows_per_invocation});
    d.bindings[kQ] = bind(rq.out, "q", kp.offsets0[0]);
    d.bindings[kK] = bind(rk.out, "k", kp.offsets0[1]);
    d.bindings[kV] = bind(v, "v", kp.offsets0[2]);
    d.bindings[kOut] = bind(out32, "out", kp.offsets0[3]);
    if (o.mask) {
        int64_t hi = o.mask->offset(), base = 0;
        for (int i = 0; i < o.mask->rank(); ++i) hi += (o.mask->dim(i) - 1) * o.mask->strides()[static_cast<std::size_t>(i)];
        d.bindings[kMask] = bind_elements(st, *detail::buffer_of(*o.mask), dtype_size(o.mask->dtype()), o.mask->offset(), hi, "mask", base);
        kp.offsets1[0] = static_cast<int32_t>(o.mask->offset() - base);
    }
    d.bindings[kKeyLengths].host_words = key_lengths;
    if (need_lse) d.bindings[kLse] = bind(lse, "lse", kp.offsets1[1]);
    d.bindings[kAux] = bind(w.v_a, "v_a", kp.offsets1[3]);  // v_a read from element offsets1.w of its binding
    d.params = kp;
    d.groups = {static_cast<uint32_t>(row_groups), static_cast<uint32_t>(slices), 1};
    std::vector<Dispatch> ds = {d};
    if (o.return_weights) {
        Dispatch dw = d;
        dw.params.flags[3] = 1;
        dw.bindings[kP] = bind(*result.weights, "weights", dw.params.offsets1[2]);
        ds.push_back(dw);
    }
    if (p.out_dtype == DType::f16) {
        result.out = o.out ? *o.out : target.result(ctx, out_shape, DType::f16, "out");
        append_convert(st, chunk_limits(dev, 1, dev.max_workgroup_count[0]), out32, result.out, result.out.offset(), out32.numel(), ds);
    } else {
        result.out = out32;
    }
    if (o.return_lse) result.lse = lse;
    result.dispatches += static_cast<uint32_t>(ds.size());
    result.gpu_milliseconds = target.finish(st, ds, o.key_lengths, o.measure_time);
    if (o.measure_time && rq.gpu_milliseconds >= 0 && result.gpu_milliseconds >= 0)
        result.gpu_milliseconds += rq.gpu_milliseconds + rk.gpu_milliseconds;
    return result;
}

AttentionResult luong_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w, const AttentionOptions& o,
                           CallTarget& target) {
    std::lock_guard lock(detail::state_of(ctx).mutex);
    check_input(ctx, q, "q", "[B, H, Lq, Dq]");
    check_input(ctx, k, "k", "[B, Hkv, Lk, Dk]");
    if (!w.defined() || w.rank() != 2) fail("w: expected rank 2 [Dq, Dk], got " + (w.defined() ? to_string(w.shape()) : std::string("an empty tensor")));
    check_param(ctx, w, "w", {q.dim(3), k.dim(3)}, q.dtype());
    MatmulOptions mo;  // (W k_j) for every key: [B, Hkv, Lk, Dq]
    mo.out = target.temporary(ctx, {k.dim(0), k.dim(1), k.dim(2), w.dim(0)}, k.dtype(), "k projection");
    mo.measure_time = o.measure_time;
    const MatmulResult rk = matmul_call(ctx, k, w, std::nullopt, mo, target);
    AttentionOptions ao = o;
    if (!ao.scale) ao.scale = 1.0f;
    AttentionResult r = attention_call(ctx, q, rk.out, v, ao, target);
    r.variant = rk.variant + " + " + r.variant;
    r.dispatches += rk.dispatches;
    if (r.gpu_milliseconds >= 0 && rk.gpu_milliseconds >= 0) r.gpu_milliseconds += rk.gpu_milliseconds;
    return r;
}

}  // namespace detail

AttentionResult additive_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& w,
                                   const AdditiveOptions& o) {
    detail::SyncTarget target;
    return detail::additive_call(ctx, q, k, v, w, o, target);
}

AttentionResult luong_general_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                        const AttentionOptions& o) {
    detail::SyncTarget target;
    return detail::luong_call(ctx, q, k, v, w, o, target);
}

}  // namespace vkattn
