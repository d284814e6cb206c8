#pragma once
/// \file reference.hpp
/// The attention operation on the host, written to be read: the ground truth for tests and `vkattn verify`.
#include <cstdint>
#include <span>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/dtype.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// Host inputs in the default contiguous layouts: q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv].
struct HostAttentionProblem {
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 1, Dv = 1;
    std::vector<float> q, k, v;
    float scale = 0;                  ///< 0 means 1/sqrt(D)
    Causal causal = Causal::none;
    std::vector<int32_t> key_lengths; ///< empty or B entries
    /// Optional mask, contiguous, shape [Lq, Lk] or [Bm, Hm, Lq, Lk] with Bm in {1, B}, Hm in {1, Hq}.
    Shape mask_shape;                 ///< empty: no mask
    std::vector<float> mask;          ///< additive values, or 0/1 when mask_is_bool
    bool mask_is_bool = false;
    Window window;                    ///< sliding window (AttentionOptions::window)
    std::vector<float> alibi_slopes;  ///< empty or Hq slopes (AttentionOptions::alibi_slopes)
    float softcap = 0;                ///< AttentionOptions::softcap
    std::vector<float> sinks;         ///< empty or Hq attention-sink logits (AttentionOptions::sinks)
    bool align_to_key_lengths = false;///< AttentionOptions::align_to_key_lengths
};

/// Host outputs, contiguous: out [B, Hq, Lq, Dv], lse [B, Hq, Lq], weights [B, Hq, Lq, Lk].
struct HostAttentionResult {
    std::vector<float> out;
    std::vector<float> lse;      ///< natural log-sum-exp (the sink included); -inf for fully masked rows without a sink
    std::vector<float> weights;  ///< only when requested
};

/// True when key j is visible to query i of (batch b, head h) under every mask of `p`.
/// `additive` receives the additive mask term (0 when there is none).
bool reference_key_visible(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, int64_t j,
                           double* additive);

/// Exact-as-possible reference: double accumulation everywhere. Fully masked rows give 0 and lse -inf.
HostAttentionResult reference_attention(const HostAttentionProblem& p, bool want_weights = false);

/// The order in which naive_attention sums each q·k in float. lanes = 1: d = 0, 1, 2, ... (a kernel with
/// one invocation per row). lanes > 1 (a power of two), as a kernel that splits the head dim across the
/// row's lanes: lane t sums, in d order, the quads (4 elements) t, t + lanes, t + 2 * lanes, ... of the
/// row, and the lanes' partials are then added pairwise (`pairwise`: a butterfly, (t0 + t1) + (t2 + t3))
/// or one after another from lane 0. Every order sums the same products; only the rounding differs.
struct DotOrder {
    int lanes = 1;
    bool pairwise = false;
};

/// A straightforward implementation in the kernel's precision: float arithmetic, and for f16 (bf16) the
/// probabilities and the output rounded to half (bfloat16), as a framework's f16 (bf16) attention would.
/// Quantised K/V (q8_0, q4_0) have no precision of their own here: pass their dequantised values and
/// q's precision. Tests bound the
/// kernel's error by twice this implementation's error against reference_attention. The inputs are
/// used as given: for f16, pass values already rounded to half (round_to_half), as the kernels see them.
/// With `want_weights`, also returns the float probabilities (before any f16 rounding).
HostAttentionResult naive_attention(const HostAttentionProblem& p, DType precision, bool want_weights = false,
                                    DotOrder order = {});

/// Packed sequences (attention_varlen, vkattn/sequences.hpp), each run as its own problem: p.q [total_q, Hq, D],
/// p.k [total_k, Hkv, D], p.v [total_k, Hkv, Dv] (p.B, Lq, Lk, key_lengths and the mask are not used);
/// results packed as attention_varlen returns them (out [total_q, Hq, Dv], lse [Hq, total_q], weights per
/// sequence [Hq, Lq_s, Lk_s] back to back). A sequence without keys gives zeros and lse -inf (or its sink).
HostAttentionResult reference_attention_varlen(const HostAttentionProblem& p, std::span<const int32_t> cu_seqlens_q,
                                               std::span<const int32_t> cu_seqlens_k, bool want_weights = false);
/// naive_attention per sequence, packed as reference_attention_varlen.
HostAttentionResult naive_attention_varlen(const HostAttentionProblem& p, std::span<const int32_t> cu_seqlens_q,
                                           std::span<const int32_t> cu_seqlens_k, DType precision, bool want_weights = false);

/// Throws Error(invalid_argument) naming the field when the problem is inconsistent.
void validate_host_problem(const HostAttentionProblem& p);

}  // namespace vkattn
