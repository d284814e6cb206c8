// Linear attention on the device: validate, plan (linear_plan.cpp), then three passes over one binding
// of every tensor: linear_state (each chunk's Σ φ(k) vᵀ and Σ φ(k)), linear_prefix (exclusive prefix
// over chunks, plus the total) and linear_apply (each query row against its state, plus the causal
// intra-chunk term); f16 output is packed by the shared convert pass.
#include <string>

#include "runtime/access.hpp"
#include "attention/attention_problem.hpp"
#include "attention/call_tail.hpp"
#include "attention/chunking.hpp"
#include "runtime/context_state.hpp"
#include "runtime/convert.hpp"
#include "layers/layer_calls.hpp"
#include "layers/linear_plan.hpp"
#include "runtime/output_check.hpp"
#include "vkattn/error.hpp"
#include "vkattn/linear_attention.hpp"

namespace vkattn {
namespace detail {
namespace {

// The whole buffer of `t` as one binding; the kernels index it with int32 element indices.
BoundRange whole_binding(const Tensor& t, const char* name, const DeviceInfo& dev) {
    const DeviceBuffer& buf = *detail::buffer_of(t);
    const uint64_t elems = buf.size / dtype_size(t.dtype());
    if (buf.size > dev.max_storage_buffer_range || elems > static_cast<uint64_t>(INT32_MAX))
        throw Error(ErrorCode::unsupported, std::string(name) + ": its buffer (" + std::to_string(buf.size) +
                                                " bytes) exceeds one storage binding on this device (" +
                                                std::to_string(dev.max_storage_buffer_range) +
                                                " bytes, and 2^31 elements); linear attention binds each tensor whole");
    return {buf.buffer.get(), 0, VK_WHOLE_SIZE};
}

// Strides as int32; an extent-1 dimension's stride is never multiplied by a non-zero index, so it is 0.
std::array<int32_t, 4> strides_of(const Tensor& t) {
    std::array<int32_t, 4> s{};
    for (int i = 0; i < 4; ++i) s[i] = t.dim(i) == 1 ? 0 : static_cast<int32_t>(t.strides()[static_cast<std::size_t>(i)]);
    return s;
}

// The parameter block of shaders/layers/linear_common.glsl.
KernelParams linear_params(const LinearProblem& p, const LinearPlan& plan, const Tensor& q, const Tensor& k, const Tensor& v,
                           bool key_lengths) {
    KernelParams kp;
    kp.dims0 = {int32_t(p.B), int32_t(p.Hq), int32_t(p.Hkv), int32_t(p.Lq)};
    kp.dims1 = {int32_t(p.Lk), int32_t(p.D), int32_t(p.Dv), int32_t(p.Hq / p.Hkv)};
    kp.q_stride = strides_of(q);
    kp.k_stride = strides_of(k);
    kp.v_stride = strides_of(v);
    kp.o_stride = {int32_t(p.Hq * p.Lq * p.Dv), int32_t(p.Lq * p.Dv), int32_t(p.Dv), 1};
    kp.offsets0 = {int32_t(q.offset()), int32_t(k.offset()), int32_t(v.offset()), 0};
    kp.flags = {static_cast<int32_t>(p.causal), 0, key_lengths ? 1 : 0, int32_t(plan.cols)};
    kp.ext = {int32_t(plan.chunk), int32_t(plan.chunks), p.feature_map == FeatureMap::identity ? 0 : 1, int32_t(plan.pitch)};
    kp.ext_f = {kLinearAttentionEps, 0, 0, 0};
    return kp;
}

LinearProblem validate_linear(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
    // Shapes, dtypes, GQA, key lengths and out_dtype follow softmax attention's rules and messages.
    AttentionOptions ao;
    ao.causal = o.causal;
    ao.key_lengths = o.key_lengths;
    ao.out_dtype = o.out_dtype;
    const AttentionProblem ap = validate_attention(ctx, q, k, v, ao);
    if (o.feature_map != FeatureMap::elu_plus_one && o.feature_map != FeatureMap::identity)
        throw Error(ErrorCode::invalid_argument, "feature_map: " + std::to_string(static_cast<int>(o.feature_map)) +
                                                     " is not a FeatureMap (elu_plus_one or identity)");
    if (o.causal != Causal::none && o.causal != Causal::top_left && o.causal != Causal::bottom_right)
        throw Error(ErrorCode::invalid_argument, "causal: " + std::to_string(static_cast<int>(o.causal)) + " is not a Causal value");
    LinearProblem p;
    p.B = ap.B, p.Hq = ap.Hq, p.Hkv = ap.Hkv, p.Lq = ap.Lq, p.Lk = ap.Lk, p.D = ap.D, p.Dv = ap.Dv;
    p.dtype = ap.dtype;
    p.out_dtype = ap.out_dtype;
    p.feature_map = o.feature_map;
    p.causal = o.causal;
    return p;
}

}  // namespace

LinearAttentionResult linear_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o,
                                  CallTarget& target) {
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    const LinearProblem p = validate_linear(ctx, q, k, v, o);
    const DeviceInfo& dev = st.info;
    // Plan and check every binding before anything is allocated.
    const LinearPlan plan = plan_linear(dev, p);
    const BoundRange qb = whole_binding(q, "q", dev), kb = whole_binding(k, "k", dev), vb = whole_binding(v, "v", dev);
    if (static_cast<uint64_t>(p.B * p.Hq * p.Lq * p.Dv) * 4 > dev.max_storage_buffer_range || p.B * p.Hq * p.Lq * p.Dv > INT32_MAX)
        throw Error(ErrorCode::unsupported, "q: the f32 output of " + std::to_string(p.B * p.Hq * p.Lq) + " rows x " +
                                                std::to_string(p.Dv) + " exceeds one storage binding on this device");

    const Shape out_shape = {p.B, p.Hq, p.Lq, p.Dv};
    if (o.out)
        check_output(ctx, *o.out, "out", out_shape, "[B, Hq, Lq, Dv]", p.out_dtype, "out_dtype, else q's dtype",
                     {{&q, "q"}, {&k, "k"}, {&v, "v"}});

    LinearAttentionResult result;
    result.variant = linear_variant_name(plan, p);
    // f32 output: the result itself (options.out, else new); f16: f32 rows packed at the end.
    const Tensor out32 = p.out_dtype == DType::f16 ? target.temporary(ctx, out_shape, DType::f32, "out")
                         : o.out                   ? *o.out
                                                   : target.result(ctx, out_shape, DType::f32, "out");
    const BoundRange ob = whole_binding(out32, "out", dev);
    const Tensor states = target.temporary(ctx, {plan.state_floats}, DType::f32, "states");
    const bool lengths = !o.key_lengths.empty();  // go with the parameters (host_words)

    Dispatch base;
    base.params = linear_params(p, plan, q, k, v, lengths);
    base.params.o_stride = strides_of(out32);
    base.params.offsets0[3] = static_cast<int32_t>(out32.offset());
    base.bindings[kQ] = qb;
    base.bindings[kK] = kb;
    base.bindings[kV] = vb;
    base.bindings[kOut] = ob;
    base.bindings[kKeyLengths].host_words = lengths;
    base.bindings[kP] = range_of(states);

    const std::string suffix = p.dtype == DType::f16 ? "_f16" : "_f32";
    std::vector<Dispatch> dispatches;
    Dispatch d = base;
    d.pipeline = st.pipeline("linear_state" + suffix, {});
    d.groups = plan.state_groups;
    dispatches.push_back(d);
    d.pipeline = st.pipeline("linear_prefix", {});
    d.groups = plan.prefix_groups;
    dispatches.push_back(d);
    d.pipeline = st.pipeline("linear_apply" + suffix, {});
    d.groups = plan.apply_groups;
    dispatches.push_back(d);

    std::optional<Tensor> out16;
    if (p.out_dtype == DType::f16) out16 = o.out ? *o.out : target.result(ctx, out_shape, DType::f16, "out");
    finish_call(st, target, result, out32, out16, false, chunk_limits(dev, 1, dev.max_workgroup_count[0]), dispatches,
                o.key_lengths, o.measure_time);
    return result;
}

}  // namespace detail

LinearAttentionResult linear_attention_full(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                            const LinearAttentionOptions& o) {
    detail::SyncTarget target;
    return detail::linear_call(ctx, q, k, v, o, target);
}

Tensor linear_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
    return linear_attention_full(ctx, q, k, v, o).out;
}

}  // namespace vkattn
