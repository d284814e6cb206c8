#pragma once
// Packed variable-length sequences and paged keys as one call of the attention kernels sees them
// (shaders/common/sequence_rows.glsl): batch entry b of the launch is sequence b, whose query rows start
// at q_start[b] of the packed q and whose keys start at k_start[b] of the packed k / v, or are read
// through its block-table row when paged.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention_problem.hpp"
#include "attention/chunking.hpp"

namespace vkattn::detail {

struct SequenceLayout {
    std::vector<int32_t> q_start, q_len, k_start, k_len;  // one entry per sequence
    std::vector<int64_t> p_start;                          // first element of each sequence's weights
    int64_t total_q = 0;        // packed query rows
    int64_t key_rows = 0;       // rows of k / v: packed keys, or the page pool's rows (pages x page size)
    int64_t total_weights = 0;  // elements of the packed weights (explicit path)
    // Paged keys: table[s * pages_per_row + i] is the physical page of logical page i of sequence s.
    bool paged = false;
    int page_shift = 0;         // log2(page size)
    int64_t pages_per_row = 0;
    std::vector<int32_t> block_table;
    int64_t sequences() const { return static_cast<int64_t>(q_len.size()); }
};

/// Checks cu_seqlens (int32, S + 1 entries, from 0, non-decreasing, the last = `total`); `name` names
/// the argument in the error. Returns the lengths.
std::vector<int32_t> lengths_from_offsets(std::span<const int32_t> cu, int64_t total, const char* name, const char* tensor);

/// The layout of q's packed rows `cu_q` over keys at k_start / k_len (p_start and total_weights from Hq).
SequenceLayout make_sequence_layout(std::span<const int32_t> cu_q, std::vector<int32_t> k_start, std::vector<int32_t> k_len,
                                    int64_t Hq, int64_t key_rows);

/// Validates packed q [Tq, Hq, D], k [rows, Hkv, D], v [rows, Hkv, Dv] and the options as attention_full
/// does (through 4-D views), and the options packed sequences rule out; the problem has B = S, Lq / Lk the
/// longest sequence's, key_lengths = k_len aligned to them. `o_eff` receives the options the kernels run
/// with (key_lengths, align_to_key_lengths).
AttentionProblem validate_sequences(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                                    const SequenceLayout& seq, AttentionOptions& o_eff);

/// A packed [rows, H, cols] tensor as a kernel operand: no batch stride, every row bound (the kernels add
/// each sequence's first row).
Operand packed_operand(const Tensor& t, const char* name, int64_t head_div);
/// A contiguous 1-D f32 tensor of `n` elements as an operand the kernels index themselves (lse, weights).
Operand flat_operand(const Tensor& t, const char* name, int64_t n);

/// Binding-6 words of the sequence table (total_q, then q_start, q_len, k_start, p_start per sequence).
void append_sequence_words(const SequenceLayout& seq, std::vector<int32_t>& words);

}  // namespace vkattn::detail
