// Host references for matmul, multi-head attention and additive attention: double accumulation,
// written to be read. Masks come from reference_key_visible (reference.cpp), the foundation's rule.
#include "vkattn/layers_reference.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "vkattn/error.hpp"
#include "vkattn/reference.hpp"

namespace vkattn {

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

void expect_size(const std::vector<float>& v, int64_t n, const char* field) {
    if (static_cast<int64_t>(v.size()) != n)
        fail(std::string(field) + ": expected " + std::to_string(n) + " values, got " + std::to_string(v.size()));
}

}  // namespace

std::vector<float> reference_linear(const std::vector<float>& a, int64_t R, int64_t K, const std::vector<float>& w, int64_t N,
                                    const std::vector<float>& bias) {
    expect_size(a, R * K, "a");
    expect_size(w, N * K, "w");
    if (!bias.empty()) expect_size(bias, N, "bias");
    std::vector<float> y(static_cast<std::size_t>(R * N));
    for (int64_t r = 0; r < R; ++r)
        for (int64_t n = 0; n < N; ++n) {
            double s = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(n)];
            for (int64_t k = 0; k < K; ++k) s += double(a[static_cast<std::size_t>(r * K + k)]) * w[static_cast<std::size_t>(n * K + k)];
            y[static_cast<std::size_t>(r * N + n)] = static_cast<float>(s);
        }
    return y;
}

HostMhaResult reference_mha(const HostMhaWeights& w, const HostMhaProblem& p, bool want_weights) {
    const int64_t HD = w.H * w.D, KD = w.Hkv * w.D;
    if (w.H < 1 || w.Hkv < 1 || w.H % w.Hkv != 0) fail("heads: H must be a positive multiple of Hkv");
    expect_size(p.x_q, p.B * p.Lq * w.E, "x_q");
    expect_size(p.x_k, p.B * p.Lk * w.kdim, "x_k");
    expect_size(p.x_v, p.B * p.Lk * w.vdim, "x_v");
    // Projections [B*L, H*D], then regrouped as [B, H, L, D].
    const std::vector<float> q = reference_linear(p.x_q, p.B * p.Lq, w.E, w.w_q, HD, w.b_q);
    const std::vector<float> k = reference_linear(p.x_k, p.B * p.Lk, w.kdim, w.w_k, KD, w.b_k);
    const std::vector<float> v = reference_linear(p.x_v, p.B * p.Lk, w.vdim, w.w_v, KD, w.b_v);
    const auto heads = [](const std::vector<float>& x, int64_t B, int64_t L, int64_t H, int64_t D) {
        std::vector<float> y(x.size());
        for (int64_t b = 0; b < B; ++b)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t d = 0; d < D; ++d)
                        y[static_cast<std::size_t>(((b * H + h) * L + l) * D + d)] = x[static_cast<std::size_t>((b * L + l) * H * D + h * D + d)];
        return y;
    };
    HostAttentionProblem ap;
    ap.B = p.B, ap.Hq = w.H, ap.Hkv = w.Hkv, ap.Lq = p.Lq, ap.Lk = p.Lk, ap.D = w.D, ap.Dv = w.D;
    ap.q = heads(q, p.B, p.Lq, w.H, w.D);
    ap.k = heads(k, p.B, p.Lk, w.Hkv, w.D);
    ap.v = heads(v, p.B, p.Lk, w.Hkv, w.D);
    ap.causal = p.causal, ap.key_lengths = p.key_lengths, ap.mask_shape = p.mask_shape, ap.mask = p.mask;
    ap.mask_is_bool = p.mask_is_bool;
    HostAttentionResult att = reference_attention(ap, want_weights);
    // Concat(heads): [B, Lq, H*D].
    std::vector<float> cat(static_cast<std::size_t>(p.B * p.Lq * HD));
    for (int64_t b = 0; b < p.B; ++b)
        for (int64_t h = 0; h < w.H; ++h)
            for (int64_t l = 0; l < p.Lq; ++l)
                for (int64_t d = 0; d < w.D; ++d)
                    cat[static_cast<std::size_t>((b * p.Lq + l) * HD + h * w.D + d)] = att.out[static_cast<std::size_t>(((b * w.H + h) * p.Lq + l) * w.D + d)];
    HostMhaResult r;
    r.out = reference_linear(cat, p.B * p.Lq, HD, w.w_o, w.E, w.b_o);
    r.weights = std::move(att.weights);
    return r;
}

HostAttentionResult reference_additive(const HostAdditiveProblem& p, bool want_weights) {
    const HostAttentionProblem& s = p.shape;
    if (s.Hq % s.Hkv != 0) fail("Hq: must be a multiple of Hkv");
    expect_size(p.q, s.B * s.Hq * s.Lq * p.Dq, "q");
    expect_size(p.k, s.B * s.Hkv * s.Lk * p.Dk, "k");
    expect_size(p.v, s.B * s.Hkv * s.Lk * s.Dv, "v");
    expect_size(p.w_q, p.A * p.Dq, "w_q");
    expect_size(p.w_k, p.A * p.Dk, "w_k");
    if (!p.bias.empty()) expect_size(p.bias, p.A, "bias");
    expect_size(p.v_a, p.A, "v_a");
    const std::vector<float> qp = reference_linear(p.q, s.B * s.Hq * s.Lq, p.Dq, p.w_q, p.A, {});
    const std::vector<float> kp = reference_linear(p.k, s.B * s.Hkv * s.Lk, p.Dk, p.w_k, p.A, p.bias);
    HostAttentionResult r;
    r.out.assign(static_cast<std::size_t>(s.B * s.Hq * s.Lq * s.Dv), 0.0f);
    r.lse.assign(static_cast<std::size_t>(s.B * s.Hq * s.Lq), -std::numeric_limits<float>::infinity());
    if (want_weights) r.weights.assign(static_cast<std::size_t>(s.B * s.Hq * s.Lq * s.Lk), 0.0f);
    const int64_t group = s.Hq / s.Hkv;
    std::vector<double> score(static_cast<std::size_t>(s.Lk));
    std::vector<char> visible(static_cast<std::size_t>(s.Lk));
    for (int64_t b = 0; b < s.B; ++b)
        for (int64_t h = 0; h < s.Hq; ++h) {
            const int64_t hk = h / group;
            for (int64_t i = 0; i < s.Lq; ++i) {
                const float* qrow = &qp[static_cast<std::size_t>(((b * s.Hq + h) * s.Lq + i) * p.A)];
                double m = -std::numeric_limits<double>::infinity();
                for (int64_t j = 0; j < s.Lk; ++j) {
                    double add = 0;
                    visible[static_cast<std::size_t>(j)] = reference_key_visible(s, b, h, i, j, &add);
                    if (!visible[static_cast<std::size_t>(j)]) continue;
                    const float* krow = &kp[static_cast<std::size_t>(((b * s.Hkv + hk) * s.Lk + j) * p.A)];
                    double t = 0;
                    for (int64_t a = 0; a < p.A; ++a) t += double(p.v_a[static_cast<std::size_t>(a)]) * std::tanh(double(qrow[a]) + double(krow[a]));
                    score[static_cast<std::size_t>(j)] = t + add;
                    m = std::max(m, t + add);
                }
                if (m == -std::numeric_limits<double>::infinity()) continue;  // no visible key: zeros, lse -inf
                double l = 0;
                for (int64_t j = 0; j < s.Lk; ++j)
                    if (visible[static_cast<std::size_t>(j)]) l += std::exp(score[static_cast<std::size_t>(j)] - m);
                const std::size_t row = static_cast<std::size_t>((b * s.Hq + h) * s.Lq + i);
                r.lse[row] = static_cast<float>(m + std::log(l));
                std::vector<double> acc(static_cast<std::size_t>(s.Dv), 0.0);
                for (int64_t j = 0; j < s.Lk; ++j) {
                    if (!visible[static_cast<std::size_t>(j)]) continue;
                    const double pj = std::exp(score[static_cast<std::size_t>(j)] - m) / l;
                    if (want_weights) r.weights[row * static_cast<std::size_t>(s.Lk) + static_cast<std::size_t>(j)] = static_cast<float>(pj);
                    const float* vrow = &p.v[static_cast<std::size_t>(((b * s.Hkv + hk) * s.Lk + j) * s.Dv)];
                    for (int64_t d = 0; d < s.Dv; ++d) acc[static_cast<std::size_t>(d)] += pj * vrow[d];
                }
                for (int64_t d = 0; d < s.Dv; ++d) r.out[row * static_cast<std::size_t>(s.Dv) + static_cast<std::size_t>(d)] = static_cast<float>(acc[static_cast<std::size_t>(d)]);
            }
        }
    return r;
}

}  // namespace vkattn
