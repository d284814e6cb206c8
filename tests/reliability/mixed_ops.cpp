#include "mixed_ops.hpp"
#include "vkattn/reference.hpp"

#include "common/attention_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>

namespace vkattn::reliability {
namespace {

struct ScopedMaxBinding {
    explicit ScopedMaxBinding(int64_t bytes) : active(bytes > 0) {
        if (active) setenv("VKATTN_TEST_MAX_BINDING", std::to_string(bytes).c_str(), 1);
    }
    ~ScopedMaxBinding() {
        if (active) unsetenv("VKATTN_TEST_MAX_BINDING");
    }
    bool active;
};

std::vector<float> random_values(std::mt19937_64& gen, std::size_t n, DType dtype) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n);
    for (float& e : x) e = dtype == DType::f16 ? round_to_half(dist(gen)) : dist(gen);
    return x;
}

// Compares `got` with the reference under the bound rule; returns an empty string when it passes.
std::string compare(const char* what, const std::vector<float>& got, const std::vector<float>& ref,
                    const std::vector<float>& naive, bool relative) {
    if (std::string bad = test::nonfinite_mismatch(what, got, ref); !bad.empty()) return bad;
    const double err = test::max_abs_diff_finite(got, ref), bound = 2 * test::max_abs_diff_finite(naive, ref) + 1e-6;
    if (!(err <= bound)) return std::string("max|") + what + "-ref| = " + std::to_string(err) + " exceeds " + std::to_string(bound);
    if (relative && err / std::max(test::max_abs(ref), 1e-30) > 1e-5)
        return std::string(what) + ": relative error " + std::to_string(err / std::max(test::max_abs(ref), 1e-30)) + " exceeds 1e-5";
    return {};
}

}  // namespace

std::string Op::name() const {
    std::ostringstream s;
    s << "B" << B << "_H" << Hq << "x" << Hkv << "_L" << Lq << "x" << Lk << "_D" << D << "_" << dtype_name(dtype) << "_"
      << to_string(path) << "_" << to_string(causal);
    if (mask == OpMask::additive_2d) s << "_add2d";
    if (mask == OpMask::bool_2d) s << "_bool2d";
    if (key_lengths) s << "_keylen";
    if (lse) s << "_lse";
    if (weights) s << "_weights";
    if (out_f16) s << "_outf16";
    if (blhd) s << "_blhd";
    if (max_binding) s << "_maxbind" << max_binding;
    return s.str();
}

OpOutcome run_op(Context& ctx, const Op& op, uint64_t seed) {
    ScopedMaxBinding limit(op.max_binding);
    std::mt19937_64 gen(seed);
    HostAttentionProblem p;
    p.B = op.B, p.Hq = op.Hq, p.Hkv = op.Hkv, p.Lq = op.Lq, p.Lk = op.Lk, p.D = op.D, p.Dv = op.D;
    p.causal = op.causal;
    p.q = random_values(gen, static_cast<std::size_t>(p.B * p.Hq * p.Lq * p.D), op.dtype);
    p.k = random_values(gen, static_cast<std::size_t>(p.B * p.Hkv * p.Lk * p.D), op.dtype);
    p.v = random_values(gen, static_cast<std::size_t>(p.B * p.Hkv * p.Lk * p.Dv), op.dtype);
    AttentionOptions o;
    o.causal = op.causal;
    o.path = op.path;
    o.return_lse = op.lse;
    o.return_weights = op.weights;
    if (op.out_f16) o.out_dtype = DType::f16;
    if (op.key_lengths) {
        std::uniform_int_distribution<int32_t> len(0, static_cast<int32_t>(p.Lk));
        for (int64_t b = 0; b < p.B; ++b) p.key_lengths.push_back(len(gen));
        if (p.B > 1) p.key_lengths[0] = 0;
        o.key_lengths = p.key_lengths;
    }
    if (op.mask != OpMask::none) {
        const std::size_t n = static_cast<std::size_t>(p.Lq * p.Lk);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        p.mask_shape = {p.Lq, p.Lk};
        p.mask_is_bool = op.mask == OpMask::bool_2d;
        p.mask.resize(n);
        for (float& m : p.mask) {
            const float r = u(gen);
            if (p.mask_is_bool) m = r < 0.75f ? 1.0f : 0.0f;
            else m = r < 0.15f ? -INFINITY : (op.dtype == DType::f16 ? round_to_half(4 * r - 2) : 4 * r - 2);
        }
        if (p.mask_is_bool) {
            std::vector<uint8_t> bytes(n);
            for (std::size_t e = 0; e < n; ++e) bytes[e] = p.mask[e] != 0 ? 1 : 0;
            o.mask = ctx.upload_raw(bytes.data(), n, p.mask_shape, DType::u8);
        } else {
            o.mask = ctx.upload(p.mask, p.mask_shape, op.dtype);
        }
    }
    const Tensor q = test::upload_qkv(ctx, p.q, p.B, p.Hq, p.Lq, p.D, op.dtype, op.blhd);
    const Tensor k = test::upload_qkv(ctx, p.k, p.B, p.Hkv, p.Lk, p.D, op.dtype, op.blhd);
    const Tensor v = test::upload_qkv(ctx, p.v, p.B, p.Hkv, p.Lk, p.Dv, op.dtype, op.blhd);

    const AttentionResult res = attention_full(ctx, q, k, v, o);
    OpOutcome r;
    r.variant = res.variant;
    const std::vector<float> out = res.out.download<float>();
    const std::vector<float> lse = op.lse ? res.lse->download<float>() : std::vector<float>{};
    const std::vector<float> weights = op.weights ? res.weights->download<float>() : std::vector<float>{};

    const HostAttentionResult ref = reference_attention(p, op.weights);
    const DType precision = op.dtype == DType::f16 || op.out_f16 ? DType::f16 : DType::f32;
    const HostAttentionResult naive = naive_attention(p, precision, op.weights);
    std::string why = compare("out", out, ref.out, naive.out, precision == DType::f32);
    if (why.empty() && op.lse) why = test::check_lse(lse, ref.lse);
    if (why.empty() && op.weights) why = compare("weights", weights, ref.weights, naive.weights, false);
    r.passed = why.empty();
    if (!r.passed) r.message = op.name() + " seed " + std::to_string(seed) + " variant " + res.variant + ": " + why;
    return r;
}

std::vector<Op> mixed_run() {
    std::vector<Op> ops;
    Op prefill;  // fused (rowwise kernel on CPU devices), causal, with lse
    prefill.B = 1, prefill.Hq = 2, prefill.Hkv = 2, prefill.Lq = 24, prefill.Lk = 24, prefill.causal = Causal::top_left, prefill.lse = true;
    ops.push_back(prefill);
    Op weights;  // explicit path returning P, bool mask
    weights.B = 1, weights.Hq = 2, weights.Hkv = 1, weights.Lq = 16, weights.Lk = 20, weights.path = Path::explicit_;
    weights.mask = OpMask::bool_2d, weights.weights = true, weights.lse = true;
    ops.push_back(weights);
    Op decode;  // split-KV decode on CPU devices: one query row, GQA, padded batches
    decode.B = 2, decode.Hq = 4, decode.Hkv = 2, decode.Lq = 1, decode.Lk = 40, decode.key_lengths = true, decode.lse = true;
    ops.push_back(decode);
    Op half;  // f16 inputs, f16 additive mask, f16 output
    half.B = 1, half.Hq = 2, half.Hkv = 2, half.Lq = 16, half.Lk = 16, half.dtype = DType::f16;
    half.mask = OpMask::additive_2d, half.out_f16 = true, half.blhd = true;
    ops.push_back(half);
    Op chunked;  // rows and slices split over several dispatches (one head, 32 rows per binding)
    chunked.B = 2, chunked.Hq = 2, chunked.Hkv = 2, chunked.Lq = 64, chunked.Lk = 16;
    chunked.causal = Causal::bottom_right, chunked.lse = true, chunked.max_binding = 2048;
    ops.push_back(chunked);
    return ops;
}

std::vector<Op> thread_safe_ops() {
    std::vector<Op> ops;
    for (Op op : mixed_run()) {
        if (op.max_binding) continue;
        ops.push_back(op);
    }
    // Shape variations that reuse the same pipelines.
    Op longer = ops[0];
    longer.Lq = 9, longer.Lk = 33, longer.causal = Causal::bottom_right, longer.mask = OpMask::none;
    ops.push_back(longer);
    Op strided = ops[0];
    strided.B = 2, strided.Lq = 12, strided.Lk = 12, strided.blhd = true, strided.key_lengths = true;
    ops.push_back(strided);
    Op explicit_nomask = ops[1];
    explicit_nomask.mask = OpMask::none, explicit_nomask.weights = false, explicit_nomask.causal = Causal::top_left;
    explicit_nomask.Lq = 8, explicit_nomask.Lk = 8;
    ops.push_back(explicit_nomask);
    Op decode_nokl = ops[2];
    decode_nokl.key_lengths = false, decode_nokl.Lk = 17, decode_nokl.B = 1;
    ops.push_back(decode_nokl);
    return ops;
}

}  // namespace vkattn::reliability
