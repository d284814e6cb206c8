// Linear attention (include/vkattn/linear_attention.hpp) against the double reference: odd sizes (not
// multiples of the 64-key chunk or the 64-invocation workgroup), f32/f16, GQA, causal alignments, key
// lengths, strided views, wide heads, 70,000 keys (past lavapipe's 65535 loop iterations), poisoned
// outputs, and every argument error with its message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "common/attention_data.hpp"
#include "test_support.hpp"
#include "vkattn/linear_reference.hpp"

namespace vkattn::test {
namespace {

struct LinearCase {
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 16, Dv = 16;
    DType dtype = DType::f32;
    std::optional<DType> out_dtype;
    Causal causal = Causal::none;
    FeatureMap feature_map = FeatureMap::elu_plus_one;
    bool key_lengths = false;  // random lengths; batch 1 (when B > 1) gets 0: rows that see no key
    bool blhd = false;         // inputs stored [B, L, H, D], passed as transposed views
    int64_t sampled_rows = 0;  // > 0: compare this many rows (first, chunk edges, last) instead of all

    std::string name() const {
        std::ostringstream s;
        s << "B" << B << "_H" << Hq << "x" << Hkv << "_L" << Lq << "x" << Lk << "_D" << D << "v" << Dv << "_" << dtype_name(dtype);
        if (out_dtype) s << "_out" << dtype_name(*out_dtype);
        s << "_" << vkattn::to_string(causal) << "_" << (feature_map == FeatureMap::identity ? "identity" : "elu");
        if (key_lengths) s << "_keylen";
        if (blhd) s << "_blhd";
        std::string n = s.str();
        for (char& c : n)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    }
};
void PrintTo(const LinearCase& c, std::ostream* os) { *os << c.name(); }

Tensor upload(const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t X, DType dt, bool blhd) {
    return upload_qkv(context(), x, B, H, L, X, dt, blhd);
}

// Rows compared by a sampled check: the first and last, both sides of every 64-key chunk edge in the
// first few chunks, and evenly spaced ones.
std::vector<int64_t> sample_rows(int64_t Lq, int64_t count) {
    std::vector<int64_t> rows = {0, 1, 62, 63, 64, 65, 127, 128, Lq - 2, Lq - 1};
    for (int64_t r = 0; r < count; ++r) rows.push_back(r * (Lq - 1) / std::max<int64_t>(1, count - 1));
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int64_t i) { return i < 0 || i >= Lq; }), rows.end());
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
}

void run_linear_case(const LinearCase& c, uint64_t seed) {
    SCOPED_TRACE(c.name() + " seed " + std::to_string(seed) + " (replay with VKATTN_TEST_SEED)");
    std::mt19937_64 gen(seed);
    HostLinearProblem h;
    h.B = c.B, h.Hq = c.Hq, h.Hkv = c.Hkv, h.Lq = c.Lq, h.Lk = c.Lk, h.D = c.D, h.Dv = c.Dv;
    h.feature_map = c.feature_map;
    h.causal = c.causal;
    // elu + 1 takes any input; the identity map gets positive q and k so that its denominator stays
    // away from zero (the formula is ill-conditioned there in any precision).
    const auto values = [&](int64_t n, bool positive) {
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::uniform_real_distribution<float> uniform(0.1f, 1.0f);
        std::vector<float> x(static_cast<std::size_t>(n));
        for (float& e : x) {
            e = positive ? uniform(gen) : normal(gen);
            if (c.dtype == DType::f16) e = round_to_half(e);
        }
        return x;
    };
    const bool positive = c.feature_map == FeatureMap::identity;
    h.q = values(c.B * c.Hq * c.Lq * c.D, positive);
    h.k = values(c.B * c.Hkv * c.Lk * c.D, positive);
    h.v = values(c.B * c.Hkv * c.Lk * c.Dv, false);
    LinearAttentionOptions o;
    o.feature_map = c.feature_map;
    o.causal = c.causal;
    o.out_dtype = c.out_dtype;
    if (c.key_lengths) {
        std::uniform_int_distribution<int32_t> len(1, static_cast<int32_t>(c.Lk));
        for (int64_t b = 0; b < c.B; ++b) h.key_lengths.push_back(b == 1 ? 0 : len(gen));
        o.key_lengths = h.key_lengths;
    }

    const Tensor q = upload(h.q, c.B, c.Hq, c.Lq, c.D, c.dtype, c.blhd);
    const Tensor k = upload(h.k, c.B, c.Hkv, c.Lk, c.D, c.dtype, c.blhd);
    const Tensor v = upload(h.v, c.B, c.Hkv, c.Lk, c.Dv, c.dtype, c.blhd);
    const LinearAttentionResult res = linear_attention_full(context(), q, k, v, o);
    const DType out_dtype = c.out_dtype.value_or(c.dtype);
    ASSERT_EQ(res.out.shape(), (Shape{c.B, c.Hq, c.Lq, c.Dv}));
    ASSERT_EQ(res.out.dtype(), out_dtype);
    EXPECT_EQ(res.variant.rfind("linear.", 0), 0u) << res.variant;
    const std::vector<float> all = res.out.download<float>();
    // Outputs start as NaN (the test context poisons allocations): every element must be written.
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_TRUE(std::isfinite(all[i])) << "out[" << i << "] = " << all[i] << " (" << res.variant << ")";

    const std::vector<int64_t> rows = c.sampled_rows > 0 ? sample_rows(c.Lq, c.sampled_rows) : std::vector<int64_t>{};
    const std::vector<float> ref = reference_linear_attention(h, rows);
    const std::vector<float> naive = naive_linear_attention(h, out_dtype == DType::f16, rows);
    std::vector<float> got = all;
    if (!rows.empty()) {  // the sampled rows of every (b, h), in the reference's order
        got.clear();
        for (int64_t bh = 0; bh < c.B * c.Hq; ++bh)
            for (int64_t i : rows)
                got.insert(got.end(), all.begin() + (bh * c.Lq + i) * c.Dv, all.begin() + (bh * c.Lq + i + 1) * c.Dv);
    }
    ASSERT_EQ(got.size(), ref.size());
    // No element is skipped: a non-finite reference must be matched exactly (it never is non-finite here).
    ASSERT_EQ(nonfinite_mismatch("out", got, ref), "") << res.variant;
    const double err = max_abs_diff_finite(got, ref), naive_err = max_abs_diff_finite(naive, ref), max_ref = max_abs(ref);
    if (c.dtype == DType::f32 && out_dtype == DType::f32) {
        EXPECT_LE(err, 1e-5 * max_ref) << res.variant << ": max|out-ref| " << err << ", max|ref| " << max_ref;
    } else {
        // f16 storage: within twice a float implementation's error (its output rounded to half when the
        // output is f16), and never required tighter than f32's 1e-5 relative.
        const double bound = std::max(2 * naive_err, 1e-5 * max_ref) + 1e-6;
        EXPECT_LE(err, bound) << res.variant << ": max|out-ref| " << err << ", naive " << naive_err << ", max|ref| " << max_ref;
    }
    if (c.key_lengths && c.B > 1) {  // batch 1 sees no key: exactly zero
        for (int64_t e = 0; e < c.Hq * c.Lq * c.Dv; ++e) ASSERT_EQ(all[c.Hq * c.Lq * c.Dv + e], 0.0f) << "batch 1 element " << e;
    }
}

class LinearSweep : public ::testing::TestWithParam<LinearCase> {};
TEST_P(LinearSweep, MatchesReference) { run_linear_case(GetParam(), fresh_seed()); }

LinearCase make(int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, DType dt, Causal causal) {
    LinearCase c;
    c.B = B, c.Hq = Hq, c.Hkv = Hkv, c.Lq = Lq, c.Lk = Lk, c.D = D, c.Dv = Dv, c.dtype = dt, c.causal = causal;
    return c;
}

std::vector<LinearCase> sweep_cases() {
    std::vector<LinearCase> v;
    v.push_back(make(1, 1, 1, 1, 1, 1, 1, DType::f32, Causal::none));
    v.push_back(make(1, 1, 1, 1, 1, 1, 1, DType::f32, Causal::top_left));
    // GQA, odd lengths across several 64-key chunks, D and Dv not multiples of 4.
    v.push_back(make(2, 4, 2, 130, 130, 20, 13, DType::f32, Causal::top_left));
    v.push_back(make(2, 4, 2, 130, 130, 20, 13, DType::f16, Causal::top_left));
    v.push_back(make(1, 3, 1, 77, 201, 33, 7, DType::f32, Causal::none));
    v.push_back(make(1, 3, 1, 77, 201, 33, 7, DType::f16, Causal::none));
    // Decoding-like bottom-right, and top-left with more queries than keys (rows past the last chunk).
    v.push_back(make(1, 2, 2, 40, 300, 16, 16, DType::f32, Causal::bottom_right));
    v.push_back(make(1, 2, 1, 300, 100, 8, 24, DType::f32, Causal::top_left));
    v.push_back(make(1, 2, 1, 100, 37, 8, 8, DType::f32, Causal::bottom_right));  // rows 0..62 see no key
    // Key lengths (batch 1 has none), with and without causality; f16 in, f32 out and the reverse.
    LinearCase kl = make(3, 2, 1, 70, 150, 12, 12, DType::f32, Causal::top_left);
    kl.key_lengths = true;
    v.push_back(kl);
    kl.causal = Causal::none, kl.dtype = DType::f16, kl.out_dtype = DType::f32;
    v.push_back(kl);
    kl.dtype = DType::f32, kl.out_dtype = DType::f16, kl.causal = Causal::bottom_right;
    v.push_back(kl);
    // The identity feature map (positive inputs).
    LinearCase id = make(1, 2, 2, 90, 90, 16, 16, DType::f32, Causal::top_left);
    id.feature_map = FeatureMap::identity;
    v.push_back(id);
    id.causal = Causal::none, id.dtype = DType::f16;
    v.push_back(id);
    // Strided [B, L, H, D] views.
    LinearCase st = make(2, 4, 2, 65, 65, 16, 8, DType::f32, Causal::top_left);
    st.blhd = true;
    v.push_back(st);
    st.dtype = DType::f16, st.causal = Causal::none;
    v.push_back(st);
    // Wide heads: Dv = 200 takes two column groups of 128; D = 256 loops longest in linear_apply.
    v.push_back(make(1, 1, 1, 70, 70, 256, 200, DType::f32, Causal::top_left));
    v.push_back(make(1, 2, 1, 33, 50, 512, 512, DType::f16, Causal::top_left));
    return v;
}
INSTANTIATE_TEST_SUITE_P(Shapes, LinearSweep, ::testing::ValuesIn(sweep_cases()),
                         [](const auto& info) { return info.param.name(); });

// 70,000 keys: no kernel may loop over all keys in one invocation (lavapipe would silently stop after
// 65535 iterations and drop keys).
std::vector<LinearCase> long_key_cases() {
    std::vector<LinearCase> v;
    v.push_back(make(1, 2, 1, 5, 70000, 4, 4, DType::f32, Causal::none));
    v.push_back(make(1, 2, 1, 3, 70000, 4, 4, DType::f16, Causal::bottom_right));
    LinearCase all_rows = make(1, 1, 1, 70000, 70000, 4, 4, DType::f32, Causal::top_left);
    all_rows.sampled_rows = 24;
    v.push_back(all_rows);
    return v;
}
INSTANTIATE_TEST_SUITE_P(LongKeys, LinearSweep, ::testing::ValuesIn(long_key_cases()),
                         [](const auto& info) { return info.param.name(); });

TEST(LinearAttention, MeasuresTimeAndReportsDispatches) {
    Context& ctx = context();
    const std::vector<float> x(2 * 10 * 8, 0.5f);
    const Tensor q = ctx.upload(x, {1, 2, 10, 8}), k = ctx.upload(x, {1, 2, 10, 8}), v = ctx.upload(x, {1, 2, 10, 8});
    LinearAttentionOptions o;
    o.measure_time = true;
    const LinearAttentionResult r = linear_attention_full(ctx, q, k, v, o);
    EXPECT_EQ(r.dispatches, 3u);  // state, prefix, apply
    if (ctx.device().timestamps) EXPECT_GE(r.gpu_milliseconds, 0.0);
    // Every row sees the same keys and values 0.5: the output is 0.5 everywhere.
    for (float e : linear_attention(ctx, q, k, v).download<float>()) ASSERT_NEAR(e, 0.5f, 1e-6f);
}

// ---- errors ----

struct Qkv {
    Tensor q, k, v;
};
Qkv make_qkv(int64_t B = 2, int64_t Hq = 4, int64_t Hkv = 2, int64_t L = 5, int64_t D = 8, DType dt = DType::f32) {
    Context& ctx = context();
    const auto fill = [](int64_t n) { return std::vector<float>(static_cast<std::size_t>(n), 0.25f); };
    return {ctx.upload(fill(B * Hq * L * D), {B, Hq, L, D}, dt), ctx.upload(fill(B * Hkv * L * D), {B, Hkv, L, D}, dt),
            ctx.upload(fill(B * Hkv * L * D), {B, Hkv, L, D}, dt)};
}

void expect_error(const std::function<void()>& call, ErrorCode code, const std::string& part) {
    try {
        call();
        ADD_FAILURE() << "no error; expected one containing '" << part << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(e.message().find(part), std::string::npos) << "message '" << e.message() << "' lacks '" << part << "'";
    }
}

TEST(LinearAttentionErrors, NameTheArgument) {
    Context& ctx = context();
    const Qkv t = make_qkv();
    const auto call = [&](const Tensor& q, const Tensor& k, const Tensor& v, LinearAttentionOptions o) {
        return [&ctx, q, k, v, o] { linear_attention(ctx, q, k, v, o); };
    };
    LinearAttentionOptions o;
    expect_error(call(Tensor(), t.k, t.v, o), ErrorCode::invalid_argument, "q: tensor is empty");
    expect_error(call(ctx.upload(std::vector<float>(40, 0.f), {5, 8}), t.k, t.v, o), ErrorCode::invalid_argument,
                 "q: expected rank 4");
    const Qkv h = make_qkv(2, 4, 2, 5, 8, DType::f16);
    expect_error(call(t.q, h.k, t.v, o), ErrorCode::invalid_argument, "k: dtype f16 does not match q's f32");
    const Qkv g = make_qkv(2, 3, 2);
    expect_error(call(g.q, t.k, t.v, o), ErrorCode::invalid_argument, "query heads are not a multiple");
    const Qkv d = make_qkv(2, 4, 2, 5, 6);
    expect_error(call(t.q, d.k, t.v, o), ErrorCode::invalid_argument, "k: head dim 6 does not match q's 8");
    o.key_lengths = {3};
    expect_error(call(t.q, t.k, t.v, o), ErrorCode::invalid_argument, "key_lengths: has 1 entries");
    o.key_lengths = {3, 6};
    expect_error(call(t.q, t.k, t.v, o), ErrorCode::invalid_argument, "key_lengths[1]: 6 is outside [0, Lk = 5]");
    o.key_lengths.clear();
    o.out_dtype = DType::i32;
    expect_error(call(t.q, t.k, t.v, o), ErrorCode::invalid_argument, "out_dtype: i32 is not supported");
    o.out_dtype.reset();
    o.feature_map = static_cast<FeatureMap>(7);
    expect_error(call(t.q, t.k, t.v, o), ErrorCode::invalid_argument, "feature_map: 7 is not a FeatureMap");
    o.feature_map = FeatureMap::elu_plus_one;
    o.causal = static_cast<Causal>(9);
    expect_error(call(t.q, t.k, t.v, o), ErrorCode::invalid_argument, "causal: 9 is not a Causal value");

    // The same context still computes correctly afterwards.
    LinearCase c = make(1, 2, 1, 20, 20, 8, 8, DType::f32, Causal::top_left);
    run_linear_case(c, fresh_seed());
}

TEST(LinearAttentionErrors, RefusesCausalKeyRangesBeyondTheLoopLimit) {
    Context& ctx = context();
    if (ctx.device().driver_name != "llvmpipe") GTEST_SKIP() << "only lavapipe has the 65535-iteration loop limit";
    // 60001 chunks of 64 keys: linear_prefix would loop past its budget; refused before allocating.
    const int64_t Lk = 60001 * 64;
    const Tensor q = ctx.upload(std::vector<float>(1, 0.5f), {1, 1, 1, 1}, DType::f16);
    const Tensor kv = ctx.upload(std::vector<float>(static_cast<std::size_t>(Lk), 0.25f), {1, 1, Lk, 1}, DType::f16);
    LinearAttentionOptions o;
    o.causal = Causal::bottom_right;
    expect_error([&] { linear_attention(ctx, q, kv, kv, o); }, ErrorCode::unsupported, "k: causal linear attention over 3840064 keys");
    // Without the causal mask the same keys are fine (large chunks).
    const std::vector<float> out = linear_attention(ctx, q, kv, kv).download<float>();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NEAR(out[0], 0.25f, 1e-3f);  // every value is 0.25 (f16 output)
}

}  // namespace
}  // namespace vkattn::test
