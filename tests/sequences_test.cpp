// Packed variable-length sequences (attention_varlen) and the paged KV cache against the host reference
// run per sequence (reference_attention_varlen): random inputs, odd lengths (an empty sequence, a
// sequence without keys, more queries than keys), every mask kind packed sequences take, outputs poisoned
// by the test context. Small shapes: the rowwise and decode pipelines the suite builds anyway.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include <vkattn/reference.hpp>

#include "test_support.hpp"

namespace vkattn::test {
namespace {

struct VarlenCase {
    std::vector<int32_t> q_len, k_len;
    int64_t Hq = 4, Hkv = 2, D = 16, Dv = 16;
    DType dtype = DType::f32;
    Path path = Path::fused;
    Causal causal = Causal::none;
    Window window;
    bool alibi = false, sinks = false;
    float softcap = 0;
};

std::vector<int32_t> offsets(const std::vector<int32_t>& len) {
    std::vector<int32_t> cu(1, 0);
    for (int32_t l : len) cu.push_back(cu.back() + l);
    return cu;
}

std::vector<float> random_floats(std::mt19937_64& gen, std::size_t n, DType dtype) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(n);
    for (float& e : x) e = dtype == DType::f16 ? round_to_half(u(gen)) : u(gen);
    return x;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b, bool* nan) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isinf(b[i]) && a[i] == b[i]) continue;  // lse -inf of a row without keys
        const double d = std::abs(double(a[i]) - double(b[i]));
        if (!(d == d)) *nan = true;
        m = std::max(m, d);
    }
    return m;
}

// Compares a device result with the reference; the bound is twice the naive kernel's error, as run_case.
void expect_matches(const HostAttentionProblem& host, const std::vector<int32_t>& cu_q, const std::vector<int32_t>& cu_k,
                    DType dtype, const AttentionResult& r, bool weights, const std::string& what) {
    const HostAttentionResult ref = reference_attention_varlen(host, cu_q, cu_k, weights);
    const HostAttentionResult naive = naive_attention_varlen(host, cu_q, cu_k, dtype, weights);
    bool nan = false;
    const double bound = 2 * max_diff(naive.out, ref.out, &nan) + 1e-6;
    const std::vector<float> out = r.out.download<float>();
    ASSERT_EQ(out.size(), ref.out.size()) << what;
    const double err = max_diff(out, ref.out, &nan);
    EXPECT_FALSE(nan) << what << ": NaN in the output";
    EXPECT_LE(err, bound) << what << " variant " << r.variant;
    ASSERT_TRUE(r.lse.has_value());
    const std::vector<float> lse = r.lse->download<float>();
    ASSERT_EQ(lse.size(), ref.lse.size());
    for (std::size_t i = 0; i < lse.size(); ++i) {
        if (std::isinf(ref.lse[i])) EXPECT_EQ(lse[i], ref.lse[i]) << what << " lse " << i;
        else EXPECT_NEAR(lse[i], ref.lse[i], 1e-4 * std::max(1.0, std::abs(double(ref.lse[i])))) << what << " lse " << i;
    }
    if (weights) {
        ASSERT_TRUE(r.weights.has_value());
        const std::vector<float> w = r.weights->download<float>();
        ASSERT_EQ(w.size(), std::max<std::size_t>(1, ref.weights.size())) << what;
        if (!ref.weights.empty()) {
            const double wbound = 2 * max_diff(naive.weights, ref.weights, &nan) + 1e-6;
            EXPECT_LE(max_diff(w, ref.weights, &nan), wbound) << what << " weights";
        }
    }
}

HostAttentionProblem host_problem(const VarlenCase& c, std::mt19937_64& gen, AttentionOptions& opt) {
    HostAttentionProblem h;
    const int64_t Tq = std::accumulate(c.q_len.begin(), c.q_len.end(), int64_t{0});
    const int64_t Tk = std::accumulate(c.k_len.begin(), c.k_len.end(), int64_t{0});
    h.Hq = c.Hq, h.Hkv = c.Hkv, h.D = c.D, h.Dv = c.Dv;
    h.q = random_floats(gen, static_cast<std::size_t>(Tq * c.Hq * c.D), c.dtype);
    h.k = random_floats(gen, static_cast<std::size_t>(Tk * c.Hkv * c.D), c.dtype);
    h.v = random_floats(gen, static_cast<std::size_t>(Tk * c.Hkv * c.Dv), c.dtype);
    h.causal = opt.causal = c.causal;
    h.window = opt.window = c.window;
    if (c.alibi) h.alibi_slopes = opt.alibi_slopes = alibi_slopes(c.Hq);
    h.softcap = opt.softcap = c.softcap;
    if (c.sinks) {
        std::uniform_real_distribution<float> logit(-2.0f, 4.0f);
        for (int64_t i = 0; i < c.Hq; ++i) opt.sinks.push_back(logit(gen));
        h.sinks = opt.sinks;
    }
    opt.path = c.path;
    opt.return_lse = true;
    opt.return_weights = c.path == Path::explicit_;
    return h;
}

void run_varlen(const VarlenCase& c, const std::string& what) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    AttentionOptions opt;
    const HostAttentionProblem h = host_problem(c, gen, opt);
    const std::vector<int32_t> cu_q = offsets(c.q_len), cu_k = offsets(c.k_len);
    Context& ctx = context();
    const Tensor q = ctx.upload(h.q, {cu_q.back(), c.Hq, c.D}, c.dtype);
    const Tensor k = ctx.upload(h.k, {cu_k.back(), c.Hkv, c.D}, c.dtype);
    const Tensor v = ctx.upload(h.v, {cu_k.back(), c.Hkv, c.Dv}, c.dtype);
    const AttentionResult r = attention_varlen(ctx, q, k, v, cu_q, cu_k, opt);
    expect_matches(h, cu_q, cu_k, c.dtype, r, opt.return_weights, what + " (seed " + std::to_string(seed) + ")");
}

// Lengths with every odd case: an empty sequence, one without keys, more queries than keys, a long one.
const std::vector<int32_t> kQ = {5, 0, 3, 9, 70, 2};
const std::vector<int32_t> kK = {12, 4, 0, 6, 75, 2};

TEST(Varlen, EveryMaskKindMatchesReference) {
    for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right}) {
        VarlenCase c;
        c.q_len = kQ, c.k_len = kK, c.causal = causal;
        run_varlen(c, std::string("causal ") + to_string(causal));
    }
    VarlenCase w;
    w.q_len = kQ, w.k_len = kK, w.causal = Causal::bottom_right, w.window = {7, 0};
    run_varlen(w, "window (7, 0)");
}

TEST(Varlen, ScoreFeaturesF16AndGqa) {
    // One pipeline for all of them (a feature set is a specialization of the rowwise kernel).
    VarlenCase c;
    c.q_len = kQ, c.k_len = kK, c.causal = Causal::bottom_right, c.alibi = true, c.softcap = 5, c.sinks = true;
    c.dtype = DType::f16, c.Hq = 4, c.Hkv = 1, c.D = 24, c.Dv = 16;
    run_varlen(c, "f16, GQA 4:1, D 24, Dv 16, alibi + softcap + sinks");
}

TEST(Varlen, ExplicitPathReturnsPackedWeights) {
    VarlenCase c;
    c.q_len = kQ, c.k_len = kK, c.path = Path::explicit_, c.causal = Causal::bottom_right;
    run_varlen(c, "explicit");
    const std::vector<int64_t> off = varlen_weights_offsets(offsets(kQ), offsets(kK), c.Hq);
    ASSERT_EQ(off.size(), kQ.size() + 1);
    EXPECT_EQ(off[1], c.Hq * 5 * 12);
}

TEST(Varlen, DecodeRowsSplitOverKeys) {
    // One query per sequence over key ranges of different lengths: the split-KV decode path on CPU devices.
    VarlenCase c;
    c.q_len = {1, 1, 0, 1, 2}, c.k_len = {300, 1, 5, 77, 140}, c.causal = Causal::bottom_right, c.Hq = 8, c.Hkv = 2;
    run_varlen(c, "decode");
    c.sinks = true;
    run_varlen(c, "decode + sinks");
}

}  // namespace
}  // namespace vkattn::test
