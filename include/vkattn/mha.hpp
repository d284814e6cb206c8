#pragma once
/// \file mha.hpp
/// Multi-head attention layer (PyTorch's nn.MultiheadAttention with batch_first = True, plus grouped
/// key/value heads): Q = X_q W_Qᵀ + b_Q, K = X_k W_Kᵀ + b_K, V = X_v W_Vᵀ + b_V, per-head attention
/// (vkattn::attention_full, scale 1/sqrt(D)), then Concat(heads) W_Oᵀ + b_O.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/safetensors.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// The layer's parameters on the device. D = head_dim; H query heads, Hkv key/value heads.
/// w_q [H*D, E], w_k [Hkv*D, kdim], w_v [Hkv*D, vdim], w_o [E, H*D]; biases [rows] or absent.
/// When loaded from a packed `in_proj_weight`, w_q / w_k / w_v are views into `in_proj` (no copies)
/// and self-attention projects Q, K and V with one matmul.
struct MhaWeights {
    int64_t embed_dim = 0, heads = 1, kv_heads = 1, head_dim = 0, kdim = 0, vdim = 0;
    Tensor w_q, w_k, w_v, w_o;
    std::optional<Tensor> b_q, b_k, b_v, b_o;
    std::optional<Tensor> in_proj, in_proj_bias;  ///< [(H + 2 Hkv) D, E] and [(H + 2 Hkv) D] when packed
};

/// How to read the weights from a state dict.
struct MhaLoadOptions {
    int64_t heads = 1;
    int64_t kv_heads = 0;          ///< 0: = heads
    std::string prefix;            ///< e.g. "encoder.layers.0.self_attn." (prepended to every name)
    DType dtype = DType::f32;      ///< storage dtype on the device (f32 or f16)
};

/// The layer's dimensions as a `.safetensors` header gives them, before anything is uploaded.
struct MhaLayout {
    int64_t embed_dim = 0, heads = 1, kv_heads = 1, head_dim = 0, kdim = 0, vdim = 0;
    bool packed = false;                                  ///< in_proj_weight (else q/k/v_proj_weight)
    bool has_in_proj_bias = false, has_out_proj_bias = false;
};

/// Checks the names and shapes load_mha_weights reads (the same rules and messages) from the header
/// alone: no device, no data read. Throws Error(invalid_argument) naming the tensor or option.
MhaLayout plan_mha_weights(const SafeTensors& file, const MhaLoadOptions& options);

/// Builds the weights from nn.MultiheadAttention's state-dict names: `in_proj_weight` [(H+2Hkv)D, E]
/// (or `q_proj_weight` [H*D, E], `k_proj_weight` [Hkv*D, kdim], `v_proj_weight` [Hkv*D, vdim]),
/// optional `in_proj_bias`, `out_proj.weight` [E, H*D], optional `out_proj.bias`. Shapes are checked;
/// errors name the tensor (Error(invalid_argument)).
MhaWeights load_mha_weights(Context& ctx, const SafeTensors& file, const MhaLoadOptions& options);
/// As above, opening `path` first.
MhaWeights load_mha_weights(Context& ctx, const std::string& path, const MhaLoadOptions& options);
/// Checks a hand-built MhaWeights (shapes, dtypes, heads); throws Error(invalid_argument) naming the field.
void validate_mha_weights(Context& ctx, const MhaWeights& w);

struct MhaOptions {
    Causal causal = Causal::none;
    std::vector<int32_t> key_lengths;  ///< per-batch valid keys (padding at the end)
    std::optional<Tensor> mask;        ///< as AttentionOptions::mask: [Lq, Lk] or [B|1, H|1, Lq, Lk]
    bool need_weights = false;         ///< also return the attention weights (explicit path)
    bool average_weights = true;       ///< average them over heads ([B, Lq, Lk]); false: [B, H, Lq, Lk]
    std::optional<DType> out_dtype;    ///< default: x_q's dtype
    /// Where the output goes: [B, Lq, E] in the output dtype (f32: any strides; f16: contiguous, from a
    /// 4-byte boundary, an even number of elements), overlapping no input. Absent: a new tensor.
    std::optional<Tensor> out;
    bool measure_time = false;
};

struct MhaResult {
    Tensor out;                     ///< [B, Lq, E]
    std::optional<Tensor> weights;  ///< f32, when need_weights
    std::string variant;            ///< kernels that ran
    double gpu_milliseconds = -1;   ///< summed over the stages, when measure_time
    uint32_t dispatches = 0;
};

/// x_q: [B, Lq, E]; x_k: [B, Lk, kdim] (absent: self-attention, x_k = x_q); x_v: [B, Lk, vdim]
/// (absent: x_v = x_k). Inputs share the weights' dtype. Any strides.
MhaResult multi_head_attention(Context& ctx, const MhaWeights& weights, const Tensor& x_q, const std::optional<Tensor>& x_k = std::nullopt,
                               const std::optional<Tensor>& x_v = std::nullopt, const MhaOptions& options = {});

}  // namespace vkattn
