#pragma once
/// \file paged_kv_cache.hpp
/// A paged KV cache for serving many sequences at once (vLLM's PagedAttention, FlashAttention's
/// block_table): one pool of fixed-size pages on the device, shared by every sequence; each sequence
/// owns a block table of pages taken from a free list as it grows. Sequences can be forked (the child
/// shares the parent's pages, copy-on-write), trimmed and freed. Attention reads K/V through the tables,
/// many sequences of different lengths in one call.
#include <cstdint>
#include <span>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

struct PagedKvCacheOptions {
    int64_t pages = 0;       ///< pages in the pool (>= 1)
    int64_t page_size = 16;  ///< tokens per page: a power of two in [1, 65536] (the kernels find a key's page by shifts)
    int64_t kv_heads = 1;
    int64_t head_dim = 0;    ///< D of the keys
    int64_t value_dim = 0;   ///< Dv of the values; 0: head_dim
    DType dtype = DType::f16;
};

/// A sequence of a PagedKvCache; ids are never reused within one cache.
using SequenceId = int64_t;

/// The pool's use.
struct PagedKvCacheStats {
    int64_t pages = 0;         ///< in the pool
    int64_t pages_free = 0;    ///< on the free list
    int64_t pages_used = 0;    ///< held by at least one sequence
    int64_t pages_shared = 0;  ///< held by two or more sequences (forks share their parent's prefix)
    int64_t sequences = 0;     ///< live sequences
    int64_t tokens = 0;        ///< sum of the live sequences' lengths
};

class PagedKvCache {
public:
    /// Allocates the pool: keys [pages * page_size, Hkv, D], values [pages * page_size, Hkv, Dv] (token rows,
    /// page p holding rows p * page_size .. (p + 1) * page_size - 1, FlashAttention's paged layout with the
    /// page and token dims flattened). Throws Error(invalid_argument) naming the bad option.
    PagedKvCache(Context& ctx, const PagedKvCacheOptions& options);

    /// A new, empty sequence (it holds no page until something is appended).
    SequenceId add_sequence();
    /// A new sequence with `parent`'s tokens: it shares every page of the parent (reference counts);
    /// whichever of the two first writes into a shared, partly filled page copies that page first.
    SequenceId fork(SequenceId parent);
    /// Releases the sequence's pages (those no other sequence holds return to the free list); the id is dead after.
    void free(SequenceId sequence);
    /// Shortens the sequence to `length` tokens (<= its length), releasing the pages past it.
    void trim(SequenceId sequence, int64_t length);

    /// Appends new tokens to several sequences in one submission: k_new [T, Hkv, D], v_new [T, Hkv, Dv]
    /// packed, contiguous, the cache's dtype; sequences[s] receives rows cu_seqlens[s] .. cu_seqlens[s + 1] - 1
    /// (S + 1 offsets from 0, non-decreasing, the last = T; each sequence listed once). Pages come from the
    /// free list; a shared, partly filled last page is copied first (copy-on-write). When the pool has too
    /// few free pages the call throws Error(out_of_memory) naming k_new and writes nothing.
    void append(std::span<const SequenceId> sequences, const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> cu_seqlens);

    bool is_live(SequenceId sequence) const;
    int64_t length(SequenceId sequence) const;
    /// The sequence's block table: logical page i is physical page block_table[i].
    const std::vector<int32_t>& block_table(SequenceId sequence) const;
    /// How many sequences hold physical page `page` (0: free).
    int32_t page_references(int64_t page) const;
    PagedKvCacheStats stats() const;
    const PagedKvCacheOptions& options() const { return options_; }
    /// The pools, [pages * page_size, Hkv, D] and [pages * page_size, Hkv, Dv]; rows of free pages are stale.
    const Tensor& keys() const { return keys_; }
    const Tensor& values() const { return values_; }

private:
    struct Sequence {
        int64_t length = 0;
        std::vector<int32_t> pages;
        bool live = false;
    };
    const Sequence& live_sequence(SequenceId id, const char* name) const;
    void release_pages(Sequence& s, std::size_t keep);

    PagedKvCacheOptions options_;
    Tensor keys_, values_;
    std::vector<Sequence> sequences_;    // indexed by id
    std::vector<int32_t> references_;    // per page
    std::vector<int32_t> free_pages_;    // a stack: the next page is at the back
};

/// Attention of packed queries q [total_q, Hq, D] against sequences of the cache: query rows
/// cu_seqlens_q[s] .. cu_seqlens_q[s + 1] - 1 are the last tokens of sequences[s] (already appended), so
/// causality is bottom-right aligned to each sequence's own length (options.causal must be none or
/// bottom_right; it is set to bottom_right). Results as attention_varlen (vkattn/sequences.hpp): out
/// [total_q, Hq, Dv], lse [Hq, total_q]. Short query blocks on CPU devices run the split-KV decode kernel
/// through the block tables. Throws Error(invalid_argument) naming `sequences` for a freed or unknown id.
AttentionResult attend(Context& ctx, const Tensor& q, const PagedKvCache& cache, std::span<const SequenceId> sequences,
                       std::span<const int32_t> cu_seqlens_q, AttentionOptions options = {});

/// FlashAttention's paged call: block_table is [S, pages_per_sequence] row-major (logical page i of
/// sequence s is physical page block_table[s * pages_per_sequence + i]), key_lengths the S sequences'
/// key counts (FlashAttention's seqused_k), each <= pages_per_sequence * page_size. Every page a sequence
/// reaches must be in [0, pages) and allocated in the cache (held by a sequence). Options as
/// attention_varlen (causal, window, ALiBi bottom-right aligned to each sequence's key length).
AttentionResult attention_paged(Context& ctx, const Tensor& q, const PagedKvCache& cache, std::span<const int32_t> cu_seqlens_q,
                                std::span<const int32_t> key_lengths, std::span<const int32_t> block_table,
                                int64_t pages_per_sequence, const AttentionOptions& options = {});

}  // namespace vkattn
