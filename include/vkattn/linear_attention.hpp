#pragma once
/// \file linear_attention.hpp
/// Linear attention (Katharopoulos et al. 2020): out_i = φ(q_i)ᵀ S_i / (φ(q_i)ᵀ z_i + eps) with
/// S_i = Σ_j φ(k_j) v_jᵀ and z_i = Σ_j φ(k_j) over the keys j row i sees. O(N·D·Dv) without a causal
/// mask; causal in O(N·C·D + N·D·Dv) by chunked prefix sums (C = 64 keys per chunk).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// The feature map φ applied to every element of q and k.
enum class FeatureMap {
    elu_plus_one,  ///< φ(x) = elu(x) + 1: x + 1 for x > 0, exp(x) otherwise (strictly positive)
    identity,      ///< φ(x) = x: the denominator can be zero or negative (ill-conditioned; see the docs)
};

const char* to_string(FeatureMap f) noexcept;

/// The eps added to every denominator (the reference uses the same): out = num / (den + eps).
/// A row that sees no key has num = den = 0 and gets out = 0.
constexpr float kLinearAttentionEps = 1e-6f;

/// Options of one linear-attention call. There is no scale (φ makes it meaningless for elu + 1 up to
/// the exp branch) and no mask, window, ALiBi or soft-capping: those belong to softmax attention.
struct LinearAttentionOptions {
    FeatureMap feature_map = FeatureMap::elu_plus_one;
    /// none; top_left: query i sees keys j <= i; bottom_right: j <= i + Lk - Lq (as attention()).
    Causal causal = Causal::none;
    /// Per-batch number of valid keys (padding): key j of batch b exists iff j < key_lengths[b].
    /// Empty means all Lk keys. Size must be B, each value in [0, Lk].
    std::vector<int32_t> key_lengths;
    /// Output dtype; default: q's dtype. Accumulation is always f32.
    std::optional<DType> out_dtype;
    /// Where the output goes: [B, Hq, Lq, Dv] in the output dtype (f32: any strides; f16: contiguous,
    /// from a 4-byte boundary, an even number of elements), overlapping no input. Absent: a new tensor.
    std::optional<Tensor> out;
    /// Record GPU timestamps around the kernels (LinearAttentionResult::gpu_milliseconds).
    bool measure_time = false;
};

struct LinearAttentionResult {
    Tensor out;                    ///< [B, Hq, Lq, Dv]
    std::string variant;           ///< the kernels that ran, e.g. "linear.f32.causal[chunk64,chunks16,cols64]"
    double gpu_milliseconds = -1;  ///< GPU time when measure_time and timestamps are supported
    uint32_t dispatches = 0;
};

/// Computes linear attention. q: [B, Hq, Lq, D]; k: [B, Hkv, Lk, D]; v: [B, Hkv, Lk, Dv];
/// Hq % Hkv == 0 (query head h uses KV head h / (Hq / Hkv)); q, k, v share one dtype (f32 or f16);
/// any strides. Throws Error(invalid_argument) naming the argument before anything runs, and
/// Error(unsupported) naming it when this device cannot bind or loop over the problem.
LinearAttentionResult linear_attention_full(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                            const LinearAttentionOptions& options = {});

/// As linear_attention_full, returning the output only.
Tensor linear_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                        const LinearAttentionOptions& options = {});

}  // namespace vkattn
