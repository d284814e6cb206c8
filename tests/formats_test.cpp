// Storage formats (issue 15 items 1 and 2): bf16 q / k / v / masks / outputs, and q8_0 / q4_0 K/V, against
// the double-precision reference. The shapes repeat ones the rest of the suite runs in f16 (same head-dim
// class, rows, keys and score features), so bf16 reuses their pipelines: it is the f16 variant with a
// Params bit, not a pipeline of its own.
#include <gtest/gtest.h>

#include <cmath>
#include <bit>
#include <random>

#include "test_support.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::test {
namespace {

Case make(int64_t b, int64_t hq, int64_t hkv, int64_t lq, int64_t lk, int64_t d, DType dt, Path path, Causal causal,
          MaskKind mask = MaskKind::none, bool key_lengths = false) {
    Case c;
    c.B = b, c.Hq = hq, c.Hkv = hkv, c.Lq = lq, c.Lk = lk, c.D = d, c.dtype = dt, c.path = path, c.causal = causal, c.mask = mask;
    c.key_lengths = key_lengths;
    return c;
}

// bf16 everywhere: the mask-sweep shapes (rowwise fused and the explicit path on CPU devices), bf16
// additive masks, strided [B, L, H, D] inputs, and decode shapes (split-KV kernel, packed bf16 output).
std::vector<Case> bf16_cases() {
    const DType bf = DType::bf16;
    const Path fused = Path::fused, expl = Path::explicit_;
    std::vector<Case> v = {
        make(3, 4, 2, 77, 45, 40, bf, fused, Causal::none, MaskKind::additive_2d),
        make(3, 4, 2, 45, 77, 40, bf, expl, Causal::none, MaskKind::additive_4d),
        make(3, 4, 2, 77, 45, 40, bf, fused, Causal::top_left, MaskKind::bool_4d),
        make(3, 4, 2, 45, 77, 40, bf, expl, Causal::bottom_right, MaskKind::bool_2d, true),
        make(3, 4, 2, 77, 45, 40, bf, fused, Causal::none, MaskKind::none, true),
        make(1, 8, 8, 1, 77, 128, bf, fused, Causal::bottom_right),             // decode kernel
        make(1, 8, 8, 8, 1, 80, bf, fused, Causal::none, MaskKind::bool_2d),  // decode, odd D, one key
    };
    Case strided = make(2, 8, 2, 50, 83, 64, bf, fused, Causal::bottom_right);
    strided.blhd = true;
    v.push_back(strided);
    Case empty_rows = make(3, 4, 2, 45, 77, 40, bf, fused, Causal::none, MaskKind::bool_4d);
    empty_rows.fully_masked_rows = true;
    v.push_back(empty_rows);
    return v;
}

class Bf16 : public ::testing::TestWithParam<Case> {};
TEST_P(Bf16, MatchesReference) {
    const Outcome r = run_case(GetParam(), fresh_seed());
    EXPECT_TRUE(r.passed) << r.message;
}
std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name(); }
INSTANTIATE_TEST_SUITE_P(Formats, Bf16, ::testing::ValuesIn(bf16_cases()), case_name);

// The tiled (GPU) kernel reads bf16 through the same 16-bit tiles as f16 (tile_unpack / tile_pack with the
// Params bit): forced on CPU devices as the sweep's TiledKernel cases do, on their f16 shapes (same pipelines).
TEST(Bf16Tiled, MatchesReference) {
    ScopedEnv force("VKATTN_FUSED_KERNEL", "tiled");
    for (const Case& c : {make(3, 4, 2, 77, 45, 40, DType::bf16, Path::fused, Causal::none, MaskKind::additive_2d),
                          make(3, 4, 2, 45, 77, 40, DType::bf16, Path::fused, Causal::top_left, MaskKind::bool_4d, true)}) {
        const Outcome r = run_case(c, fresh_seed());
        EXPECT_TRUE(r.passed) << r.message;
        EXPECT_EQ(r.variant.rfind("fused.bf16.", 0), 0u) << r.variant;
    }
}

// A bf16 output is the f32 result rounded to nearest even, element for element (the kernels are
// deterministic): on the staged path (rowwise rows packed by the convert pass) and the decode path (the
// combine pass packs it), from f32 and bf16 inputs alike; outputs poisoned first (test contexts poison
// every allocation), so an unwritten element would be NaN.
TEST(Bf16Output, IsTheF32ResultRoundedToNearestEven) {
    Context& ctx = context();
    std::mt19937_64 gen(fresh_seed());
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto [lq, dt] : {std::pair<int64_t, DType>{77, DType::f32}, {1, DType::bf16}}) {
        const int64_t B = 1, Hq = 8, Hkv = 8, Lk = 77, D = 128;
        const auto values = [&](int64_t n) {
            std::vector<float> x(static_cast<std::size_t>(n));
            for (float& e : x) e = dist(gen);
            return x;
        };
        const Tensor q = ctx.upload(values(B * Hq * lq * D), {B, Hq, lq, D}, dt);
        const Tensor k = ctx.upload(values(B * Hkv * Lk * D), {B, Hkv, Lk, D}, dt);
        const Tensor v = ctx.upload(values(B * Hkv * Lk * D), {B, Hkv, Lk, D}, dt);
        AttentionOptions o;
        o.causal = Causal::bottom_right;
        o.out_dtype = DType::f32;
        const std::vector<float> f32 = attention(ctx, q, k, v, o).download<float>();
        o.out_dtype = DType::bf16;
        const Tensor out = attention(ctx, q, k, v, o);
        ASSERT_EQ(out.dtype(), DType::bf16);
        const std::vector<uint16_t> bits = out.download<uint16_t>();
        ASSERT_EQ(bits.size(), f32.size());
        for (std::size_t e = 0; e < bits.size(); ++e)
            ASSERT_EQ(bits[e], float_to_bf16(f32[e])) << "Lq " << lq << " element " << e << ": f32 " << f32[e];
    }
}

// The host conversions the kernels' are checked against: round to nearest even, ties, NaN, infinity.
TEST(Bf16Host, RoundsToNearestEven) {
    EXPECT_EQ(float_to_bf16(1.0f), 0x3f80u);
    EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80u);  // tie, even stays
    EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82u);  // tie, odd rounds up
    EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81u);
    EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80u);  // max float rounds to inf
    EXPECT_EQ(float_to_bf16(-INFINITY), 0xff80u);
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::bit_cast<float>(0x7f800001u)))));  // payload in the low bits only
    EXPECT_EQ(bf16_to_float(0xc040u), -3.0f);
}

// Quantised K/V (q8_0, q4_0) against the reference on the dequantised values (what the kernels read): the
// kernels compute in f32 from those values, so q's precision sets the bound (twice the naive error), not the
// quantisation. Decode shapes (split-KV kernel), the rowwise fused kernel with every mask kind, the explicit
// path, strided [B, L, H, D] K/V, Dv != D, and a head dim that leaves part of the head-dim class empty (96 of 128).
std::vector<Case> quant_cases() {
    const Path fused = Path::fused, expl = Path::explicit_;
    std::vector<Case> v;
    for (DType kv : {DType::q8_0, DType::q4_0}) {
        const auto add = [&](Case c) {
            c.kv_dtype = kv;
            v.push_back(c);
        };
        // Two pipelines per format (each new pipeline costs ~10-20 s of lavapipe's LLVM): the decode kernel
        // (f16 variant, head-dim class 128, 8 rows, no mask) and the rowwise kernel (f32, class 64, masked).
        add(make(1, 8, 8, 1, 77, 128, DType::f16, fused, Causal::bottom_right));                  // decode
        add(make(2, 8, 8, 1, 300, 96, DType::bf16, fused, Causal::none, MaskKind::none, true));   // decode, bf16 q, class 128 part empty
        add(make(3, 4, 2, 77, 45, 64, DType::f32, fused, Causal::top_left, MaskKind::bool_4d));     // rowwise, every mask kind
        add(make(3, 4, 2, 45, 77, 64, DType::f32, fused, Causal::bottom_right, MaskKind::additive_2d, true));
        add(make(2, 4, 2, 45, 77, 64, DType::f32, fused, Causal::none, MaskKind::additive_4d));
        Case strided = make(2, 8, 2, 50, 83, 64, DType::f32, fused, Causal::none, MaskKind::bool_2d);
        strided.blhd = true;
        add(strided);
        Case dv = make(1, 4, 2, 33, 70, 64, DType::f32, fused, Causal::none, MaskKind::bool_2d);
        dv.Dv = 32;
        dv.fully_masked_rows = true;
        add(dv);
    }
    // The explicit path (the rowwise fused pass above, then the weights pass reading q8_0 K): one more pipeline.
    Case expl_case = make(3, 4, 2, 45, 77, 64, DType::f32, expl, Causal::none, MaskKind::bool_2d, true);
    expl_case.kv_dtype = DType::q8_0;
    v.push_back(expl_case);
    return v;
}

class QuantKv : public ::testing::TestWithParam<Case> {};
TEST_P(QuantKv, MatchesReferenceOnDequantisedValues) {
    const Outcome r = run_case(GetParam(), fresh_seed());
    EXPECT_TRUE(r.passed) << r.message;
    EXPECT_NE(r.variant.find("+kv_" + std::string(dtype_name(*GetParam().kv_dtype))), std::string::npos) << r.variant;
}
INSTANTIATE_TEST_SUITE_P(Formats, QuantKv, ::testing::ValuesIn(quant_cases()), case_name);

// The host blocks are ggml's: layout, scale, rounding, nibble order; and a round trip through the device is exact.
TEST(QuantHost, BlocksFollowGgmlLayout) {
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i - 20) * 0.25f;
    std::vector<uint8_t> q8(dtype_storage_bytes(DType::q8_0, 64)), q4(dtype_storage_bytes(DType::q4_0, 64));
    ASSERT_EQ(q8.size(), 68u);
    ASSERT_EQ(q4.size(), 36u);
    quantize_blocks(DType::q8_0, x.data(), 64, q8.data());
    quantize_blocks(DType::q4_0, x.data(), 64, q4.data());
    // q8_0 block 0: amax = 5 (x[0] = -5), d = 5/127, x[0] -> -127.
    EXPECT_EQ(q8[0] | (q8[1] << 8), float_to_half(5.0f / 127.0f));
    EXPECT_EQ(static_cast<int8_t>(q8[2]), -127);
    EXPECT_EQ(static_cast<int8_t>(q8[2 + 20]), 0);  // x[20] = 0
    // q4_0 block 0: the value of largest magnitude is -5 (x[0]), d = -5 / -8 = 0.625; x[0] -> nibble 0, x[16] = -1 -> 6.
    EXPECT_EQ(q4[0] | (q4[1] << 8), float_to_half(0.625f));
    EXPECT_EQ(q4[2] & 0x0f, 0);
    EXPECT_EQ(q4[2] >> 4, 6);  // element 16 in the high nibble of qs[0]
    std::vector<float> back(64);
    // Within half a step (d, whose f16 rounding adds a little) of each block: amax 5 and 10.75.
    const auto step = [](std::size_t i, double levels) { return (i < 32 ? 5.0 : 10.75) / levels; };
    dequantize_blocks(DType::q8_0, q8.data(), 64, back.data());
    for (std::size_t i = 0; i < 64; ++i) EXPECT_NEAR(back[i], x[i], 0.502 * step(i, 127)) << i;
    dequantize_blocks(DType::q4_0, q4.data(), 64, back.data());
    for (std::size_t i = 0; i < 64; ++i) EXPECT_NEAR(back[i], x[i], 0.502 * step(i, 8)) << i;
    Context& ctx = context();
    for (DType t : {DType::q8_0, DType::q4_0}) {
        const Tensor d = ctx.upload(x, {2, 32}, t);
        std::vector<float> want(64);
        dequantize_blocks(t, t == DType::q8_0 ? q8.data() : q4.data(), 64, want.data());
        EXPECT_EQ(d.download<float>(), want);
        EXPECT_EQ(d.download<uint8_t>(), t == DType::q8_0 ? q8 : q4);
    }
}

// A q8_0 / q4_0 KvCache: append quantises f16 rows on the device (uneven counts, a second append next to
// cached blocks, whose half-words it shares), every appended value is within half a quantisation step of
// its input, earlier rows are unchanged, and attend() (the decode kernel) matches the reference on the
// cache's dequantised contents.
TEST(QuantKvCache, AppendQuantisesOnDeviceAndAttends) {
    Context& ctx = context();
    std::mt19937_64 gen(fresh_seed());
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const int64_t B = 2, Hq = 8, Hkv = 8, D = 128, cap = 45;
    for (DType t : {DType::q8_0, DType::q4_0}) {
        KvCache cache(ctx, {B, Hkv, cap, D, 0, t});
        std::vector<float> host_k(static_cast<std::size_t>(B * Hkv * cap * D), 0.0f);
        const auto append = [&](int64_t n, std::vector<int32_t> counts) {
            std::vector<float> k(static_cast<std::size_t>(B * Hkv * n * D)), v(k.size());
            for (float& e : k) e = round_to_half(dist(gen));
            for (float& e : v) e = round_to_half(dist(gen));
            const std::vector<int32_t> len = cache.lengths();
            for (int64_t b = 0; b < B; ++b)
                for (int64_t h = 0; h < Hkv; ++h)
                    for (int64_t r = 0; r < counts[static_cast<std::size_t>(b)]; ++r)
                        std::copy_n(k.begin() + ((b * Hkv + h) * n + r) * D, D,
                                    host_k.begin() + ((b * Hkv + h) * cap + len[static_cast<std::size_t>(b)] + r) * D);
            cache.append(ctx.upload(k, {B, Hkv, n, D}, DType::f16), ctx.upload(v, {B, Hkv, n, D}, DType::f16), counts);
        };
        append(31, {31, 17});
        const std::vector<float> first = cache.keys().download<float>();
        append(3, {1, 3});
        const std::vector<float> keys = cache.keys().download<float>();
        // Half a step (amax / 127) for q8_0; q4_0 spans [-8, 7] steps of d = m / -8 around the value m of largest
        // magnitude, so values near -m clamp to 7 steps: up to a whole step (amax / 8).
        const double step_share = t == DType::q8_0 ? 0.5 / 127.0 : 1.0 / 8.0;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < Hkv; ++h)
                for (int64_t r = 0; r < cache.lengths()[static_cast<std::size_t>(b)]; ++r)
                    for (int64_t blk = 0; blk < D / 32; ++blk) {
                        const std::size_t at = static_cast<std::size_t>(((b * Hkv + h) * cap + r) * D + 32 * blk);
                        double amax = 0;
                        for (std::size_t e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(double(host_k[at + e])));
                        for (std::size_t e = 0; e < 32; ++e) {
                            ASSERT_LE(std::fabs(keys[at + e] - host_k[at + e]), amax * (step_share + 1.0 / 1024) + 1e-7)  // d is stored as f16
                                << dtype_name(t) << " b " << b << " h " << h << " row " << r << " element " << 32 * blk + e;
                            if (r < (b == 0 ? 31 : 17)) ASSERT_EQ(keys[at + e], first[at + e]) << "a cached row changed";
                        }
                    }
        std::vector<float> q(static_cast<std::size_t>(B * Hq * D));
        for (float& e : q) e = round_to_half(dist(gen));
        const AttentionResult r = attend(ctx, ctx.upload(q, {B, Hq, 1, D}, DType::f16), cache);
        EXPECT_EQ(r.variant.rfind(context().device().type == DeviceType::cpu ? "decode_split." : "fused_rowwise.", 0), 0u) << r.variant;
        HostAttentionProblem p;
        p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = 1, p.Lk = cap, p.D = D, p.Dv = D;
        p.q = q, p.k = keys, p.v = cache.values().download<float>();
        p.causal = Causal::bottom_right, p.key_lengths = cache.lengths(), p.align_to_key_lengths = true;
        const HostAttentionResult ref = reference_attention(p), naive = naive_attention(p, DType::f16);
        const std::vector<float> out = r.out.download<float>();
        double err = 0, bound = 0;
        for (std::size_t e = 0; e < out.size(); ++e) {
            err = std::isfinite(out[e]) ? std::max(err, std::fabs(double(out[e]) - ref.out[e])) : INFINITY;
            bound = std::max(bound, std::fabs(double(naive.out[e]) - ref.out[e]));
        }
        EXPECT_LE(err, 2 * bound + 1e-6) << dtype_name(t);
    }
}

}  // namespace
}  // namespace vkattn::test
