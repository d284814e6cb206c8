#include "test_support.hpp"

#include "common/attention_data.hpp"
#include "testing/test_switches.hpp"
#include "vkattn/reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>

namespace vkattn::test {

ContextOptions test_context_options() {
    ContextOptions o;
    o.validation = true;
    // Poisoned allocations (every unwritten output element shows up as NaN) and no tuned tiles (the
    // variants must not depend on the machine's history): for every context made from now on.
    testing::TestSwitches switches;
    switches.use_tuned_tiles = false;
    switches.poison_allocations = true;
    testing::set_default_switches(switches);
    o.pipeline_cache_dir = std::getenv("VKATTN_TEST_CACHE_DIR") ? std::getenv("VKATTN_TEST_CACHE_DIR") : "";
    return o;
}

Context& context() {
    static Context ctx(test_context_options());
    return ctx;
}

std::vector<uint8_t> tensor_bytes(const Tensor& t) {
    if (t.dtype() == DType::f16 || t.dtype() == DType::bf16) {
        const auto h = t.download<uint16_t>();
        return {reinterpret_cast<const uint8_t*>(h.data()), reinterpret_cast<const uint8_t*>(h.data() + h.size())};
    }
    const auto f = t.download<float>();
    return {reinterpret_cast<const uint8_t*>(f.data()), reinterpret_cast<const uint8_t*>(f.data() + f.size())};
}

const char* to_string(MaskKind m) {
    switch (m) {
        case MaskKind::additive_2d: return "add2d";
        case MaskKind::additive_4d: return "add4d";
        case MaskKind::bool_2d: return "bool2d";
        case MaskKind::bool_4d: return "bool4d";
        default: return "nomask";
    }
}

std::string Case::name() const {
    std::ostringstream s;
    s << "B" << B << "_H" << Hq << "x" << Hkv << "_L" << Lq << "x" << Lk << "_D" << D;
    if (Dv && Dv != D) s << "v" << Dv;
    s << "_" << dtype_name(dtype) << "_" << vkattn::to_string(path) << "_" << vkattn::to_string(causal) << "_" << test::to_string(mask);
    if (key_lengths) s << "_keylen";
    if (blhd) s << "_blhd";
    if (input_scale != 1.0f) s << "_x" << static_cast<int>(input_scale);
    if (fully_masked_rows) s << "_emptyrows";
    if (window.active()) s << "_win" << window.left << "_" << window.right;
    if (alibi) s << "_alibi";
    if (softcap > 0) s << "_cap" << static_cast<int>(softcap);
    if (sinks) s << "_sinks";
    if (kv_splits) s << "_split" << kv_splits;
    if (kv_dtype) s << "_kv" << dtype_name(*kv_dtype);
    std::string name = s.str();
    for (char& ch : name)  // gtest names: letters, digits and underscores only
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return name;
}

uint64_t fresh_seed() {
    if (const char* env = std::getenv("VKATTN_TEST_SEED")) return std::strtoull(env, nullptr, 10);
    static std::mt19937_64 gen(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    return gen();
}

namespace {

struct Inputs {
    HostAttentionProblem host;
    Tensor q, k, v;
    std::optional<Tensor> mask;
};

std::vector<float> random_values(std::mt19937_64& gen, std::size_t n, float scale, DType dtype) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n);
    for (float& e : x) {
        e = dist(gen) * scale;
        if (dtype == DType::f16) e = round_to_half(e);  // the reference sees what the kernel reads
        if (dtype == DType::bf16) e = round_to_bf16(e);
    }
    return x;
}

void make_mask(Context& ctx, const Case& c, std::mt19937_64& gen, Inputs& in) {
    HostAttentionProblem& p = in.host;
    if (c.mask == MaskKind::none && !c.fully_masked_rows) return;
    const bool four_d = c.mask == MaskKind::additive_4d || c.mask == MaskKind::bool_4d;
    const bool is_bool = c.mask == MaskKind::bool_2d || c.mask == MaskKind::bool_4d || c.mask == MaskKind::none;
    p.mask_shape = four_d ? Shape{c.B, c.Hq, c.Lq, c.Lk} : Shape{c.Lq, c.Lk};
    p.mask_is_bool = is_bool;
    const std::size_t n = four_d ? static_cast<std::size_t>(c.B * c.Hq * c.Lq * c.Lk) : static_cast<std::size_t>(c.Lq * c.Lk);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    p.mask.resize(n);
    const DType mask_dtype = c.dtype;  // additive masks in the inputs' dtype: f16 masks are exercised too
    for (std::size_t e = 0; e < n; ++e) {
        const float r = u(gen);
        if (is_bool) p.mask[e] = (c.mask == MaskKind::none || r < 0.75f) ? 1.0f : 0.0f;
        else p.mask[e] = r < 0.15f                   ? -INFINITY
                         : mask_dtype == DType::f16  ? round_to_half(4 * r - 2)
                         : mask_dtype == DType::bf16 ? round_to_bf16(4 * r - 2)
                                                     : 4 * r - 2;
    }
    if (c.fully_masked_rows) {
        const std::size_t rows = n / static_cast<std::size_t>(c.Lk);
        for (std::size_t row = 3; row < rows; row += 7)
            for (int64_t j = 0; j < c.Lk; ++j) p.mask[row * c.Lk + j] = is_bool ? 0.0f : -INFINITY;
    }
    if (is_bool) {
        std::vector<uint8_t> bytes(n);
        for (std::size_t e = 0; e < n; ++e) bytes[e] = p.mask[e] != 0 ? 1 : 0;
        in.mask = ctx.upload_raw(bytes.data(), n, p.mask_shape, DType::u8);
    } else {
        in.mask = ctx.upload(p.mask, p.mask_shape, mask_dtype);
    }
}

Inputs make_inputs(Context& ctx, const Case& c, uint64_t seed) {
    std::mt19937_64 gen(seed);
    Inputs in;
    HostAttentionProblem& p = in.host;
    p.B = c.B, p.Hq = c.Hq, p.Hkv = c.Hkv, p.Lq = c.Lq, p.Lk = c.Lk, p.D = c.D, p.Dv = c.Dv ? c.Dv : c.D;
    p.causal = c.causal;
    p.q = random_values(gen, static_cast<std::size_t>(p.B * p.Hq * p.Lq * p.D), c.input_scale, c.dtype);
    p.k = random_values(gen, static_cast<std::size_t>(p.B * p.Hkv * p.Lk * p.D), c.input_scale, c.dtype);
    p.v = random_values(gen, static_cast<std::size_t>(p.B * p.Hkv * p.Lk * p.Dv), 1.0f, c.dtype);
    if (c.key_lengths) {
        std::uniform_int_distribution<int32_t> len(0, static_cast<int32_t>(p.Lk));
        for (int64_t b = 0; b < p.B; ++b) p.key_lengths.push_back(len(gen));
        if (p.B > 1) p.key_lengths[0] = 0;                                 // a batch with no keys at all
        p.key_lengths[p.B - 1] = static_cast<int32_t>(p.Lk);               // and one with all of them
        if (p.B > 2) p.key_lengths[1] = std::max<int32_t>(1, p.key_lengths[1]);
    }
    const DType kv_dtype = c.kv_dtype.value_or(c.dtype);
    if (c.kv_dtype) {
        // Quantised K/V: the reference computes on the values the kernels dequantise (per row of the last dim).
        for (std::vector<float>* t : {&p.k, &p.v}) {
            std::vector<uint8_t> blocks(dtype_storage_bytes(kv_dtype, static_cast<int64_t>(t->size())));
            quantize_blocks(kv_dtype, t->data(), static_cast<int64_t>(t->size()), blocks.data());
            dequantize_blocks(kv_dtype, blocks.data(), static_cast<int64_t>(t->size()), t->data());
        }
    }
    in.q = upload_qkv(ctx, p.q, p.B, p.Hq, p.Lq, p.D, c.dtype, c.blhd);
    in.k = upload_qkv(ctx, p.k, p.B, p.Hkv, p.Lk, p.D, kv_dtype, c.blhd);
    in.v = upload_qkv(ctx, p.v, p.B, p.Hkv, p.Lk, p.Dv, kv_dtype, c.blhd);
    make_mask(ctx, c, gen, in);
    return in;
}

}  // namespace

Outcome run_case(const Case& c, uint64_t seed) { return run_case(context(), c, seed); }

Outcome run_case(Context& ctx, const Case& c, uint64_t seed) {
    Outcome r;
    Inputs in = make_inputs(ctx, c, seed);
    AttentionOptions opt;
    opt.causal = c.causal;
    opt.key_lengths = in.host.key_lengths;
    opt.mask = in.mask;
    opt.path = c.path;
    opt.window = c.window;
    if (c.alibi) opt.alibi_slopes = alibi_slopes(c.Hq);
    opt.softcap = c.softcap;
    opt.kv_splits = c.kv_splits;
    if (c.sinks) {
        std::mt19937_64 sink_gen(seed ^ 0x5151u);
        std::uniform_real_distribution<float> logit(-2.0f, 4.0f);
        for (int64_t h = 0; h < c.Hq; ++h) opt.sinks.push_back(logit(sink_gen));
    }
    in.host.sinks = opt.sinks;
    in.host.window = opt.window;
    in.host.alibi_slopes = opt.alibi_slopes;
    in.host.softcap = opt.softcap;
    opt.return_lse = true;
    opt.return_weights = c.path == Path::explicit_;
    AttentionResult res = attention_full(ctx, in.q, in.k, in.v, opt);
    r.variant = res.variant;
    r.dispatches = res.dispatches;
    const std::vector<float> out = res.out.download<float>();
    const std::vector<float> lse = res.lse->download<float>();

    const HostAttentionResult ref = reference_attention(in.host, opt.return_weights);
    const HostAttentionResult naive = naive_attention(in.host, c.dtype, opt.return_weights);
    // The naive scores sum q.k over d = 0, 1, ... in f32; a kernel that splits the head dim across
    // lanes (the tiled kernel: "tpr<N>" in its variant name) sums in another order, whose rounding is as
    // good but not the same, and at large logits (_x100) that rounding dominates the error. So the bound
    // admits the largest naive error over the orders of the same products that a naive kernel could use:
    // forward, reversed (q and k permuted alike), and, for a kernel with N lanes per row, exactly its own
    // (DotOrder: each lane's quads in d order, the lanes' partials added by a butterfly with ",sg", else
    // one after another).
    const auto permuted = [&](const std::vector<int64_t>& order) {
        HostAttentionProblem x = in.host;
        for (std::vector<float>* t : {&x.q, &x.k}) {
            const std::vector<float> src = *t;
            for (std::size_t row = 0; row + static_cast<std::size_t>(c.D) <= t->size(); row += static_cast<std::size_t>(c.D))
                for (std::size_t d = 0; d < order.size(); ++d) (*t)[row + d] = src[row + static_cast<std::size_t>(order[d])];
        }
        return naive_attention(x, c.dtype, opt.return_weights);
    };
    std::vector<int64_t> reverse_order;
    for (int64_t d = c.D - 1; d >= 0; --d) reverse_order.push_back(d);
    const HostAttentionResult naive_rev = permuted(reverse_order);
    DotOrder lane_order;
    if (const std::size_t at = res.variant.find("tpr"); at != std::string::npos) {
        lane_order.lanes = std::atoi(res.variant.c_str() + at + 3);
        lane_order.pairwise = res.variant.find(",sg", at) != std::string::npos;
    }
    const HostAttentionResult naive_lanes = lane_order.lanes > 1 ? naive_attention(in.host, c.dtype, opt.return_weights, lane_order) : naive;
    std::ostringstream msg;
    msg << c.name() << " seed " << seed << " variant " << res.variant << ": ";

    if (std::string bad = nonfinite_mismatch("out", out, ref.out); !bad.empty()) {
        r.message = msg.str() + bad;
        return r;
    }
    r.max_abs = max_abs_diff_finite(out, ref.out);
    r.bound = 2 * std::max({max_abs_diff_finite(naive.out, ref.out), max_abs_diff_finite(naive_rev.out, ref.out),
                            max_abs_diff_finite(naive_lanes.out, ref.out)}) + 1e-6;
    r.relative = r.max_abs / std::max(max_abs(ref.out), 1e-30);
    if (!(r.max_abs <= r.bound)) {
        r.message = msg.str() + "max|out-ref| = " + std::to_string(r.max_abs) + " exceeds 2*max|naive-ref|+1e-6 = " + std::to_string(r.bound);
        return r;
    }
    if (c.dtype == DType::f32 && c.check_relative && r.relative > 1e-5) {
        r.message = msg.str() + "relative error " + std::to_string(r.relative) + " exceeds 1e-5";
        return r;
    }
    if (std::string why = check_lse(lse, ref.lse); !why.empty()) {
        r.message = msg.str() + why;
        return r;
    }
    if (opt.return_weights) {
        const std::vector<float> w = res.weights->download<float>();
        if (std::string bad = nonfinite_mismatch("weights", w, ref.weights); !bad.empty()) {
            r.message = msg.str() + bad;
            return r;
        }
        const double werr = max_abs_diff_finite(w, ref.weights), wbound = 2 * std::max({max_abs_diff_finite(naive.weights, ref.weights), max_abs_diff_finite(naive_rev.weights, ref.weights), max_abs_diff_finite(naive_lanes.weights, ref.weights)}) + 1e-6;
        if (!(werr <= wbound)) {
            r.message = msg.str() + "max|weights-ref| = " + std::to_string(werr) + " exceeds " + std::to_string(wbound);
            return r;
        }
    }
    r.passed = true;
    return r;
}

}  // namespace vkattn::test
