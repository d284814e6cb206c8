// Tests of the host-side pieces: errors, dtypes, half conversion, and the reference attention.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "vkattn/dtype.hpp"
#include "vkattn/error.hpp"
#include "vkattn/reference.hpp"

using namespace vkattn;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool half_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

// A problem with every size given and q, k, v filled from a seeded generator.
HostAttentionProblem random_problem(int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D,
                                    int64_t Dv, uint32_t seed) {
    HostAttentionProblem p;
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = Lq, p.Lk = Lk, p.D = D, p.Dv = Dv;
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    auto fill = [&](std::vector<float>& x, int64_t n) {
        x.resize(static_cast<std::size_t>(n));
        for (float& e : x) e = dist(rng);
    };
    fill(p.q, B * Hq * Lq * D);
    fill(p.k, B * Hkv * Lk * D);
    fill(p.v, B * Hkv * Lk * Dv);
    return p;
}

// A one-head, D = 1 problem with q = 0 so every visible key gets the same score (uniform weights),
// and v[j] = j + 1 so the output tells which keys were averaged.
HostAttentionProblem uniform_problem(int64_t B, int64_t Lq, int64_t Lk) {
    HostAttentionProblem p;
    p.B = B, p.Lq = Lq, p.Lk = Lk;
    p.q.assign(static_cast<std::size_t>(B * Lq), 0.0f);
    p.k.assign(static_cast<std::size_t>(B * Lk), 1.0f);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < Lk; ++j) p.v.push_back(static_cast<float>(j + 1));
    return p;
}

// Expects the weights of row `row` to be uniform over exactly the keys in `visible` (0/1 per key).
void expect_uniform_row(const HostAttentionResult& r, int64_t Lk, int64_t row, const std::vector<int>& visible) {
    int count = 0;
    for (int v : visible) count += v;
    for (int64_t j = 0; j < Lk; ++j) {
        const float expected = visible[static_cast<std::size_t>(j)] ? 1.0f / static_cast<float>(count) : 0.0f;
        EXPECT_NEAR(r.weights[static_cast<std::size_t>(row * Lk + j)], expected, 1e-7) << "row " << row << " key " << j;
    }
}

std::string validation_message(const HostAttentionProblem& p) {
    try {
        validate_host_problem(p);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        return e.message();
    }
    return "(no error)";
}

float max_abs(const std::vector<float>& x) {
    float m = 0;
    for (float e : x) m = std::max(m, std::fabs(e));
    return m;
}

}  // namespace

// ---- errors and dtypes ----

TEST(Error, WhatIsCodeThenMessage) {
    const Error e(ErrorCode::io_error, "a.npy: bad magic");
    EXPECT_STREQ(e.what(), "io_error: a.npy: bad magic");
    EXPECT_EQ(e.message(), "a.npy: bad magic");
    EXPECT_EQ(e.code(), ErrorCode::io_error);
    EXPECT_STREQ(to_string(ErrorCode::invalid_argument), "invalid_argument");
    EXPECT_STREQ(to_string(ErrorCode::unsupported), "unsupported");
    EXPECT_STREQ(to_string(ErrorCode::no_device), "no_device");
    EXPECT_STREQ(to_string(ErrorCode::out_of_memory), "out_of_memory");
    EXPECT_STREQ(to_string(ErrorCode::device_lost), "device_lost");
    EXPECT_STREQ(to_string(ErrorCode::vulkan_error), "vulkan_error");
}

TEST(DType, SizesAndNames) {
    EXPECT_EQ(dtype_size(DType::f32), 4u);
    EXPECT_EQ(dtype_size(DType::f16), 2u);
    EXPECT_EQ(dtype_size(DType::i32), 4u);
    EXPECT_EQ(dtype_size(DType::u8), 1u);
    EXPECT_EQ(dtype_size(DType::bf16), 2u);
    EXPECT_EQ(dtype_size(DType::q8_0), 0u);  // block formats: dtype_block_bytes
    EXPECT_EQ(dtype_block_bytes(DType::q8_0), 34u);
    EXPECT_EQ(dtype_block_bytes(DType::q4_0), 18u);
    EXPECT_EQ(dtype_storage_bytes(DType::q4_0, 64), 36u);
    for (DType t : {DType::f32, DType::f16, DType::i32, DType::u8, DType::bf16, DType::q8_0, DType::q4_0})
        EXPECT_EQ(parse_dtype(dtype_name(t)), t);
}

TEST(DType, ParseAliases) {
    EXPECT_EQ(parse_dtype("float32"), DType::f32);
    EXPECT_EQ(parse_dtype("float"), DType::f32);
    EXPECT_EQ(parse_dtype("float16"), DType::f16);
    EXPECT_EQ(parse_dtype("half"), DType::f16);
    EXPECT_EQ(parse_dtype("int32"), DType::i32);
    EXPECT_EQ(parse_dtype("uint8"), DType::u8);
    EXPECT_EQ(parse_dtype("bool"), DType::u8);
    EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
    EXPECT_EQ(parse_dtype("q8"), DType::q8_0);
    EXPECT_EQ(parse_dtype("q4"), DType::q4_0);
}

TEST(DType, ParseRejectsUnknownNamingTheArgument) {
    try {
        parse_dtype("f64", "--dtype");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_EQ(e.message(), "--dtype: unknown dtype 'f64' (expected f32, f16, bf16, i32, u8, q8_0 or q4_0)");
    }
}

// ---- half conversion ----

TEST(Half, ExhaustiveRoundTrip) {
    for (uint32_t bits = 0; bits <= 0xffffu; ++bits) {
        const auto h = static_cast<uint16_t>(bits);
        const uint16_t back = float_to_half(half_to_float(h));
        if (half_is_nan(h)) {
            EXPECT_TRUE(std::isnan(half_to_float(h))) << std::hex << bits;
            EXPECT_EQ(back, h | 0x0200u) << std::hex << bits;  // payload kept, made quiet
        } else {
            ASSERT_EQ(back, h) << std::hex << bits;
        }
    }
}

TEST(Half, KnownValues) {
    EXPECT_EQ(half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(half_to_float(0xc000), -2.0f);
    EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
    EXPECT_EQ(half_to_float(0x0400), 0x1p-14f);
    EXPECT_EQ(half_to_float(0x0001), 0x1p-24f);
    EXPECT_EQ(half_to_float(0x03ff), 1023 * 0x1p-24f);
    EXPECT_EQ(half_to_float(0x7c00), kInf);
    EXPECT_EQ(half_to_float(0xfc00), -kInf);
    EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
    EXPECT_EQ(float_to_half(-0.0f), 0x8000);
    EXPECT_EQ(float_to_half(0.1f), 0x2e66);  // 0.1 rounds down to 0x2e66 (0.0999755859375)
}

TEST(Half, RoundsTiesToEven) {
    EXPECT_EQ(float_to_half(1.0f + 0x1p-11f), 0x3c00);          // halfway 0x3c00/0x3c01 -> even
    EXPECT_EQ(float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);      // halfway 0x3c01/0x3c02 -> even
    EXPECT_EQ(float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);  // just above the tie
    EXPECT_EQ(float_to_half(1.0f + 0x1p-11f - 0x1p-20f), 0x3c00);  // just below the tie
    EXPECT_EQ(float_to_half(-(1.0f + 3 * 0x1p-11f)), 0xbc02);
    EXPECT_EQ(float_to_half(2048.0f + 1.0f), 0x6800);           // 2049 ties to 2048
    EXPECT_EQ(float_to_half(2048.0f + 3.0f), 0x6802);           // 2051 ties to 2052
}

TEST(Half, Overflow) {
    EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
    EXPECT_EQ(float_to_half(65519.0f), 0x7bff);  // below the 65520 midpoint
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // the tie rounds to "even", which is infinity
    EXPECT_EQ(float_to_half(1e6f), 0x7c00);
    EXPECT_EQ(float_to_half(-1e6f), 0xfc00);
    EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7c00);
    EXPECT_EQ(float_to_half(kInf), 0x7c00);
    EXPECT_EQ(float_to_half(-kInf), 0xfc00);
}

TEST(Half, Subnormals) {
    EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);
    EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);                 // tie between 0 and 1 ulp -> 0
    EXPECT_EQ(float_to_half(0x1p-25f * 1.0001f), 0x0001);
    EXPECT_EQ(float_to_half(3 * 0x1p-25f), 0x0002);             // 1.5 ulp -> 2
    EXPECT_EQ(float_to_half(5 * 0x1p-25f), 0x0002);             // 2.5 ulp -> 2
    EXPECT_EQ(float_to_half(0x1p-26f), 0x0000);
    EXPECT_EQ(float_to_half(1023.5f * 0x1p-24f), 0x0400);       // largest subnormal rounds up to min normal
    EXPECT_EQ(float_to_half(-0x1p-24f), 0x8001);
    EXPECT_EQ(float_to_half(1e-40f), 0x0000);                   // float subnormal
    EXPECT_EQ(float_to_half(-1e-40f), 0x8000);
}

TEST(Half, NaNStaysNaN) {
    EXPECT_TRUE(half_is_nan(float_to_half(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_TRUE(half_is_nan(float_to_half(-std::numeric_limits<float>::quiet_NaN())));
    // A payload only in the low float bits would vanish when truncated; it must not become infinity.
    const uint16_t h = float_to_half(std::bit_cast<float>(0x7f800001u));
    EXPECT_TRUE(half_is_nan(h));
    EXPECT_NE(h & 0x0200u, 0u);
}

// Checks float_to_half against the definition on a sweep of float bit patterns: the result is a
// nearest half, and on a tie it is the even one. Stops below 65520, from where infinity is correct.
TEST(Half, NearestOnFloatSweep) {
    for (uint32_t bits = 0; bits < std::bit_cast<uint32_t>(65520.0f); bits += 997) {
        const float f = std::bit_cast<float>(bits);
        const uint16_t h = float_to_half(f);
        const double err = std::fabs(static_cast<double>(half_to_float(h)) - f);
        for (int delta : {-1, 1}) {
            const int n = h + delta;
            if (n < 0 || n > 0x7c00) continue;
            const double other = std::fabs(static_cast<double>(half_to_float(static_cast<uint16_t>(n))) - f);
            ASSERT_LE(err, other) << std::hex << bits;
            if (err == other) {
                ASSERT_EQ(h & 1, 0) << std::hex << bits;
            }
        }
    }
}

// ---- reference attention on hand-computed cases ----

TEST(Reference, SingleKeyGivesItsValue) {
    HostAttentionProblem p = random_problem(1, 1, 1, 3, 1, 4, 5, 1);
    const HostAttentionResult r = reference_attention(p, true);
    for (int64_t i = 0; i < 3; ++i) {
        for (int64_t d = 0; d < 5; ++d)
            EXPECT_FLOAT_EQ(r.out[static_cast<std::size_t>(i * 5 + d)], p.v[static_cast<std::size_t>(d)]);
        EXPECT_FLOAT_EQ(r.weights[static_cast<std::size_t>(i)], 1.0f);
        double dot = 0;
        for (int64_t d = 0; d < 4; ++d) dot += p.q[static_cast<std::size_t>(i * 4 + d)] * p.k[static_cast<std::size_t>(d)];
        EXPECT_NEAR(r.lse[static_cast<std::size_t>(i)], dot / 2.0, 1e-6);  // default scale 1/sqrt(4)
    }
}

TEST(Reference, TwoKeysKnownSoftmax) {
    // Scores 0 and ln 3 give weights 1/4 and 3/4; out = 2/4 + 3*6/4 = 5; lse = ln 4.
    HostAttentionProblem p;
    p.Lk = 2;
    p.scale = 1;
    p.q = {1};
    p.k = {0, std::log(3.0f)};
    p.v = {2, 6};
    const HostAttentionResult r = reference_attention(p, true);
    EXPECT_NEAR(r.weights[0], 0.25f, 1e-7);
    EXPECT_NEAR(r.weights[1], 0.75f, 1e-7);
    EXPECT_NEAR(r.out[0], 5.0f, 1e-6);
    EXPECT_NEAR(r.lse[0], std::log(4.0f), 1e-6);
}

TEST(Reference, LargeScoresDoNotOverflow) {
    HostAttentionProblem p;
    p.Lk = 2;
    p.scale = 1;
    p.q = {1000};
    p.k = {1, 1};
    p.v = {1, 3};
    const HostAttentionResult r = reference_attention(p);
    EXPECT_NEAR(r.out[0], 2.0f, 1e-6);
    EXPECT_NEAR(r.lse[0], 1000 + std::log(2.0), 1e-3);
}

TEST(Reference, CausalTopLeftVersusBottomRight) {
    HostAttentionProblem p = uniform_problem(1, 2, 4);
    p.causal = Causal::top_left;  // query i sees keys j <= i
    HostAttentionResult r = reference_attention(p, true);
    expect_uniform_row(r, 4, 0, {1, 0, 0, 0});
    expect_uniform_row(r, 4, 1, {1, 1, 0, 0});
    EXPECT_NEAR(r.out[1], 1.5f, 1e-6);

    p.causal = Causal::bottom_right;  // query i sees keys j <= i + 2
    r = reference_attention(p, true);
    expect_uniform_row(r, 4, 0, {1, 1, 1, 0});
    expect_uniform_row(r, 4, 1, {1, 1, 1, 1});
    EXPECT_NEAR(r.out[0], 2.0f, 1e-6);
    EXPECT_TRUE(reference_key_visible(p, 0, 0, 0, 2, nullptr));
    EXPECT_FALSE(reference_key_visible(p, 0, 0, 0, 3, nullptr));
}

TEST(Reference, BottomRightWithMoreQueriesThanKeysEmptiesLeadingRows) {
    HostAttentionProblem p = uniform_problem(1, 4, 2);
    p.causal = Causal::bottom_right;  // j <= i - 2: rows 0 and 1 see nothing
    const HostAttentionResult r = reference_attention(p, true);
    for (std::size_t i : {0u, 1u}) {
        EXPECT_EQ(r.out[i], 0.0f);
        EXPECT_EQ(r.lse[i], -kInf);
    }
    expect_uniform_row(r, 2, 2, {1, 0});
    expect_uniform_row(r, 2, 3, {1, 1});
}

TEST(Reference, KeyLengthsZeroGivesZerosAndMinusInfinity) {
    HostAttentionProblem p = uniform_problem(2, 1, 3);
    p.key_lengths = {2, 0};
    const HostAttentionResult r = reference_attention(p, true);
    expect_uniform_row(r, 3, 0, {1, 1, 0});
    EXPECT_NEAR(r.out[0], 1.5f, 1e-6);
    EXPECT_EQ(r.out[1], 0.0f);
    EXPECT_EQ(r.lse[1], -kInf);
    expect_uniform_row(r, 3, 1, {0, 0, 0});
    EXPECT_FALSE(std::isnan(r.out[1]));
}

TEST(Reference, BoolMask) {
    HostAttentionProblem p = uniform_problem(1, 2, 3);
    p.mask_shape = {2, 3};
    p.mask = {1, 0, 1, 0, 0, 0};
    p.mask_is_bool = true;
    const HostAttentionResult r = reference_attention(p, true);
    expect_uniform_row(r, 3, 0, {1, 0, 1});
    EXPECT_NEAR(r.out[0], 2.0f, 1e-6);
    EXPECT_EQ(r.lse[1], -kInf);
    EXPECT_EQ(r.out[1], 0.0f);
}

TEST(Reference, AdditiveMask) {
    HostAttentionProblem p = uniform_problem(1, 1, 4);
    // -inf and anything <= -1e30 mask out; a finite term shifts the score (ln 3 -> weight 3x).
    p.mask_shape = {1, 4};
    p.mask = {0, -kInf, -1e30f, std::log(3.0f)};
    const HostAttentionResult r = reference_attention(p, true);
    EXPECT_NEAR(r.weights[0], 0.25f, 1e-7);
    EXPECT_EQ(r.weights[1], 0.0f);
    EXPECT_EQ(r.weights[2], 0.0f);
    EXPECT_NEAR(r.weights[3], 0.75f, 1e-7);
    double additive = 0;
    EXPECT_TRUE(reference_key_visible(p, 0, 0, 0, 3, &additive));
    EXPECT_NEAR(additive, std::log(3.0), 1e-6);
    EXPECT_FALSE(reference_key_visible(p, 0, 0, 0, 2, &additive));
    EXPECT_FALSE(reference_key_visible(p, 0, 0, 0, 1, &additive));
    EXPECT_TRUE(reference_key_visible(p, 0, 0, 0, 0, &additive));
    EXPECT_EQ(additive, 0.0);
}

TEST(Reference, MasksCombine) {
    HostAttentionProblem p = uniform_problem(1, 2, 3);
    p.causal = Causal::top_left;
    p.key_lengths = {3};
    p.mask_shape = {2, 3};
    p.mask = {1, 1, 1, 0, 1, 1};
    p.mask_is_bool = true;
    const HostAttentionResult r = reference_attention(p, true);
    expect_uniform_row(r, 3, 0, {1, 0, 0});
    expect_uniform_row(r, 3, 1, {0, 1, 0});
}

TEST(Reference, FourDimensionalMaskBroadcasts) {
    // Two batches, two heads; the mask is [1, Hq, Lq, Lk]: head 0 sees key 0, head 1 sees key 1.
    HostAttentionProblem p;
    p.B = 2, p.Hq = 2, p.Lk = 2;
    p.q.assign(4, 0.0f);
    p.k.assign(4, 0.0f);
    p.v = {10, 20, 30, 40};  // batch 0: keys 10, 20; batch 1: keys 30, 40
    p.mask_shape = {1, 2, 1, 2};
    p.mask = {1, 0, 0, 1};
    p.mask_is_bool = true;
    HostAttentionResult r = reference_attention(p);
    EXPECT_EQ(r.out, (std::vector<float>{10, 20, 30, 40}));

    // [B, 1, Lq, Lk]: batch 0 sees key 1, batch 1 sees key 0, in both heads.
    p.mask_shape = {2, 1, 1, 2};
    p.mask = {0, 1, 1, 0};
    r = reference_attention(p);
    EXPECT_EQ(r.out, (std::vector<float>{20, 20, 30, 30}));
}

TEST(Reference, GroupedQueryHeadsShareKeyValueHeads) {
    // Hq = 4, Hkv = 2: query heads 0, 1 read kv head 0 (v = 10), heads 2, 3 read kv head 1 (v = 20).
    HostAttentionProblem p;
    p.Hq = 4, p.Hkv = 2;
    p.q.assign(4, 1.0f);
    p.k.assign(2, 1.0f);
    p.v = {10, 20};
    const HostAttentionResult r = reference_attention(p);
    EXPECT_EQ(r.out, (std::vector<float>{10, 10, 20, 20}));
}

TEST(Reference, ScaleZeroMeansInverseSqrtD) {
    HostAttentionProblem p = random_problem(1, 1, 1, 2, 3, 16, 4, 7);
    const HostAttentionResult by_default = reference_attention(p, true);
    p.scale = 0.25f;
    const HostAttentionResult explicit_scale = reference_attention(p, true);
    EXPECT_EQ(by_default.weights, explicit_scale.weights);
    EXPECT_EQ(by_default.lse, explicit_scale.lse);
}

// ---- naive_attention against the reference ----

TEST(Naive, F32MatchesReference) {
    HostAttentionProblem p = random_problem(2, 4, 2, 17, 33, 64, 48, 11);
    p.causal = Causal::bottom_right;
    p.key_lengths = {33, 20};
    const HostAttentionResult ref = reference_attention(p);
    const HostAttentionResult naive = naive_attention(p, DType::f32);
    ASSERT_EQ(naive.out.size(), ref.out.size());
    const float bound = 1e-5f * max_abs(ref.out);
    for (std::size_t i = 0; i < ref.out.size(); ++i) ASSERT_NEAR(naive.out[i], ref.out[i], bound) << i;
    for (std::size_t i = 0; i < ref.lse.size(); ++i)
        ASSERT_NEAR(naive.lse[i], ref.lse[i], 1e-5f * std::max(1.0f, std::fabs(ref.lse[i]))) << i;
}

TEST(Naive, F16WithinHalfRounding) {
    HostAttentionProblem p = random_problem(1, 2, 1, 9, 40, 32, 16, 12);
    p.mask_shape = {9, 40};
    std::mt19937 rng(3);
    for (int64_t n = 0; n < 9 * 40; ++n) p.mask.push_back(rng() % 4 == 0 ? -kInf : 0.0f);
    const HostAttentionResult ref = reference_attention(p);
    const HostAttentionResult naive = naive_attention(p, DType::f16);
    // Each probability carries a relative error <= 2^-11, the output one more rounding of 2^-11.
    const float bound = 2 * 0x1p-11f * max_abs(p.v) + 1e-5f;
    for (std::size_t i = 0; i < ref.out.size(); ++i) {
        ASSERT_NEAR(naive.out[i], ref.out[i], bound) << i;
        ASSERT_EQ(naive.out[i], round_to_half(naive.out[i])) << "output not rounded to half at " << i;
    }
}

// DotOrder: each order sums the same products, so the results agree to f32 rounding; the lane orders
// are computed as documented (checked on a row whose sums are exact in any order but the last term's).
TEST(Naive, DotOrdersSumTheSameProducts) {
    HostAttentionProblem p = random_problem(1, 2, 2, 5, 19, 40, 8, 21);
    const HostAttentionResult fwd = naive_attention(p, DType::f32);
    for (DotOrder o : {DotOrder{4, false}, DotOrder{4, true}, DotOrder{8, true}, DotOrder{16, false}}) {
        const HostAttentionResult r = naive_attention(p, DType::f32, false, o);
        for (std::size_t i = 0; i < fwd.out.size(); ++i) ASSERT_NEAR(r.out[i], fwd.out[i], 1e-5f * max_abs(fwd.out)) << o.lanes << " " << i;
    }
    // One query, one key, D = 16, 4 lanes: lane t holds quad t. q = 1, k = 2^24 in quad 0 and 2 in quad 1.
    // Pairwise: (2^26 + 8) + (0 + 0) is exact; in d order each + 2 to 2^26 (ulp 8) rounds away.
    HostAttentionProblem one = uniform_problem(1, 1, 1);
    one.D = one.Dv = 16;
    one.q.assign(16, 1.0f);
    one.k.assign(16, 0.0f);
    for (int d = 0; d < 4; ++d) one.k[d] = 0x1p24f, one.k[4 + d] = 2.0f;
    one.v.assign(16, 0.0f);
    one.scale = 1.0f;
    one.softcap = 0;
    // The score is the lse of a single key: lse = dot.
    EXPECT_EQ(naive_attention(one, DType::f32).lse[0], 0x1p26f);
    EXPECT_EQ(naive_attention(one, DType::f32, false, DotOrder{4, true}).lse[0], 0x1p26f + 8.0f);
    EXPECT_THROW(naive_attention(one, DType::f32, false, DotOrder{3, true}), Error);
}

TEST(Naive, FullyMaskedRowsAndBadPrecision) {
    HostAttentionProblem p = uniform_problem(2, 1, 3);
    p.key_lengths = {3, 0};
    const HostAttentionResult r = naive_attention(p, DType::f16);
    EXPECT_EQ(r.out[1], 0.0f);
    EXPECT_EQ(r.lse[1], -kInf);
    EXPECT_NEAR(r.out[0], 2.0f, 1e-3);
    EXPECT_THROW(naive_attention(p, DType::i32), Error);
}

// ---- validation messages ----

TEST(Validate, WrongQSizeNamesQAndTheShape) {
    HostAttentionProblem p = random_problem(1, 2, 2, 32, 8, 64, 64, 1);
    p.q.resize(100);
    EXPECT_EQ(validation_message(p), "q: expected 4096 elements for [B, Hq, Lq, D] = [1, 2, 32, 64], got 100");
    EXPECT_THROW(reference_attention(p), Error);
}

TEST(Validate, EachFieldIsNamed) {
    const HostAttentionProblem good = random_problem(2, 4, 2, 3, 5, 8, 6, 1);
    EXPECT_EQ(validation_message(good), "(no error)");

    HostAttentionProblem p = good;
    p.k.pop_back();
    EXPECT_EQ(validation_message(p), "k: expected 160 elements for [B, Hkv, Lk, D] = [2, 2, 5, 8], got 159");
    p = good;
    p.v.push_back(0);
    EXPECT_EQ(validation_message(p), "v: expected 120 elements for [B, Hkv, Lk, Dv] = [2, 2, 5, 6], got 121");
    p = good;
    p.Hkv = 3;
    EXPECT_EQ(validation_message(p), "Hq: 4 query heads is not a multiple of Hkv = 3");
    p = good;
    p.Lk = 0;
    EXPECT_EQ(validation_message(p), "Lk: must be >= 1, got 0");
    p = good;
    p.key_lengths = {1};
    EXPECT_EQ(validation_message(p), "key_lengths: expected 2 entries (one per batch), got 1");
    p.key_lengths = {5, 6};
    EXPECT_EQ(validation_message(p), "key_lengths[1]: 6 is outside [0, Lk = 5]");
    p.key_lengths = {-1, 0};
    EXPECT_EQ(validation_message(p), "key_lengths[0]: -1 is outside [0, Lk = 5]");
    p = good;
    p.scale = kInf;
    EXPECT_EQ(validation_message(p).rfind("scale: must be finite", 0), 0u);
}

TEST(Validate, MaskShapeAndSize) {
    HostAttentionProblem p = random_problem(2, 4, 2, 3, 5, 8, 6, 1);
    const std::string expected_shapes = "mask_shape: expected [Lq, Lk] = [3, 5] or [Bm, Hm, Lq, Lk] with Bm in {1, 2}, "
                                        "Hm in {1, 4}, got ";
    p.mask_shape = {5, 3};
    p.mask.assign(15, 0.0f);
    EXPECT_EQ(validation_message(p), expected_shapes + "[5, 3]");
    p.mask_shape = {3, 1, 3, 5};
    EXPECT_EQ(validation_message(p), expected_shapes + "[3, 1, 3, 5]");
    p.mask_shape = {2, 2, 3, 5};
    EXPECT_EQ(validation_message(p), expected_shapes + "[2, 2, 3, 5]");
    p.mask_shape = {4, 3, 5};
    EXPECT_EQ(validation_message(p), expected_shapes + "[4, 3, 5]");
    p.mask_shape = {1, 4, 3, 5};
    EXPECT_EQ(validation_message(p), "mask: expected 60 values for mask_shape [1, 4, 3, 5], got 15");
    p.mask_shape = {3, 5};
    EXPECT_EQ(validation_message(p), "(no error)");
    p.mask_shape.clear();
    EXPECT_EQ(validation_message(p), "mask: 15 values given but mask_shape is empty");
}

TEST(Validate, HugeSizesDoNotOverflow) {
    HostAttentionProblem p;
    p.B = p.Hq = p.Hkv = p.Lq = int64_t{1} << 20;
    p.D = int64_t{1} << 30;
    const std::string message = validation_message(p);
    EXPECT_NE(message.find("overflows"), std::string::npos) << message;
}

// Attention sinks: the sink joins the denominator and takes no value. One query over two keys with
// scores s0, s1 and sink t: P_j = exp(s_j) / (exp(t) + exp(s0) + exp(s1)), lse = log of that sum.
TEST(Reference, SinkJoinsTheDenominatorOnly) {
    HostAttentionProblem p;
    p.B = 1, p.Hq = 2, p.Hkv = 1, p.Lq = 1, p.Lk = 2, p.D = 1, p.Dv = 1;
    p.q = {1.0f, 2.0f};
    p.k = {0.5f, -1.0f};
    p.v = {3.0f, 7.0f};
    p.scale = 1.0f;
    p.sinks = {0.25f, -3.0f};
    const HostAttentionResult r = reference_attention(p, true);
    for (int h = 0; h < 2; ++h) {
        const double s0 = p.q[h] * 0.5, s1 = -p.q[h], t = p.sinks[h];
        const double z = std::exp(t) + std::exp(s0) + std::exp(s1);
        EXPECT_NEAR(r.weights[h * 2], std::exp(s0) / z, 1e-7);
        EXPECT_NEAR(r.weights[h * 2 + 1], std::exp(s1) / z, 1e-7);
        EXPECT_NEAR(r.out[h], (3.0 * std::exp(s0) + 7.0 * std::exp(s1)) / z, 1e-6);
        EXPECT_NEAR(r.lse[h], std::log(z), 1e-6);
    }
    // The float implementation agrees; a row with no visible key gives zeros and lse = the sink.
    const HostAttentionResult n = naive_attention(p, DType::f32, true);
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(n.out[i], r.out[i], 1e-5);
    p.key_lengths = {0};
    const HostAttentionResult empty = reference_attention(p);
    EXPECT_EQ(empty.out[0], 0.0f);
    EXPECT_FLOAT_EQ(empty.lse[0], 0.25f);
    EXPECT_FLOAT_EQ(empty.lse[1], -3.0f);
    p.sinks = {1.0f};
    try {
        reference_attention(p);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("sinks: expected 2 values"), std::string::npos) << e.message();
    }
}
