#pragma once
/// \file sequences.hpp
/// Packed variable-length batches (FlashAttention's varlen): S sequences of different lengths stored
/// back to back with no padding, described by cumulative offsets.
#include <cstdint>
#include <span>
#include <vector>

#include "vkattn/attention.hpp"

namespace vkattn {

/// Attention of S packed sequences. q: [total_q, Hq, D]; k: [total_k, Hkv, D]; v: [total_k, Hkv, Dv]
/// (any strides, one dtype). Sequence s owns query rows cu_seqlens_q[s] .. cu_seqlens_q[s + 1] - 1 and
/// key rows cu_seqlens_k[s] .. cu_seqlens_k[s + 1] - 1 and attends only to its own keys. Each of the two
/// offset lists has S + 1 entries: 0 first, non-decreasing, the last = the tensor's tokens (a sequence may
/// be empty). Causal masks, the window and ALiBi apply per sequence, bottom-right aligned to the
/// sequence's own lengths (query i of a sequence with Lq_s queries and Lk_s keys meets key i + Lk_s - Lq_s),
/// as FlashAttention's varlen functions; Causal::top_left is the plain lower triangle of each sequence.
/// scale, softcap, ALiBi, sinks, GQA, out_dtype, return_lse, return_weights, path and kv_splits work
/// as in attention_full; mask, key_lengths and out are rejected (each sequence's key range is its mask).
/// Results, all packed:
///   out      [total_q, Hq, Dv]
///   lse      [Hq, total_q] f32: row cu_seqlens_q[s] + i of head h is query i of sequence s
///   weights  (explicit path) 1-D f32, sequence after sequence, each [Hq, Lq_s, Lk_s] row-major from
///            element varlen_weights_offsets(...)[s]: no padding.
/// Throws Error(invalid_argument) naming the argument and the rule (cu_seqlens_q[0] != 0, a decreasing
/// offset, a last offset other than the tensor's tokens, different sequence counts) before anything runs.
AttentionResult attention_varlen(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, std::span<const int32_t> cu_seqlens_q,
                                 std::span<const int32_t> cu_seqlens_k, const AttentionOptions& options = {});

/// Where each sequence's weights begin in attention_varlen's packed weights: S + 1 offsets, the last the
/// total (sum over s of Hq * Lq_s * Lk_s).
std::vector<int64_t> varlen_weights_offsets(std::span<const int32_t> cu_seqlens_q, std::span<const int32_t> cu_seqlens_k, int64_t Hq);

}  // namespace vkattn
