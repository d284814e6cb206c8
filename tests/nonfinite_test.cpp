// Non-finite input values (NaN, +-inf in q, k, v): the behaviour documented in docs/bad_inputs.md,
// the same on every path (fused rowwise, fused tiled, split-KV decode, explicit with weights):
//   - a NaN anywhere in a query row, or a NaN or +inf score, makes that row's out and lse NaN;
//   - a NaN in a key row makes every query row that attends that key NaN (out and lse);
//   - a -inf score removes the key, exactly as a mask does;
//   - a NaN or inf in V[j, c] reaches column c of exactly the rows that attend key j;
//   - keys a row does not attend (causality, key_lengths, mask) never affect it, whatever they hold.
// Each case is compared with the same problem without the bad value ("clean").
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>

#include "test_support.hpp"

namespace vkattn::test {
namespace {

struct PathSetup {
    const char* name;
    Path path;
    const char* fused_kernel;  // VKATTN_FUSED_KERNEL, or null
    int64_t Lq, Lk;
    const char* cpu_variant;   // variant prefix expected on a CPU device
};

constexpr int64_t kB = 1, kHq = 2, kHkv = 1, kD = 16;

struct Problem {
    int64_t Lq, Lk;
    std::vector<float> q, k, v;
    int32_t key_length;
    std::optional<int64_t> masked_key;  // masked out by a boolean mask (for the -inf comparison)
    bool visible(int64_t i, int64_t j) const {
        return j <= i + Lk - Lq && j < key_length && (!masked_key || j != *masked_key);
    }
    float& q_at(int64_t h, int64_t i, int64_t d) { return q[static_cast<std::size_t>((h * Lq + i) * kD + d)]; }
    float& k_at(int64_t j, int64_t d) { return k[static_cast<std::size_t>(j * kD + d)]; }
    float& v_at(int64_t j, int64_t d) { return v[static_cast<std::size_t>(j * kD + d)]; }
};

struct Result {
    std::vector<float> out, lse, weights;
    std::string variant;
};

Problem clean_problem(int64_t Lq, int64_t Lk) {
    Problem p{Lq, Lk, {}, {}, {}, static_cast<int32_t>(Lk - 1), std::nullopt};
    p.q.resize(static_cast<std::size_t>(kB * kHq * Lq * kD));
    p.k.resize(static_cast<std::size_t>(kB * kHkv * Lk * kD));
    p.v.resize(p.k.size());
    for (std::size_t i = 0; i < p.q.size(); ++i) p.q[i] = 0.5f * std::sin(0.37f * static_cast<float>(i));
    for (std::size_t i = 0; i < p.k.size(); ++i)
        p.k[i] = 0.5f * std::cos(0.11f * static_cast<float>(i)), p.v[i] = std::sin(0.05f * static_cast<float>(i));
    for (int64_t h = 0; h < kHq; ++h)
        for (int64_t i = 0; i < Lq; ++i) p.q_at(h, i, 0) = 1.0f;  // q . k = k[0] + ... : signs of scores are known
    return p;
}

Result run(const PathSetup& s, const Problem& p) {
    Context& ctx = context();
    AttentionOptions o;
    o.path = s.path;
    o.causal = Causal::bottom_right;
    o.key_lengths = {p.key_length};
    o.return_lse = true;
    o.return_weights = s.path == Path::explicit_;
    if (p.masked_key) {
        std::vector<uint8_t> m(static_cast<std::size_t>(p.Lq * p.Lk), 1);
        for (int64_t i = 0; i < p.Lq; ++i) m[static_cast<std::size_t>(i * p.Lk + *p.masked_key)] = 0;
        o.mask = ctx.upload_raw(m.data(), m.size(), {p.Lq, p.Lk}, DType::u8);
    }
    if (s.fused_kernel) setenv("VKATTN_FUSED_KERNEL", s.fused_kernel, 1);
    const AttentionResult r = attention_full(ctx, ctx.upload(p.q, {kB, kHq, p.Lq, kD}), ctx.upload(p.k, {kB, kHkv, p.Lk, kD}),
                                             ctx.upload(p.v, {kB, kHkv, p.Lk, kD}), o);
    unsetenv("VKATTN_FUSED_KERNEL");
    Result res{r.out.download<float>(), r.lse->download<float>(), {}, r.variant};
    if (r.weights) res.weights = r.weights->download<float>();
    return res;
}

enum class Expect { clean, row_nan, column_nan, column_inf };

// What row (h, i) must look like, given the bad key j (or query row) and column c.
using Rule = std::function<Expect(int64_t h, int64_t i)>;

void check(const PathSetup& s, const Problem& bad, const Result& clean, const Rule& rule, int64_t column, const char* what,
           bool expect_some = true) {
    SCOPED_TRACE(what);
    const Result r = run(s, bad);
    int affected = 0;
    for (int64_t h = 0; h < kHq; ++h)
        for (int64_t i = 0; i < bad.Lq; ++i) {
            const Expect e = rule(h, i);
            affected += e != Expect::clean;
            const std::size_t row = static_cast<std::size_t>(h * bad.Lq + i);
            for (int64_t c = 0; c < kD; ++c) {
                const float x = r.out[row * kD + c], want = clean.out[row * kD + c];
                const bool in_column = c == column;
                if (e == Expect::row_nan || (e == Expect::column_nan && in_column))
                    EXPECT_TRUE(std::isnan(x)) << "row " << h << "," << i << " col " << c << ": " << x;
                else if (e == Expect::column_inf && in_column)
                    EXPECT_TRUE(std::isinf(x) && x > 0) << "row " << h << "," << i << " col " << c << ": " << x;
                else
                    EXPECT_NEAR(x, want, 1e-6) << "row " << h << "," << i << " col " << c;
            }
            if (e == Expect::row_nan) EXPECT_TRUE(std::isnan(r.lse[row])) << "lse row " << h << "," << i << ": " << r.lse[row];
            else EXPECT_NEAR(r.lse[row], clean.lse[row], 1e-6) << "lse row " << h << "," << i;
            if (!r.weights.empty())
                for (int64_t j = 0; j < bad.Lk; ++j) {
                    const float w = r.weights[row * bad.Lk + j];
                    if (!bad.visible(i, j)) EXPECT_EQ(w, 0.0f) << "masked weight " << i << "," << j;
                    else if (e == Expect::row_nan) EXPECT_TRUE(std::isnan(w)) << "weight " << i << "," << j << ": " << w;
                    else EXPECT_NEAR(w, clean.weights[row * bad.Lk + j], 1e-6) << "weight " << i << "," << j;
                }
        }
    if (expect_some) EXPECT_GT(affected, 0) << "the case affects no row: it tests nothing";
}

class NonFinite : public ::testing::TestWithParam<PathSetup> {};

TEST_P(NonFinite, PropagatesExactlyToTheRowsThatAttendTheValue) {
    const PathSetup& s = GetParam();
    const Problem base = clean_problem(s.Lq, s.Lk);
    const Result clean = run(s, base);
    if (context().device().type == DeviceType::cpu || s.fused_kernel || s.path == Path::explicit_)
        EXPECT_EQ(clean.variant.rfind(s.cpu_variant, 0), 0u) << clean.variant;
    for (float x : clean.out) ASSERT_TRUE(std::isfinite(x));
    const int64_t Lq = s.Lq, Lk = s.Lk;
    // Key j = Lk - 3 is attended by the last two query rows only (bottom-right causal); key Lk - 1 by
    // none (key_lengths = Lk - 1). Query row qi of head 0.
    const int64_t j = Lk - 3, qi = Lq / 2, col = 5;
    const auto attends = [&](const Problem& p, int64_t key, Expect e) {
        return [&p, key, e](int64_t, int64_t i) { return p.visible(i, key) ? e : Expect::clean; };
    };
    {
        Problem p = base;
        p.q_at(0, qi, 7) = NAN;
        check(s, p, clean, [&](int64_t h, int64_t i) { return h == 0 && i == qi ? Expect::row_nan : Expect::clean; }, -1, "NaN in q");
    }
    {
        Problem p = base;
        p.k_at(j, 9) = NAN;
        check(s, p, clean, attends(p, j, Expect::row_nan), -1, "NaN in k");
    }
    {
        Problem p = base;
        p.v_at(j, col) = NAN;
        check(s, p, clean, attends(p, j, Expect::column_nan), col, "NaN in v");
    }
    {
        Problem p = base;
        p.v_at(j, col) = INFINITY;
        check(s, p, clean, attends(p, j, Expect::column_inf), col, "+inf in v");
    }
    {
        Problem p = base;
        p.k_at(j, 0) = INFINITY;  // q[.., 0] = 1: a +inf score
        check(s, p, clean, attends(p, j, Expect::row_nan), -1, "+inf score");
    }
    {
        // Keys nobody attends: past key_lengths (j = Lk - 1) and causally hidden from all but the last
        // rows; NaN everywhere in them changes nothing for the rows that do not see them.
        Problem p = base;
        for (int64_t d = 0; d < kD; ++d) p.k_at(Lk - 1, d) = NAN, p.v_at(Lk - 1, d) = NAN;
        p.v_at(j, col) = NAN;
        check(s, p, clean, attends(p, j, Expect::column_nan), col, "NaN in unattended keys");
    }
    {
        // A -inf score removes the key, exactly as a mask does: compare with the masked problem.
        Problem p = base;
        for (int64_t d = 0; d < kD; ++d) p.k_at(j, d) = 0.0f;
        p.k_at(j, 0) = -INFINITY;
        Problem masked = base;
        masked.masked_key = j;
        const Result want = run(s, masked);
        check(s, p, want, [](int64_t, int64_t) { return Expect::clean; }, -1, "-inf score", false);
    }
}

std::vector<PathSetup> setups() {
    return {
        {"rowwise", Path::fused, "rowwise", 12, 40, "fused_rowwise."},
        {"rowwise_blocks", Path::fused, "rowwise", 12, 300, "fused_rowwise."},
        {"tiled", Path::fused, "tiled", 12, 70, "fused.f32."},
        {"decode", Path::fused, nullptr, 4, 300, "decode_split."},
        {"explicit", Path::explicit_, nullptr, 12, 40, "explicit.f32"},
    };
}

INSTANTIATE_TEST_SUITE_P(Paths, NonFinite, ::testing::ValuesIn(setups()),
                         [](const ::testing::TestParamInfo<PathSetup>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vkattn::test
