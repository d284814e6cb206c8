// Validation of attention arguments: every rule has a message naming the argument and the rule.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "runtime/access.hpp"
#include "runtime/output_check.hpp"
#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }

constexpr int64_t kMaxHeadDim = 512;
constexpr int64_t kMaxExtent = (int64_t{1} << 31) - 1;

void check_tensor(Context& ctx, const Tensor& t, const char* name, const char* layout, bool kv) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx))
        fail(std::string(name) + ": tensor belongs to another Context");
    if (t.rank() != 4)
        fail(std::string(name) + ": expected rank 4 " + layout + ", got shape " + to_string(t.shape()));
    const DType dt = t.dtype();
    if (dtype_is_quantized(dt) && !kv)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(dt)) + " is not supported: block formats are for k and v only "
                                 "(q takes f32, f16 or bf16)");
    if (dt != DType::f32 && dt != DType::f16 && dt != DType::bf16 && !dtype_is_quantized(dt))
        fail(std::string(name) + ": dtype " + std::string(dtype_name(dt)) + " is not supported (f32, f16 or bf16" +
             (kv ? std::string(", or q8_0 / q4_0 blocks)") : std::string(")")));
    for (int i = 0; i < 4; ++i)
        if (t.dim(i) > kMaxExtent) fail(std::string(name) + ": dimension " + std::to_string(i) + " is too large");
}

void check_dim(const Tensor& t, int dim, int64_t expected, const std::string& what) {
    if (t.dim(dim) != expected) fail(what);
}

int mask_kind_of(DType t) {
    switch (t) {
        case DType::f32: return 1;
        case DType::f16: return 2;
        case DType::u8: return 3;
        case DType::bf16: return 4;
        default: return 0;
    }
}

void validate_mask(Context& ctx, const Tensor& m, AttentionProblem& p) {
    if (!m.defined()) fail("mask: tensor is empty");
    if (detail::buffer_of(m)->owner.get() != &detail::state_of(ctx)) fail("mask: tensor belongs to another Context");
    p.mask_kind = mask_kind_of(m.dtype());
    if (p.mask_kind == 0)
        fail("mask: dtype " + std::string(dtype_name(m.dtype())) + " is not supported (f32, f16 or bf16 additive, u8 boolean)");
    const auto dim_or_one = [](int64_t d) { return d == 1 ? std::string("1") : std::to_string(d) + " or 1"; };
    const std::string expected = "[Lq, Lk] = [" + std::to_string(p.Lq) + ", " + std::to_string(p.Lk) + "] or [B, Hq, Lq, Lk] = [" +
                                 dim_or_one(p.B) + ", " + dim_or_one(p.Hq) + ", " + std::to_string(p.Lq) + ", " +
                                 std::to_string(p.Lk) + "]";
    const Shape& s = m.shape();
    if (m.rank() == 2) {
        if (s[0] != p.Lq || s[1] != p.Lk) fail("mask: shape " + to_string(s) + " must be " + expected);
        p.mask_strides = {0, 0, m.strides()[0], m.strides()[1]};
        return;
    }
    if (m.rank() != 4) fail("mask: rank " + std::to_string(m.rank()) + " shape " + to_string(s) + " must be " + expected);
    if ((s[0] != p.B && s[0] != 1) || (s[1] != p.Hq && s[1] != 1) || s[2] != p.Lq || s[3] != p.Lk)
        fail("mask: shape " + to_string(s) + " must be " + expected);
    p.mask_strides = {s[0] == 1 ? 0 : m.strides()[0], s[1] == 1 ? 0 : m.strides()[1], m.strides()[2], m.strides()[3]};
}

// `out`: where the caller wants the output written (AttentionOptions::out).
void validate_out(Context& ctx, const Tensor& out, const AttentionProblem& p, const std::vector<std::pair<const Tensor*, const char*>>& reads) {
    check_output(ctx, out, "out", {p.B, p.Hq, p.Lq, p.Dv}, "[B, Hq, Lq, Dv]", p.out_dtype, "out_dtype, else q's dtype", reads);
}

}  // namespace

AttentionProblem validate_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& o) {
    check_tensor(ctx, q, "q", "[B, Hq, Lq, D]", false);
    check_tensor(ctx, k, "k", "[B, Hkv, Lk, D]", true);
    check_tensor(ctx, v, "v", "[B, Hkv, Lk, Dv]", true);
    AttentionProblem p;
    p.B = q.dim(0), p.Hq = q.dim(1), p.Lq = q.dim(2), p.D = q.dim(3);
    p.Hkv = k.dim(1), p.Lk = k.dim(2), p.Dv = v.dim(3);
    p.dtype = q.dtype();
    p.kv_dtype = k.dtype();
    const auto s = [](int64_t x) { return std::to_string(x); };
    const auto name = [](DType t) { return std::string(dtype_name(t)); };

    // k and v: q's dtype, or one block format (q8_0 / q4_0) for both, whatever q's dtype.
    if (dtype_is_quantized(k.dtype())) {
        if (v.dtype() != k.dtype()) fail("v: dtype " + name(v.dtype()) + " does not match k's " + name(k.dtype()) + " (quantised k and v share one format)");
    } else {
        if (k.dtype() != q.dtype()) fail("k: dtype " + name(k.dtype()) + " does not match q's " + name(q.dtype()));
        if (v.dtype() != q.dtype())
            fail("v: dtype " + name(v.dtype()) + " does not match " + (dtype_is_quantized(v.dtype()) ? "k's " + name(k.dtype()) : "q's " + name(q.dtype())));
    }
    check_dim(k, 0, p.B, "k: batch " + s(k.dim(0)) + " does not match q's " + s(p.B));
    check_dim(v, 0, p.B, "v: batch " + s(v.dim(0)) + " does not match q's " + s(p.B));
    check_dim(k, 3, p.D, "k: head dim " + s(k.dim(3)) + " does not match q's " + s(p.D));
    check_dim(v, 1, p.Hkv, "v: " + s(v.dim(1)) + " heads do not match k's " + s(p.Hkv));
    check_dim(v, 2, p.Lk, "v: " + s(v.dim(2)) + " keys do not match k's " + s(p.Lk));
    if (p.Hq % p.Hkv != 0)
        fail("q: " + s(p.Hq) + " query heads are not a multiple of k's " + s(p.Hkv) + " key/value heads (Hq % Hkv must be 0)");
    if (p.D > kMaxHeadDim) fail("q: head dim " + s(p.D) + " exceeds the maximum " + s(kMaxHeadDim));
    if (p.Dv > kMaxHeadDim) fail("v: head dim " + s(p.Dv) + " exceeds the maximum " + s(kMaxHeadDim));
    if (dtype_is_quantized(p.kv_dtype)) {
        // (A tensor of a block format already has whole blocks along its last dim; said again here with the kernels' rule.)
        if (p.D % 32 != 0) fail("k: " + name(p.kv_dtype) + " K needs a head dim that is a multiple of 32 (its block), got " + s(p.D));
        if (p.Dv % 32 != 0) fail("v: " + name(p.kv_dtype) + " V needs a head dim that is a multiple of 32 (its block), got " + s(p.Dv));
        if (k.strides()[3] != 1 || v.strides()[3] != 1) fail("k: " + name(p.kv_dtype) + " K/V rows must be contiguous along the head dim");
    }

    p.scale = o.scale ? *o.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.D)));
    if (!std::isfinite(p.scale) || p.scale == 0.0f)
        fail("scale: must be finite and non-zero, got " + std::to_string(p.scale));

    if (!o.key_lengths.empty()) {
        if (static_cast<int64_t>(o.key_lengths.size()) != p.B)
            fail("key_lengths: has " + s(static_cast<int64_t>(o.key_lengths.size())) + " entries; needs one per batch (B = " + s(p.B) + ")");
        for (std::size_t b = 0; b < o.key_lengths.size(); ++b)
            if (o.key_lengths[b] < 0 || o.key_lengths[b] > p.Lk)
                fail("key_lengths[" + std::to_string(b) + "]: " + std::to_string(o.key_lengths[b]) + " is outside [0, Lk = " + s(p.Lk) + "]");
    }
    if (o.mask) validate_mask(ctx, *o.mask, p);

    if (o.window.left < -1 || o.window.right < -1)
        fail("window: left and right must be >= 0, or -1 for unbounded; got (" + std::to_string(o.window.left) + ", " +
             std::to_string(o.window.right) + ")");
    // Beyond Lq + Lk a bound changes nothing; clamping keeps the kernels' int32 arithmetic exact.
    p.window_left = o.window.left < 0 ? -1 : std::min(o.window.left, p.Lq + p.Lk);
    p.window_right = o.window.right < 0 ? -1 : std::min(o.window.right, p.Lq + p.Lk);
    if (!o.alibi_slopes.empty()) {
        if (static_cast<int64_t>(o.alibi_slopes.size()) != p.Hq)
            fail("alibi_slopes: has " + s(static_cast<int64_t>(o.alibi_slopes.size())) + " values; needs one per query head (Hq = " +
                 s(p.Hq) + ")");
        for (std::size_t h = 0; h < o.alibi_slopes.size(); ++h)
            if (!std::isfinite(o.alibi_slopes[h]))
                fail("alibi_slopes[" + std::to_string(h) + "]: must be finite, got " + std::to_string(o.alibi_slopes[h]));
        p.alibi = true;
    }
    if (!o.sinks.empty()) {
        if (static_cast<int64_t>(o.sinks.size()) != p.Hq)
            fail("sinks: has " + s(static_cast<int64_t>(o.sinks.size())) + " values; needs one per query head (Hq = " + s(p.Hq) + ")");
        for (std::size_t h = 0; h < o.sinks.size(); ++h)
            if (!std::isfinite(o.sinks[h])) fail("sinks[" + std::to_string(h) + "]: must be finite, got " + std::to_string(o.sinks[h]));
        p.sinks = true;
    }
    if (!std::isfinite(o.softcap) || o.softcap < 0)
        fail("softcap: must be finite and >= 0 (0 turns it off), got " + std::to_string(o.softcap));
    p.softcap = o.softcap;
    if (o.kv_splits < 0) fail("kv_splits: must be >= 0 (0: chosen from the device, 1: no split), got " + std::to_string(o.kv_splits));
    if (o.align_to_key_lengths && o.key_lengths.empty())
        fail("align_to_key_lengths: needs key_lengths (the per-batch lengths to align to)");
    p.align_to_key_lengths = o.align_to_key_lengths;
    p.key_lengths = o.key_lengths;

    if (o.return_weights && o.path == Path::fused)
        fail("return_weights: the weights exist only on the explicit path, but path = fused was requested");
    p.out_dtype = o.out_dtype.value_or(p.dtype);
    if (p.out_dtype != DType::f32 && p.out_dtype != DType::f16 && p.out_dtype != DType::bf16)
        fail("out_dtype: " + std::string(dtype_name(p.out_dtype)) + " is not supported (f32, f16 or bf16" +
             (dtype_is_quantized(p.out_dtype) ? std::string("; block formats are for k and v only)") : std::string(")")));
    if (o.out) {
        validate_out(ctx, *o.out, p, {{&q, "q"}, {&k, "k"}, {&v, "v"}, {o.mask ? &*o.mask : nullptr, "mask"}});
    }
    return p;
}

}  // namespace vkattn::detail
