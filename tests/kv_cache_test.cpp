// KvCache: appends with uneven per-batch counts, attention of new queries against the cache (aligned
// to each batch's own length), checked against the reference on the cache's visible contents.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/attention_data.hpp"
#include "test_support.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::test {
namespace {

struct HostKv {
    std::vector<float> k, v;  // [B, Hkv, capacity, D]
};

std::vector<float> random_values(std::mt19937_64& rng, std::size_t n, DType dt) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(n);
    for (float& e : x) e = dt == DType::f16 ? round_to_half(g(rng)) : g(rng);
    return x;
}

// Runs `steps` appends of the given per-batch counts, then attends Lq new queries; compares with the
// reference over the host copy of the cache.
void check_decode(DType dt, int64_t Hq, int64_t Hkv, int64_t D, int64_t Lq, const std::vector<std::vector<int32_t>>& steps,
                  AttentionOptions extra = {}) {
    Context& ctx = context();
    const int64_t B = static_cast<int64_t>(steps.front().size()), cap = 600, n = 300;
    KvCache cache(ctx, {B, Hkv, cap, D, 0, dt});
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    HostKv host{std::vector<float>(static_cast<std::size_t>(B * Hkv * cap * D), 0.0f), {}};
    host.v = host.k;
    std::vector<int32_t> len(static_cast<std::size_t>(B), 0);
    for (const std::vector<int32_t>& counts : steps) {
        const std::vector<float> kn = random_values(rng, static_cast<std::size_t>(B * Hkv * n * D), dt);
        const std::vector<float> vn = random_values(rng, static_cast<std::size_t>(B * Hkv * n * D), dt);
        cache.append(ctx.upload(kn, {B, Hkv, n, D}, dt), ctx.upload(vn, {B, Hkv, n, D}, dt), counts);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < Hkv; ++h)
                for (int64_t r = 0; r < counts[static_cast<std::size_t>(b)]; ++r)
                    for (int64_t d = 0; d < D; ++d) {
                        const auto dst = static_cast<std::size_t>(((b * Hkv + h) * cap + len[static_cast<std::size_t>(b)] + r) * D + d);
                        const auto src = static_cast<std::size_t>(((b * Hkv + h) * n + r) * D + d);
                        host.k[dst] = kn[src];
                        host.v[dst] = vn[src];
                    }
        for (int64_t b = 0; b < B; ++b) len[static_cast<std::size_t>(b)] += counts[static_cast<std::size_t>(b)];
    }
    ASSERT_EQ(cache.lengths(), len);
    const std::vector<float> qh = random_values(rng, static_cast<std::size_t>(B * Hq * Lq * D), dt);
    AttentionOptions o = extra;
    o.return_lse = true;
    const AttentionResult r = attend(ctx, ctx.upload(qh, {B, Hq, Lq, D}, dt), cache, o);

    HostAttentionProblem p;
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = Lq, p.Lk = cap, p.D = D, p.Dv = D;
    p.q = qh, p.k = host.k, p.v = host.v;
    p.causal = Causal::bottom_right;
    p.key_lengths = len;
    p.align_to_key_lengths = true;
    p.window = o.window, p.alibi_slopes = o.alibi_slopes, p.softcap = o.softcap;
    const HostAttentionResult ref = reference_attention(p), naive = naive_attention(p, dt);
    const std::vector<float> out = r.out.download<float>();
    // Every element compared: a non-finite reference value must be matched exactly (none is expected).
    ASSERT_EQ(nonfinite_mismatch("out", out, ref.out), "") << "seed " << seed;
    const double err = max_abs_diff_finite(out, ref.out), bound = max_abs_diff_finite(naive.out, ref.out);
    EXPECT_LE(err, 2 * bound + 1e-6) << "variant " << r.variant << " seed " << seed;
    // Query i of batch b sees exactly keys [0, len_b - Lq + i]: its lse matches the reference's.
    const std::vector<float> lse = r.lse->download<float>();
    for (std::size_t e = 0; e < lse.size(); ++e)
        if (std::isinf(ref.lse[e])) EXPECT_TRUE(std::isinf(lse[e]) && lse[e] < 0) << e;
        else EXPECT_NEAR(lse[e], ref.lse[e], 1e-3 * std::max(1.0, std::fabs(double(ref.lse[e])))) << e;
}

TEST(KvCache, UnevenAppendsThenOneQueryPerSequence) {
    check_decode(DType::f16, 8, 2, 64, 1, {{200, 37, 1}, {1, 1, 0}, {90, 250, 3}});
}
TEST(KvCache, SeveralNewQueriesF32) { check_decode(DType::f32, 4, 4, 40, 4, {{120, 300, 7}, {4, 4, 4}}); }
TEST(KvCache, LongerThanOneDecodeChunkWithWindowAndAlibi) {
    AttentionOptions o;
    o.window = {150, 0};
    o.alibi_slopes = alibi_slopes(8);
    check_decode(DType::f16, 8, 2, 64, 2, {{300, 280}, {290, 5}}, o);
}

TEST(KvCache, BadInputNamesTheArgument) {
    Context& ctx = context();
    const auto expect_error = [](const std::function<void()>& f, const std::string& needle) {
        try {
            f();
            ADD_FAILURE() << "no error, wanted " << needle;
        } catch (const Error& e) {
            EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
        }
    };
    expect_error([&] { KvCache(ctx, {1, 1, 0, 64}); }, "capacity");
    expect_error([&] { KvCache(ctx, {1, 1, 8, 64, 0, DType::i32}); }, "dtype");
    KvCache cache(ctx, {2, 2, 8, 16, 0, DType::f32});
    const std::vector<float> rows(2 * 2 * 5 * 16, 0.5f);
    const Tensor k5 = ctx.upload(rows, {2, 2, 5, 16}), v5 = ctx.upload(rows, {2, 2, 5, 16});
    cache.append(k5, v5);
    expect_error([&] { cache.append(k5, v5); }, "exceeds the cache capacity 8");
    EXPECT_EQ(cache.lengths(), (std::vector<int32_t>{5, 5}));  // a refused append changes nothing
    expect_error([&] { cache.append(ctx.upload(rows, {2, 2, 5, 16}, DType::f16), v5); }, "k_new: dtype f16");
    expect_error([&] { cache.append(k5, v5, std::vector<int32_t>{1}); }, "counts");
    expect_error([&] { cache.append(k5, v5, std::vector<int32_t>{1, 6}); }, "counts[1]");
    expect_error([&] { cache.append(ctx.upload(rows, {4, 1, 5, 16}), v5); }, "k_new: shape");
    const Tensor q = ctx.upload(std::vector<float>(2 * 2 * 16, 1.0f), {2, 2, 1, 16});
    AttentionOptions tl;
    tl.causal = Causal::top_left;
    expect_error([&] { attend(ctx, q, cache, tl); }, "causal");
    AttentionOptions kl;
    kl.key_lengths = {1, 1};
    expect_error([&] { attend(ctx, q, cache, kl); }, "key_lengths");
    // The same context keeps working.
    cache.set_length(1, 2);
    EXPECT_EQ(cache.lengths(), (std::vector<int32_t>{5, 2}));
    const AttentionResult r = attend(ctx, q, cache);
    for (float x : r.out.download<float>()) EXPECT_NEAR(x, 0.5f, 1e-6);
}

}  // namespace
}  // namespace vkattn::test
