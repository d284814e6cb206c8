#pragma once
/// \file batch.hpp
/// Operations queued on the context's own queue and submitted together: one command buffer, one
/// vkQueueSubmit, and no host wait until Context::wait(ticket) (docs/embedding.md, "Batches and tickets").
#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "vkattn/additive.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/kv_cache.hpp"
#include "vkattn/linear_attention.hpp"
#include "vkattn/matmul.hpp"
#include "vkattn/mha.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// Queues operations for one submission. Each call checks and plans at once (an error queues nothing
/// and leaves the batch usable) and records its commands; submit() sends them all. Results, options.out
/// and the cache contents are valid once Context::wait(ticket) has returned; the batch keeps every
/// tensor it uses alive until then. Operations run in the order they were queued, after everything
/// submitted to the context before. Not copyable; movable. One thread at a time.
class Batch {
public:
    explicit Batch(Context& ctx);
    /// Discards what was queued and not submitted.
    ~Batch();
    Batch(Batch&&) noexcept;
    Batch& operator=(Batch&&) noexcept;
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    /// attention_full, queued: out (a new tensor unless options.out), lse and weights when asked for.
    /// measure_time is refused (the batch has one command buffer; time it with the bench).
    AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});
    /// KvCache::append, queued: the lengths advance now, so attend() calls queued after it see them.
    void append(KvCache& cache, const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts = {});
    /// attend(), queued (the cache's lengths as they are when it is queued).
    AttentionResult attend(const Tensor& q, const KvCache& cache, const AttentionOptions& options = {});

    /// The layers, queued: as their synchronous calls, with results valid after the wait. measure_time
    /// is refused; so is multi-head attention's need_weights with average_weights (the average is
    /// formed on the host after the run: queue it with average_weights = false).
    MatmulResult matmul(const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias = std::nullopt,
                        const MatmulOptions& options = {});
    LinearAttentionResult linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& options = {});
    AttentionResult additive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& weights,
                                       const AdditiveOptions& options = {});
    AttentionResult luong_general_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                            const AttentionOptions& options = {});
    MhaResult multi_head_attention(const MhaWeights& weights, const Tensor& x_q, const std::optional<Tensor>& x_k = std::nullopt,
                                   const std::optional<Tensor>& x_v = std::nullopt, const MhaOptions& options = {});

    /// Operations queued since the last submit.
    std::size_t size() const;
    /// Submits everything queued as one submission and returns its ticket without waiting; the batch is
    /// empty again and may queue more. An empty batch submits nothing and returns the latest ticket.
    Ticket submit();

private:
    friend struct BatchAccess;
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace vkattn
