#pragma once
/// \file attention.hpp
/// out = softmax(scale · Q Kᵀ + mask) · V over batches and heads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// Causal alignment. With Lq == Lk both are the usual lower-triangular mask.
enum class Causal {
    none,
    top_left,      ///< query i sees keys j <= i (PyTorch's is_causal)
    bottom_right,  ///< query i sees keys j <= i + Lk - Lq (FlashAttention's; decoding with a KV cache)
};

/// Which kernels run.
enum class Path {
    automatic,     ///< the planner decides (fused unless weights are requested)
    fused,         ///< flash-style online softmax; never materialises the Lq x Lk matrix
    explicit_,     ///< scores, softmax, P·V as three stages; can return the weights P
};

/// Local (sliding-window) attention: query i sees keys j with i' - left <= j <= i' + right, where
/// i' = i + Lk - Lq (aligned to the last key, as FlashAttention's window_size); -1 = unbounded on that
/// side. Combines with causal masks, key lengths and explicit masks (a key must pass all of them).
struct Window {
    int64_t left = -1;
    int64_t right = -1;
    bool active() const { return left >= 0 || right >= 0; }
};

/// The standard ALiBi slopes for `heads` heads (Press et al.): 2^(-8k/n) for k = 1..n with n the
/// power of two at or above `heads`, interleaved as in the reference implementation for other counts.
std::vector<float> alibi_slopes(int64_t heads);

const char* to_string(Causal c) noexcept;
const char* to_string(Path p) noexcept;

/// Options of one attention call. Masks combine: a key is attended only if every mask allows it.
struct AttentionOptions {
    /// Multiplies Q Kᵀ. Default 1/sqrt(D). Must be finite and non-zero.
    std::optional<float> scale;
    Causal causal = Causal::none;
    /// Per-batch number of valid keys (padding): key j of batch b is attended iff j < key_lengths[b].
    /// Empty means all Lk keys. Size must be B, each value in [0, Lk].
    std::vector<int32_t> key_lengths;
    /// Optional mask, shape [Lq, Lk] (broadcast over batch and heads) or [B, Hq, Lq, Lk]
    /// (size-1 batch or head dims broadcast too). dtype f32 or f16: added to the scaled scores
    /// (-inf, or anything <= -1e30, masks the key out). dtype u8: boolean, non-zero = attend.
    std::optional<Tensor> mask;
    /// Sliding window; default unbounded (see Window).
    Window window;
    /// ALiBi: per query head h, adds -alibi_slopes[h] * |j - i'| (i' = i + Lk - Lq) to the scaled score.
    /// Empty: none; otherwise Hq finite values (see alibi_slopes()).
    std::vector<float> alibi_slopes;
    /// Logit soft-capping: when > 0, each scaled score s becomes softcap * tanh(s / softcap) (before
    /// ALiBi and masks, as Gemma 2). 0: off. Must be finite and >= 0.
    float softcap = 0;
    /// Attention sinks (gpt-oss): per query head a learned logit s_h that joins each row's softmax
    /// denominator and takes no value: P_ij = exp(s_ij) / (exp(s_h) + sum_j exp(s_ij)), so a row's
    /// weights sum to less than one, and lse includes the sink. A row with no visible key gives zeros and
    /// lse = s_h. Empty: none; otherwise Hq finite values.
    std::vector<float> sinks;
    /// Align bottom-right causality, the window and ALiBi to each batch's key length instead of Lk:
    /// query i of batch b meets key i + key_lengths[b] - Lq (what attention over a KV cache of varying
    /// lengths needs; KvCache sets it). Requires key_lengths.
    bool align_to_key_lengths = false;
    Path path = Path::automatic;
    bool return_lse = false;        ///< also return each row's natural log-sum-exp, [B, Hq, Lq] f32
    bool return_weights = false;    ///< also return P, [B, Hq, Lq, Lk] f32 (explicit path only)
    /// Output dtype; default: q's dtype.
    std::optional<DType> out_dtype;
    /// Write the output into this tensor instead of a new one (AttentionResult::out is then this
    /// tensor), e.g. a view of an application's buffer (vkattn/embedding.hpp). Shape [B, Hq, Lq, Dv],
    /// the output dtype. f32: any strides without zeros. f16: contiguous, first element at a 4-byte
    /// boundary, an even number of elements (written in 32-bit words). Must not overlap q, k, v or
    /// the mask. Each violation is Error(invalid_argument) naming `out`, before anything runs.
    std::optional<Tensor> out;
    /// Record GPU timestamps around the kernels (see AttentionResult::gpu_milliseconds).
    bool measure_time = false;
    /// Split-KV ("flash decoding") of the fused tiled kernel (GPUs): the key range is cut into
    /// splits that run side by side, then merged by log-sum-exp, so that a few query rows over a long
    /// cache fill the device. 0: the engine chooses from the device's compute units
    /// (DeviceInfo::compute_units; no split when the (row tile, head) workgroups already fill it).
    /// 1: never split. N > 1: min(N, key tiles) splits (Error(unsupported) naming kv_splits when they
    /// cannot run). CPU devices run the rowwise kernel, whose decode path splits per key block and
    /// ignores this value. Must be >= 0.
    int kv_splits = 0;
};

/// Everything one call returns. A row whose keys are all masked out has out = 0,
/// weights = 0 and lse = -infinity; never NaN.
struct AttentionResult {
    Tensor out;                   ///< [B, Hq, Lq, Dv]
    std::optional<Tensor> lse;    ///< [B, Hq, Lq] f32 when requested
    std::optional<Tensor> weights;///< [B, Hq, Lq, Lk] f32 when requested
    Path path = Path::fused;      ///< the path that ran
    std::string variant;          ///< the kernel variant(s) that ran, e.g. "fused.f16.d128[br16,bc32]"
    double gpu_milliseconds = -1; ///< GPU time of the kernels when measure_time and timestamps are supported
    uint32_t dispatches = 0;      ///< number of dispatches recorded (chunks x stages)
};

/// What the planner would run for a problem, without running it.
struct AttentionPlan {
    Path path = Path::fused;
    std::string variant;
    std::string reason;
    /// Bytes of temporaries a recorded call needs (record_attention's Workspace, vkattn/embedding.hpp).
    uint64_t workspace_bytes = 0;
    /// Dispatches the call records.
    uint32_t dispatches = 0;
};

/// Computes attention. q: [B, Hq, Lq, D]; k: [B, Hkv, Lk, D]; v: [B, Hkv, Lk, Dv];
/// Hq % Hkv == 0. q, k, v share one dtype (f32 or f16); any strides.
/// Throws Error(invalid_argument) naming the offending argument before anything runs.
AttentionResult attention_full(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                               const AttentionOptions& options = {});

/// As attention_full, returning the output only.
Tensor attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options = {});

/// The plan attention_full would follow; validates like it does.
AttentionPlan plan_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                             const AttentionOptions& options = {});

}  // namespace vkattn

namespace vkattn {
}  // namespace vkattn
