#pragma once
/// \file additive.hpp
/// Additive (Bahdanau) attention, score(i, j) = v_aᵀ tanh(W_q q_i + W_k k_j + b), and Luong's
/// "general" score q_iᵀ W k_j; softmax over the keys, out_i = sum_j alpha_ij v_j.
#include <optional>

#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// Bahdanau parameters: w_q [A, Dq], w_k [A, Dk], bias [A] (optional), v_a [A]; q's dtype.
struct AdditiveWeights {
    Tensor w_q, w_k, v_a;
    std::optional<Tensor> bias;
};

/// Masks and outputs as in AttentionOptions (causal, key_lengths, mask, return_lse, return_weights,
/// out_dtype, out, measure_time); its scale and path are not used (additive scores are not scaled, and the
/// weights come from a second pass of the same kernel).
using AdditiveOptions = AttentionOptions;

/// q [B, H, Lq, Dq], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv] (H % Hkv == 0), any strides, one dtype
/// (f32 or f16). The projections q W_qᵀ and k W_kᵀ + b are computed once (memory O(B (Lq + Lk) A));
/// the [Lq, Lk, A] tensor of tanh arguments is never formed. Returns out [B, H, Lq, Dv], and lse /
/// weights [B, H, Lq, Lk] (f32) when asked. A and Dv are at most 512. Throws Error(invalid_argument)
/// naming the argument (Error(unsupported) for A or Dv over 512).
AttentionResult additive_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& weights,
                                   const AdditiveOptions& options = {});

/// Luong's general score q_iᵀ W k_j: k is projected once (k Wᵀ, W [Dq, Dk]) and the dot-product engine
/// runs with scale 1 unless options.scale says otherwise. Same shapes and options as attention_full.
AttentionResult luong_general_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                        const AttentionOptions& options = {});

}  // namespace vkattn
