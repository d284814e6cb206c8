#pragma once
/// \file layers_reference.hpp
/// Host references (double accumulation) for the layers built on the engine: matmul, multi-head
/// attention and additive attention. The ground truth of their tests and of `vkattn mha --check`.
#include <cstdint>
#include <vector>

#include "vkattn/reference.hpp"

namespace vkattn {

/// Y[r, n] = sum_k A[r, k] W[n, k] + bias[n] (W is [N, K], nn.Linear's layout), A [R, K] contiguous.
/// bias may be empty. Double accumulation.
std::vector<float> reference_linear(const std::vector<float>& a, int64_t R, int64_t K, const std::vector<float>& w, int64_t N,
                                    const std::vector<float>& bias);

/// Multi-head attention weights on the host (nn.MultiheadAttention's, with Hkv key/value heads):
/// w_q [H*D, E], w_k [Hkv*D, kdim], w_v [Hkv*D, vdim], w_o [E, H*D]; biases may be empty.
struct HostMhaWeights {
    int64_t E = 0, H = 1, Hkv = 1, D = 0, kdim = 0, vdim = 0;
    std::vector<float> w_q, w_k, w_v, b_q, b_k, b_v, w_o, b_o;
};

/// Inputs [B, Lq, E], [B, Lk, kdim], [B, Lk, vdim] and the attention's masks (as in
/// HostAttentionProblem: mask [Lq, Lk] or [Bm, Hm, Lq, Lk]; key_lengths; causal).
struct HostMhaProblem {
    int64_t B = 1, Lq = 1, Lk = 1;
    std::vector<float> x_q, x_k, x_v;
    Causal causal = Causal::none;
    std::vector<int32_t> key_lengths;
    Shape mask_shape;
    std::vector<float> mask;
    bool mask_is_bool = false;
};

struct HostMhaResult {
    std::vector<float> out;      ///< [B, Lq, E]
    std::vector<float> weights;  ///< [B, H, Lq, Lk] per head, when requested
};

/// Projections, scaled dot-product attention (scale 1/sqrt(D)) per head, concatenation and output projection.
HostMhaResult reference_mha(const HostMhaWeights& w, const HostMhaProblem& p, bool want_weights = false);

/// Additive (Bahdanau) attention on the host: q [B, H, Lq, Dq], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv],
/// w_q [A, Dq], w_k [A, Dk], bias [A] (may be empty), v_a [A]. score(i, j) = v_a . tanh(W_q q_i + W_k k_j + b)
/// plus an additive mask; masks as in HostAttentionProblem (whose B, Hq, Hkv, Lq, Lk, Dv fields and
/// masks it uses; its D field is ignored).
struct HostAdditiveProblem {
    HostAttentionProblem shape;  ///< B, Hq, Hkv, Lq, Lk, Dv, masks, causal; q/k/v below
    int64_t Dq = 1, Dk = 1, A = 1;
    std::vector<float> q, k, v, w_q, w_k, bias, v_a;
};

/// out [B, H, Lq, Dv], lse [B, H, Lq] and (when asked) weights [B, H, Lq, Lk]. Fully masked rows: 0, -inf.
HostAttentionResult reference_additive(const HostAdditiveProblem& p, bool want_weights = false);

}  // namespace vkattn
