#pragma once
/// \file kv_cache.hpp
/// A per-layer key/value cache for autoregressive decoding: [B, Hkv, capacity, D] keys and
/// [B, Hkv, capacity, Dv] values on the device, per-batch lengths, in-place appends, and attention of
/// new queries against the cache with bottom-right causality aligned to each batch's own length.
#include <cstdint>
#include <span>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

struct KvCacheOptions {
    int64_t batch = 1;
    int64_t kv_heads = 1;
    int64_t capacity = 0;   ///< tokens per sequence
    int64_t head_dim = 0;   ///< D of the keys
    int64_t value_dim = 0;  ///< Dv of the values; 0: head_dim
    DType dtype = DType::f16;
};

class KvCache {
public:
    /// Allocates the cache on `ctx`'s device, all lengths 0. Throws Error(invalid_argument) naming the bad option.
    KvCache(Context& ctx, const KvCacheOptions& options);
    /// A cache over storage the caller provides, e.g. views of an application's buffers
    /// (vkattn/embedding.hpp): key_storage [B, Hkv, capacity, D] and value_storage [B, Hkv, capacity, Dv],
    /// contiguous, the cache's dtype, of `ctx`, not overlapping; appends copy into them, so an
    /// application buffer needs VK_BUFFER_USAGE_TRANSFER_DST_BIT. Each violation is Error(invalid_argument)
    /// naming key_storage or value_storage. All lengths 0.
    KvCache(Context& ctx, const KvCacheOptions& options, Tensor key_storage, Tensor value_storage);

    /// Appends new tokens in place: k_new [B, Hkv, n, D], v_new [B, Hkv, n, Dv], contiguous, the cache's
    /// dtype. `counts` (B entries, each in [0, n]) appends only the first counts[b] of the n rows of batch
    /// b, so sequences can advance unevenly; empty: n for every batch. One submission for all copies.
    void append(const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts = {});

    /// Sets every length to 0 (the storage is kept), or one batch's length (to roll back or reuse it).
    void clear();
    void set_length(int64_t batch, int32_t length);

    const std::vector<int32_t>& lengths() const { return lengths_; }
    const KvCacheOptions& options() const { return options_; }
    /// The storage, [B, Hkv, capacity, D] / [B, Hkv, capacity, Dv]; rows past a batch's length are stale.
    const Tensor& keys() const { return keys_; }
    const Tensor& values() const { return values_; }

private:
    friend struct KvCacheAccess;  // record_append (vkattn/embedding.hpp) shares append's planning
    // The context is reached through the storage's buffers (which keep its state alive), never through
    // a Context pointer: a cache stays valid when the Context it was made with is moved.
    KvCacheOptions options_;
    Tensor keys_, values_;
    std::vector<int32_t> lengths_;
};

/// Attention of q [B, Hq, Lq, D] (the last Lq tokens of each sequence, already appended) against the
/// cache: key_lengths = the cache's lengths and always bottom-right causality aligned to each batch's
/// length, so query i of batch b sees keys j <= lengths[b] - Lq + i (options.causal must be none or
/// bottom_right; for non-causal attention over the cache call attention_full with key_lengths).
/// Everything else of `options` applies (window, ALiBi, softcap, lse, ...); options.key_lengths must be empty.
/// On CPU devices Lq <= 8 runs the split-KV decode kernel (every key block of every KV head in one
/// dispatch, combined by log-sum-exp), so one query over a long cache keeps every core busy.
AttentionResult attend(Context& ctx, const Tensor& q, const KvCache& cache, AttentionOptions options = {});

}  // namespace vkattn
