// Storage formats (issue 15 items 1 and 2): bf16 q / k / v / masks / outputs, and q8_0 / q4_0 K/V, against
// the double-precision reference. The shapes repeat ones the rest of the suite runs in f16 (same head-dim
// class, rows, keys and score features), so bf16 reuses their pipelines: it is the f16 variant with a
// Params bit, not a pipeline of its own.
#include <gtest/gtest.h>

#include <cmath>
#include <bit>
#include <random>

#include "test_support.hpp"

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

}  // namespace
}  // namespace vkattn::test
