// Packed variable-length sequences (cu_seqlens): validation, the sequence table the kernels read, and the
// public entry attention_varlen. The paged cache (paged_kv_cache.cpp) runs through the same layout.
#include "attention/sequences.hpp"

#include <algorithm>

#include "attention/call_target.hpp"
#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/error.hpp"
#include "vkattn/sequences.hpp"

namespace vkattn::detail {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }
std::string s(int64_t x) { return std::to_string(x); }

void check_packed(const Tensor& t, const char* name, const char* layout) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (t.rank() != 3)
        fail(std::string(name) + ": packed sequences take rank 3 " + layout + ", got shape " + to_string(t.shape()));
}

// [rows, H, cols] as the [1, H, rows, cols] view validate_attention checks.
Tensor as_4d(const Tensor& t) {
    return t.view({1, t.dim(1), t.dim(0), t.dim(2)}, {0, t.strides()[1], t.strides()[0], t.strides()[2]}, t.offset());
}

}  // namespace

std::vector<int32_t> lengths_from_offsets(std::span<const int32_t> cu, int64_t total, const char* name, const char* tensor) {
    if (cu.size() < 2) fail(std::string(name) + ": needs S + 1 >= 2 offsets (one sequence at least), got " + s(int64_t(cu.size())));
    if (cu[0] != 0) fail(std::string(name) + "[0]: must be 0 (offsets start at the first token), got " + s(cu[0]));
    std::vector<int32_t> len(cu.size() - 1);
    for (std::size_t i = 1; i < cu.size(); ++i) {
        if (cu[i] < cu[i - 1])
            fail(std::string(name) + "[" + s(int64_t(i)) + "]: " + s(cu[i]) + " is less than the previous offset " + s(cu[i - 1]) +
                 " (offsets must not decrease)");
        len[i - 1] = cu[i] - cu[i - 1];
    }
    if (cu.back() != total)
        fail(std::string(name) + ": the last offset " + s(cu.back()) + " must equal " + tensor + "'s " + s(total) + " tokens");
    return len;
}

SequenceLayout make_sequence_layout(std::span<const int32_t> cu_q, std::vector<int32_t> k_start, std::vector<int32_t> k_len,
                                    int64_t Hq, int64_t key_rows) {
    SequenceLayout L;
    const std::size_t S = cu_q.size() - 1;
    for (std::size_t i = 0; i < S; ++i) {
        L.q_start.push_back(cu_q[i]);
        L.q_len.push_back(cu_q[i + 1] - cu_q[i]);
        L.p_start.push_back(L.total_weights);
        L.total_weights += Hq * L.q_len.back() * int64_t{k_len[i]};
    }
    L.total_q = cu_q[S];
    L.k_start = std::move(k_start);
    L.k_len = std::move(k_len);
    L.key_rows = key_rows;
    return L;
}

AttentionProblem validate_sequences(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                                    const SequenceLayout& seq, AttentionOptions& o_eff) {
    check_packed(q, "q", "[total_q, Hq, D]");
    check_packed(k, "k", seq.paged ? "[pages * page_size, Hkv, D]" : "[total_k, Hkv, D]");
    check_packed(v, "v", seq.paged ? "[pages * page_size, Hkv, Dv]" : "[total_k, Hkv, Dv]");
    if (o.mask) fail("mask: not supported with packed sequences (cu_seqlens); use causal, window or each sequence's own key range");
    if (!o.key_lengths.empty())
        fail("key_lengths: packed sequences take each sequence's key length from cu_seqlens_k (or the cache); leave key_lengths empty");
    if (o.out) fail("out: not supported with packed sequences; the output is returned as a new [total_q, Hq, Dv] tensor");
    if (q.dim(0) != seq.total_q) fail("q: " + s(q.dim(0)) + " rows, but the offsets cover " + s(seq.total_q) + " query tokens");
    if (k.dim(0) != seq.key_rows) fail("k: " + s(k.dim(0)) + " rows, but the keys take " + s(seq.key_rows));
    if (o.return_weights && o.path == Path::fused)
        fail("return_weights: the weights exist only on the explicit path, but path = fused was requested");
    o_eff = o;
    o_eff.align_to_key_lengths = false;
    o_eff.key_lengths.clear();
    o_eff.return_weights = false;  // the 4-D check would size them [1, Hq, Tq, Tk]
    AttentionProblem p = validate_attention(ctx, as_4d(q), as_4d(k), as_4d(v), o_eff);
    const int64_t S = seq.sequences();
    if (S > (int64_t{1} << 24)) fail("cu_seqlens_q: " + s(S) + " sequences exceed the maximum 2^24");
    if (seq.total_weights > INT32_MAX && (o.return_weights || o.path == Path::explicit_))
        fail(std::string(o.return_weights ? "return_weights" : "path") + ": the packed weights of these sequences (" +
             s(seq.total_weights) + " values) exceed 2^31 (the explicit path writes them all)");
    p.B = S;
    p.Lq = std::max<int64_t>(1, *std::max_element(seq.q_len.begin(), seq.q_len.end()));
    p.Lk = std::max<int64_t>(1, *std::max_element(seq.k_len.begin(), seq.k_len.end()));
    p.window_left = o.window.left < 0 ? -1 : std::min(o.window.left, p.Lq + p.Lk);
    p.window_right = o.window.right < 0 ? -1 : std::min(o.window.right, p.Lq + p.Lk);
    p.q_lengths = seq.q_len;
    p.key_lengths = seq.k_len;
    p.align_to_key_lengths = true;
    p.paged = seq.paged;
    o_eff = o;
    o_eff.key_lengths = seq.k_len;
    o_eff.align_to_key_lengths = true;
    return p;
}

Operand packed_operand(const Tensor& t, const char* name, int64_t head_div) {
    Operand op;
    op.buffer = detail::buffer_of(t).get();
    op.name = name;
    op.elem_size = dtype_size(t.dtype());
    if (dtype_is_quantized(t.dtype())) op.block_bytes = dtype_block_bytes(t.dtype());  // bound whole (chunking.hpp)
    op.offset = t.offset();
    op.strides = {0, t.strides()[1], t.strides()[0], t.strides()[2]};
    op.head_div = head_div;
    op.rows = t.dim(0);
    op.cols = t.dim(2);
    op.rows_chunked = false;  // every chunk binds every row: the kernels index them per sequence
    return op;
}

Operand flat_operand(const Tensor& t, const char* name, int64_t n) {
    Operand op;
    op.buffer = detail::buffer_of(t).get();
    op.name = name;
    op.elem_size = 4;
    op.offset = t.offset();
    op.strides = {0, 0, 1, 1};
    op.rows = n;
    op.cols = 1;
    op.rows_chunked = false;
    return op;
}

void append_sequence_words(const SequenceLayout& seq, std::vector<int32_t>& words) {
    words.push_back(static_cast<int32_t>(seq.total_q));
    for (int64_t b = 0; b < seq.sequences(); ++b) {
        const auto i = static_cast<std::size_t>(b);
        words.push_back(seq.q_start[i]);
        words.push_back(seq.q_len[i]);
        words.push_back(seq.paged ? 0 : seq.k_start[i]);
        words.push_back(static_cast<int32_t>(std::min<int64_t>(seq.p_start[i], INT32_MAX)));
    }
}

}  // namespace vkattn::detail

namespace vkattn {

std::vector<int64_t> varlen_weights_offsets(std::span<const int32_t> cu_seqlens_q, std::span<const int32_t> cu_seqlens_k, int64_t Hq) {
    std::vector<int64_t> off(1, 0);
    for (std::size_t i = 0; i + 1 < cu_seqlens_q.size() && i + 1 < cu_seqlens_k.size(); ++i)
        off.push_back(off.back() + Hq * int64_t{cu_seqlens_q[i + 1] - cu_seqlens_q[i]} * (cu_seqlens_k[i + 1] - cu_seqlens_k[i]));
    return off;
}

AttentionResult attention_varlen(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, std::span<const int32_t> cu_seqlens_q,
                                 std::span<const int32_t> cu_seqlens_k, const AttentionOptions& options) {
    if (!q.defined() || q.rank() != 3) detail::fail("q: packed sequences take rank 3 [total_q, Hq, D]" + std::string(q.defined() ? ", got shape " + to_string(q.shape()) : ", got an empty tensor"));
    if (!k.defined() || k.rank() != 3) detail::fail("k: packed sequences take rank 3 [total_k, Hkv, D]" + std::string(k.defined() ? ", got shape " + to_string(k.shape()) : ", got an empty tensor"));
    const std::vector<int32_t> q_len = detail::lengths_from_offsets(cu_seqlens_q, q.dim(0), "cu_seqlens_q", "q");
    const std::vector<int32_t> k_len = detail::lengths_from_offsets(cu_seqlens_k, k.dim(0), "cu_seqlens_k", "k");
    if (q_len.size() != k_len.size())
        detail::fail("cu_seqlens_k: has " + std::to_string(k_len.size() + 1) + " offsets (" + std::to_string(k_len.size()) +
                     " sequences) but cu_seqlens_q has " + std::to_string(q_len.size() + 1) + "; both need S + 1");
    const detail::SequenceLayout seq = detail::make_sequence_layout(
        cu_seqlens_q, std::vector<int32_t>(cu_seqlens_k.begin(), cu_seqlens_k.end() - 1), k_len, q.dim(1), k.dim(0));
    detail::SyncTarget target;
    return detail::attention_call(ctx, q, k, v, options, target, &seq);
}

}  // namespace vkattn
