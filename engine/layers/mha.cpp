// Multi-head attention layer: projections by the matmul engine, heads as strided views of the
// projection outputs (no copies), vkattn::attention_full per head, and the output projection reading
// the attention output's heads in place (one K segment per head).
#include "runtime/access.hpp"
#include "vkattn/mha.hpp"

#include "runtime/context_state.hpp"
#include "attention/call_target.hpp"
#include "layers/layer_calls.hpp"
#include "layers/matmul_engine.hpp"
#include "runtime/output_check.hpp"
#include "vkattn/error.hpp"
#include "vkattn/matmul.hpp"

namespace vkattn {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }

std::string dims(int64_t a, int64_t b) {
    std::string s = "[";
    s.append(std::to_string(a)).append(", ").append(std::to_string(b)).append("]");  // append: avoids GCC 12 false -Wrestrict
    return s;
}

void expect_shape(const Tensor& t, const Shape& s, const std::string& name) {
    if (t.shape() != s) fail(name + ": shape " + to_string(t.shape()) + " must be " + to_string(s));
}

// Rows [row0, row0 + rows) of a contiguous [R, C] matrix, or elements of a contiguous [R] vector, as a view.
Tensor rows_of(const Tensor& t, int64_t row0, int64_t rows) {
    if (t.rank() == 1) return t.view({rows}, {1}, t.offset() + row0);
    return t.view({rows, t.dim(1)}, {t.strides()[0], t.strides()[1]}, t.offset() + row0 * t.strides()[0]);
}

// [B, L, C] projection output -> [B, heads, L, D] view of columns [col0, col0 + heads * D).
Tensor heads_view(const Tensor& y, int64_t heads, int64_t D, int64_t col0) {
    const int64_t B = y.dim(0), L = y.dim(1);
    return y.view({B, heads, L, D}, {y.strides()[0], D, y.strides()[1], 1}, y.offset() + col0);
}

}  // namespace

void validate_mha_weights(Context& ctx, const MhaWeights& w) {
    const int64_t H = w.heads, Hkv = w.kv_heads, D = w.head_dim, E = w.embed_dim;
    if (H < 1) fail("heads: must be >= 1, got " + std::to_string(H));
    if (Hkv < 1 || H % Hkv != 0)
        fail("kv_heads: " + std::to_string(Hkv) + " must be >= 1 and divide heads = " + std::to_string(H));
    if (D < 1 || E < 1 || w.kdim < 1 || w.vdim < 1) fail("weights: embed_dim, head_dim, kdim and vdim must be >= 1");
    const auto check = [&](const Tensor& t, const Shape& s, const char* name) {
        if (!t.defined()) fail(std::string(name) + ": tensor is empty");
        if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
        expect_shape(t, s, name);
        if (t.dtype() != w.w_q.dtype())
            fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " differs from w_q's " +
                 std::string(dtype_name(w.w_q.dtype())));
    };
    check(w.w_q, {H * D, E}, "w_q");
    check(w.w_k, {Hkv * D, w.kdim}, "w_k");
    check(w.w_v, {Hkv * D, w.vdim}, "w_v");
    check(w.w_o, {E, H * D}, "w_o");
    if (w.b_q) check(*w.b_q, {H * D}, "b_q");
    if (w.b_k) check(*w.b_k, {Hkv * D}, "b_k");
    if (w.b_v) check(*w.b_v, {Hkv * D}, "b_v");
    if (w.b_o) check(*w.b_o, {E}, "b_o");
}

MhaLayout plan_mha_weights(const SafeTensors& f, const MhaLoadOptions& o) {
    constexpr int64_t kMaxHeads = 65536;
    MhaLayout w;
    const std::string& P = o.prefix;
    const auto name = [&](const char* n) { return P + n; };
    if (o.heads < 1) fail("heads: must be >= 1, got " + std::to_string(o.heads));
    if (o.heads > kMaxHeads) fail("heads: " + std::to_string(o.heads) + " exceeds the maximum " + std::to_string(kMaxHeads));
    w.heads = o.heads;
    w.kv_heads = o.kv_heads == 0 ? o.heads : o.kv_heads;
    if (w.kv_heads < 1 || w.kv_heads > kMaxHeads || w.heads % w.kv_heads != 0)
        fail("kv_heads: " + std::to_string(w.kv_heads) + " must be >= 1 and divide heads = " + std::to_string(w.heads));
    if (o.dtype != DType::f32 && o.dtype != DType::f16) fail("dtype: weights are stored as f32 or f16");
    const int64_t H = w.heads, Hkv = w.kv_heads;
    const auto readable = [&](const std::string& n) -> const SafeTensorInfo& {
        const SafeTensorInfo& i = f.info(n);
        if (i.dtype != "F32" && i.dtype != "F16" && i.dtype != "BF16")
            fail(f.source() + ": tensor '" + n + "' has dtype " + i.dtype + "; only F32, F16 and BF16 are supported");
        return i;
    };
    const auto rank2 = [&](const std::string& n) {
        const SafeTensorInfo& i = readable(n);
        if (i.shape.size() != 2) fail(f.source() + ": tensor '" + n + "' must have rank 2, has shape " + to_string(i.shape));
        if (i.shape[0] < 1 || i.shape[1] < 1) fail(f.source() + ": tensor '" + n + "' has an empty shape " + to_string(i.shape));
        return i.shape;
    };

    const std::string out_w = name("out_proj.weight");
    if (!f.contains(out_w)) f.info(out_w);  // throws naming the missing tensor and listing what exists
    const Shape so = rank2(out_w);
    w.embed_dim = so[0];
    const int64_t E = w.embed_dim;
    if (f.contains(name("in_proj_weight"))) {
        w.packed = true;
        const Shape s = rank2(name("in_proj_weight"));
        if (s[0] % (H + 2 * Hkv) != 0)
            fail(f.source() + ": tensor '" + name("in_proj_weight") + "' has " + std::to_string(s[0]) + " rows, not a multiple of heads + 2 kv_heads = " +
                 std::to_string(H + 2 * Hkv));
        w.head_dim = s[0] / (H + 2 * Hkv);
        if (s[1] != E)
            fail(f.source() + ": tensor '" + name("in_proj_weight") + "' has " + std::to_string(s[1]) + " columns; embed_dim (out_proj.weight rows) is " +
                 std::to_string(E));
        w.kdim = w.vdim = E;
    } else if (f.contains(name("q_proj_weight"))) {
        const Shape sq = rank2(name("q_proj_weight"));
        if (sq[0] % H != 0)
            fail(f.source() + ": tensor '" + name("q_proj_weight") + "' has " + std::to_string(sq[0]) + " rows, not a multiple of heads = " + std::to_string(H));
        w.head_dim = sq[0] / H;
        if (sq[1] != E) fail(f.source() + ": tensor '" + name("q_proj_weight") + "' must be " + dims(sq[0], E) + ", has shape " + to_string(sq));
        const Shape sk = rank2(name("k_proj_weight")), sv = rank2(name("v_proj_weight"));
        const int64_t KD = Hkv * w.head_dim;
        if (sk[0] != KD) fail(f.source() + ": tensor '" + name("k_proj_weight") + "' must have kv_heads * head_dim = " + std::to_string(KD) + " rows, has shape " + to_string(sk));
        if (sv[0] != KD) fail(f.source() + ": tensor '" + name("v_proj_weight") + "' must have kv_heads * head_dim = " + std::to_string(KD) + " rows, has shape " + to_string(sv));
        w.kdim = sk[1], w.vdim = sv[1];
    } else {
        fail(f.source() + ": neither '" + name("in_proj_weight") + "' nor '" + name("q_proj_weight") + "' is present");
    }
    const int64_t HD = H * w.head_dim, KD = Hkv * w.head_dim;
    if (so[1] != HD) fail(f.source() + ": tensor '" + out_w + "' must be [embed_dim, heads * head_dim] = " + dims(E, HD) + ", has shape " + to_string(so));
    if (f.contains(name("in_proj_bias"))) {
        const SafeTensorInfo& i = readable(name("in_proj_bias"));
        if (i.shape != Shape{HD + 2 * KD})
            fail(f.source() + ": tensor '" + name("in_proj_bias") + "' must be [" + std::to_string(HD + 2 * KD) + "], has shape " + to_string(i.shape));
        w.has_in_proj_bias = true;
    }
    if (f.contains(name("out_proj.bias"))) {
        const SafeTensorInfo& i = readable(name("out_proj.bias"));
        if (i.shape != Shape{E}) fail(f.source() + ": tensor '" + name("out_proj.bias") + "' must be [" + std::to_string(E) + "], has shape " + to_string(i.shape));
        w.has_out_proj_bias = true;
    }
    return w;
}

MhaWeights load_mha_weights(Context& ctx, const SafeTensors& f, const MhaLoadOptions& o) {
    const MhaLayout l = plan_mha_weights(f, o);  // every name and shape checked before anything is uploaded
    const auto name = [&](const char* n) { return o.prefix + n; };
    MhaWeights w;
    w.embed_dim = l.embed_dim, w.heads = l.heads, w.kv_heads = l.kv_heads, w.head_dim = l.head_dim, w.kdim = l.kdim, w.vdim = l.vdim;
    const int64_t HD = l.heads * l.head_dim, KD = l.kv_heads * l.head_dim;
    if (l.packed) {
        w.in_proj = f.upload(ctx, name("in_proj_weight"), o.dtype);
        w.w_q = rows_of(*w.in_proj, 0, HD);
        w.w_k = rows_of(*w.in_proj, HD, KD);
        w.w_v = rows_of(*w.in_proj, HD + KD, KD);
    } else {
        w.w_q = f.upload(ctx, name("q_proj_weight"), o.dtype);
        w.w_k = f.upload(ctx, name("k_proj_weight"), o.dtype);
        w.w_v = f.upload(ctx, name("v_proj_weight"), o.dtype);
    }
    w.w_o = f.upload(ctx, name("out_proj.weight"), o.dtype);
    if (l.has_in_proj_bias) {
        w.in_proj_bias = f.upload(ctx, name("in_proj_bias"), o.dtype);
        w.b_q = rows_of(*w.in_proj_bias, 0, HD);
        w.b_k = rows_of(*w.in_proj_bias, HD, KD);
        w.b_v = rows_of(*w.in_proj_bias, HD + KD, KD);
    }
    if (l.has_out_proj_bias) w.b_o = f.upload(ctx, name("out_proj.bias"), o.dtype);
    validate_mha_weights(ctx, w);
    return w;
}

MhaWeights load_mha_weights(Context& ctx, const std::string& path, const MhaLoadOptions& o) {
    return load_mha_weights(ctx, SafeTensors::open(path), o);
}

namespace detail {

MhaResult mha_call(Context& ctx, const MhaWeights& w, const Tensor& x_q, const std::optional<Tensor>& x_k_in,
                   const std::optional<Tensor>& x_v_in, const MhaOptions& o, CallTarget& target, bool synchronous) {
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    validate_mha_weights(ctx, w);
    const DType dt = w.w_q.dtype();
    const auto check_input = [&](const Tensor& x, const char* name, int64_t width, const char* layout) {
        if (!x.defined()) fail(std::string(name) + ": tensor is empty");
        if (detail::buffer_of(x)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
        if (x.rank() != 3 || x.dim(2) != width)
            fail(std::string(name) + ": expected " + layout + " with width " + std::to_string(width) + ", got shape " + to_string(x.shape()));
        if (x.dtype() != dt)
            fail(std::string(name) + ": dtype " + std::string(dtype_name(x.dtype())) + " does not match the weights' " + std::string(dtype_name(dt)));
    };
    const bool self = !x_k_in;
    if (self && x_v_in) fail("x_v: given without x_k (self-attention uses x_q for both)");
    const Tensor x_k = x_k_in ? *x_k_in : x_q;
    const Tensor x_v = x_v_in ? *x_v_in : x_k;
    check_input(x_q, "x_q", w.embed_dim, "[B, Lq, E]");
    check_input(x_k, "x_k", w.kdim, "[B, Lk, kdim]");
    check_input(x_v, "x_v", w.vdim, "[B, Lk, vdim]");
    const int64_t B = x_q.dim(0), Lq = x_q.dim(1), Lk = x_k.dim(1);
    if (x_k.dim(0) != B) fail("x_k: batch " + std::to_string(x_k.dim(0)) + " does not match x_q's " + std::to_string(B));
    if (x_v.dim(0) != B || x_v.dim(1) != Lk)
        fail("x_v: shape " + to_string(x_v.shape()) + " must match x_k's batch and length [" + std::to_string(B) + ", " + std::to_string(Lk) + ", vdim]");
    const DType out_dtype = o.out_dtype.value_or(dt);
    if (out_dtype != DType::f32 && out_dtype != DType::f16) fail("out_dtype: f32 or f16");
    if (o.out)
        check_output(ctx, *o.out, "out", {B, Lq, w.embed_dim}, "[B, Lq, E]", out_dtype, "out_dtype, else x_q's dtype",
                     {{&x_q, "x_q"}, {&x_k, "x_k"}, {&x_v, "x_v"}, {o.mask ? &*o.mask : nullptr, "mask"}});

    const int64_t H = w.heads, Hkv = w.kv_heads, D = w.head_dim, HD = H * D, KD = Hkv * D;
    MhaResult result;
    const auto add_time = [&](double ms) {
        if (ms >= 0) result.gpu_milliseconds = std::max(0.0, result.gpu_milliseconds) + ms;
    };
    // One projection X Wᵀ + b into a new [B, L, rows] temporary of the weights' dtype.
    const auto project = [&](const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias) {
        MatmulOptions mo;
        mo.out = target.temporary(ctx, {x.dim(0), x.dim(1), weight.dim(0)}, dt, "projection");
        mo.measure_time = o.measure_time;
        const MatmulResult r = matmul_call(ctx, x, weight, bias, mo, target);
        result.dispatches += r.dispatches;
        add_time(r.gpu_milliseconds);
        if (result.variant.empty()) result.variant = r.variant;
        return r.out;
    };
    const auto bias_view = [&](const std::optional<Tensor>& b, int64_t row0, int64_t rows) -> std::optional<Tensor> {
        if (!b) return std::nullopt;
        return rows_of(*b, row0, rows);
    };

    // Projections; heads are strided views of their outputs.
    Tensor q, k, v;
    if (self && w.in_proj) {
        const Tensor y = project(x_q, *w.in_proj, w.in_proj_bias);  // [B, Lq, HD + 2 KD]
        q = heads_view(y, H, D, 0);
        k = heads_view(y, Hkv, D, HD);
        v = heads_view(y, Hkv, D, HD + KD);
    } else {
        q = heads_view(project(x_q, w.w_q, w.b_q), H, D, 0);
        if (w.in_proj && !x_v_in) {  // packed K and V rows are adjacent: one matmul for both
            const Tensor y = project(x_k, rows_of(*w.in_proj, HD, 2 * KD), bias_view(w.in_proj_bias, HD, 2 * KD));
            k = heads_view(y, Hkv, D, 0);
            v = heads_view(y, Hkv, D, KD);
        } else {
            k = heads_view(project(x_k, w.w_k, w.b_k), Hkv, D, 0);
            v = heads_view(project(x_v, w.w_v, w.b_v), Hkv, D, 0);
        }
    }

    AttentionOptions ao;
    ao.causal = o.causal;
    ao.key_lengths = o.key_lengths;
    ao.mask = o.mask;
    ao.return_weights = o.need_weights;
    ao.measure_time = o.measure_time;
    ao.out = target.temporary(ctx, {B, H, Lq, D}, dt, "attention output");
    const AttentionResult att = attention_call(ctx, q, k, v, ao, target);  // out [B, H, Lq, D]
    result.dispatches += att.dispatches;
    add_time(att.gpu_milliseconds);
    result.variant += " + " + att.variant;

    // Output projection over Concat(heads): A(b, l, h*D + d) = out[b, h, l, d], one K segment per head.
    MatmulProblem op;
    op.a = att.out;
    op.B1 = 1, op.B2 = B, op.M = Lq, op.N = w.embed_dim;
    op.a_strides = {0, att.out.strides()[0], att.out.strides()[2]};
    for (int64_t h = 0; h < H; ++h) op.segments.push_back({att.out.offset() + h * att.out.strides()[1], att.out.strides()[3], h * D, D});
    op.w = w.w_o;
    op.bias = w.b_o;
    op.out_dtype = out_dtype;
    if (o.out)
        op.out = o.out->view({1, B, Lq, w.embed_dim},
                             {0, o.out->strides()[0], o.out->strides()[1], o.out->strides()[2]}, o.out->offset());
    op.measure_time = o.measure_time;
    const MatmulResult ro = run_matmul(st, ctx, op, target);
    result.dispatches += ro.dispatches;
    add_time(ro.gpu_milliseconds);
    result.out = o.out ? *o.out : ro.out.view({B, Lq, w.embed_dim}, {Lq * w.embed_dim, w.embed_dim, 1}, ro.out.offset());

    if (o.need_weights) {
        if (!o.average_weights) {
            result.weights = att.weights;
        } else {
            // Averaged on the host: only the synchronous call, whose weights have been computed by now.
            if (!synchronous) throw Error(ErrorCode::vulkan_error, "internal: averaged weights outside a synchronous call");
            const std::vector<float> per_head = att.weights->download<float>();
            std::vector<float> avg(static_cast<std::size_t>(B * Lq * Lk), 0.0f);
            for (int64_t b = 0; b < B; ++b)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t e = 0; e < Lq * Lk; ++e)
                        avg[static_cast<std::size_t>(b * Lq * Lk + e)] += per_head[static_cast<std::size_t>((b * H + h) * Lq * Lk + e)] / static_cast<float>(H);
            result.weights = ctx.upload(avg, {B, Lq, Lk}, DType::f32);
        }
    }
    return result;
}

}  // namespace detail

MhaResult multi_head_attention(Context& ctx, const MhaWeights& w, const Tensor& x_q, const std::optional<Tensor>& x_k,
                               const std::optional<Tensor>& x_v, const MhaOptions& o) {
    detail::SyncTarget target;
    return detail::mha_call(ctx, w, x_q, x_k, x_v, o, target, true);
}

}  // namespace vkattn
