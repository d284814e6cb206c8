// The README's API example, built against the installed package; exits non-zero on a wrong answer.
#include <vkattn/reference.hpp>  // the CPU reference is not part of the core header
#include <vkattn/vkattn.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    const int64_t B = 1, Hq = 4, Hkv = 2, Lq = 8, Lk = 12, D = 32, Dv = 32;
    std::vector<float> q_host(B * Hq * Lq * D), k_host(B * Hkv * Lk * D), v_host(B * Hkv * Lk * Dv);
    for (std::size_t i = 0; i < q_host.size(); ++i) q_host[i] = std::sin(0.1f * static_cast<float>(i));
    for (std::size_t i = 0; i < k_host.size(); ++i) k_host[i] = std::cos(0.07f * static_cast<float>(i));
    for (std::size_t i = 0; i < v_host.size(); ++i) v_host[i] = std::sin(0.03f * static_cast<float>(i));

    vkattn::Context ctx;
    auto q = ctx.upload(q_host, {B, Hq, Lq, D}, vkattn::DType::f16);
    auto k = ctx.upload(k_host, {B, Hkv, Lk, D}, vkattn::DType::f16);
    auto v = ctx.upload(v_host, {B, Hkv, Lk, Dv}, vkattn::DType::f16);
    vkattn::AttentionOptions opt;
    opt.causal = vkattn::Causal::bottom_right;
    auto out = vkattn::attention(ctx, q, k, v, opt);
    std::vector<float> o = out.download<float>();

    vkattn::HostAttentionProblem p;
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = Lq, p.Lk = Lk, p.D = D, p.Dv = Dv;
    p.causal = vkattn::Causal::bottom_right;
    for (float x : q_host) p.q.push_back(vkattn::round_to_half(x));
    for (float x : k_host) p.k.push_back(vkattn::round_to_half(x));
    for (float x : v_host) p.v.push_back(vkattn::round_to_half(x));
    const auto ref = vkattn::reference_attention(p);
    double err = 0;
    for (std::size_t i = 0; i < o.size(); ++i) err = std::fmax(err, std::fabs(o[i] - ref.out[i]));
    std::printf("consumer: vkattn %s on %s, max |out - ref| = %.2e\n", vkattn::version(), ctx.device().name.c_str(), err);
    return err < 2e-3 ? 0 : 1;
}
