// Batch (vkattn/batch.hpp): operations recorded into one command buffer of the context's and submitted
// together. Temporaries and results are new tensors of the context, held with the inputs until the
// submission completes; parameters and descriptor sets come from recording resources reused batch
// after batch.
#include <algorithm>

#include "attention/call_target.hpp"
#include "attention/kv_cache_access.hpp"
#include "layers/layer_calls.hpp"
#include "layers/matmul_engine.hpp"
#include "runtime/access.hpp"
#include "runtime/recording.hpp"
#include "vkattn/batch.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

namespace detail {
struct BatchState {
    std::shared_ptr<detail::ContextState> owner;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    std::unique_ptr<detail::RecordingResources> resources;
    std::vector<Tensor> keep;
    std::size_t operations = 0;
};
}  // namespace detail

struct Batch::State : detail::BatchState {};

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

// A batch's temporaries and results: new tensors, held until the submission completes.
class BatchTarget final : public detail::CallTarget {
public:
    explicit BatchTarget(detail::BatchState& b) : b_(b) {}
    Tensor temporary(Context& ctx, const Shape& shape, DType dtype, const char* name) override {
        Tensor t = sync_.temporary(ctx, shape, dtype, name);
        b_.keep.push_back(t);
        return t;
    }
    Tensor result(Context& ctx, const Shape& shape, DType dtype, const char* name) override {
        Tensor t = sync_.result(ctx, shape, dtype, name);
        b_.keep.push_back(t);
        return t;
    }
    double finish(detail::ContextState& st, const std::vector<detail::Dispatch>& dispatches, std::span<const int32_t> words,
                  bool) override {
        detail::record_compute_transfer_barrier(b_.cmd);
        detail::record_dispatches(st, b_.cmd, dispatches, words, *b_.resources);
        return -1;
    }

private:
    detail::BatchState& b_;
    detail::SyncTarget sync_;
};

}  // namespace

struct BatchAccess {
    static Batch::State& state(Batch& b) {
        if (!b.state_) fail("batch: moved from");
        {
            std::lock_guard lock(b.state_->owner->mutex);
            if (b.state_->owner->released) fail("batch: its Context has been destroyed");
        }
        return *b.state_;
    }
    // The command buffer and resources, begun at the first operation after a submit.
    static void begin(detail::BatchState& s) {
        if (s.cmd != VK_NULL_HANDLE) return;
        if (!s.resources) s.resources = s.owner->take_recording_resources();
        s.cmd = s.owner->begin_batch_commands();
    }
};

Batch::Batch(Context& ctx) : state_(std::make_unique<State>()) {
    state_->owner = detail::state_of(ctx).shared_from_this();
}

Batch::~Batch() {
    if (!state_) return;
    // Nothing queued since the last submit has been submitted: the command buffer is simply reused.
    state_->owner->give_back(state_->cmd, std::move(state_->resources));
}

Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&& other) noexcept {
    if (this != &other) {
        if (state_) state_->owner->give_back(state_->cmd, std::move(state_->resources));
        state_ = std::move(other.state_);
    }
    return *this;
}

std::size_t Batch::size() const { return state_ ? state_->operations : 0; }

namespace {

// Queues one operation: `call` runs through the batch's target; the tensors in `uses` (and what the
// target made) are held until the submission completes. An error queues nothing.
template <class Call>
auto queue(detail::BatchState& s, bool measure_time, std::initializer_list<const Tensor*> uses, Call&& call) {
    if (measure_time) fail("measure_time: a batch is one command buffer; time single calls, or the batch with vkattn bench");
    // The Context object the batch was made with may have been moved since: a borrowed handle to the
    // same state stands in for it.
    Context ctx = ContextAccess::borrow(s.owner);
    BatchAccess::begin(s);
    const std::size_t kept = s.keep.size();
    BatchTarget target(s);
    try {
        auto r = call(ctx, target);
        for (const Tensor* t : uses)
            if (t && t->defined()) s.keep.push_back(*t);
        ++s.operations;
        return r;
    } catch (...) {
        // Checks and planning run before anything is recorded; what was made for the call goes.
        s.keep.resize(kept);
        throw;
    }
}

template <class T>
const Tensor* maybe(const std::optional<T>& t) {
    return t ? &*t : nullptr;
}

}  // namespace

AttentionResult Batch::attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
    return queue(BatchAccess::state(*this), options.measure_time, {&q, &k, &v, maybe(options.mask), maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::attention_call(ctx, q, k, v, options, t); });
}

MatmulResult Batch::matmul(const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias, const MatmulOptions& options) {
    return queue(BatchAccess::state(*this), options.measure_time, {&a, &w, maybe(bias), maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::matmul_call(ctx, a, w, bias, options, t); });
}

LinearAttentionResult Batch::linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& options) {
    return queue(BatchAccess::state(*this), options.measure_time, {&q, &k, &v, maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::linear_call(ctx, q, k, v, options, t); });
}

AttentionResult Batch::additive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& weights,
                                          const AdditiveOptions& options) {
    return queue(BatchAccess::state(*this), options.measure_time,
                 {&q, &k, &v, &weights.w_q, &weights.w_k, &weights.v_a, maybe(weights.bias), maybe(options.mask), maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::additive_call(ctx, q, k, v, weights, options, t); });
}

AttentionResult Batch::luong_general_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                               const AttentionOptions& options) {
    return queue(BatchAccess::state(*this), options.measure_time, {&q, &k, &v, &w, maybe(options.mask), maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::luong_call(ctx, q, k, v, w, options, t); });
}

MhaResult Batch::multi_head_attention(const MhaWeights& weights, const Tensor& x_q, const std::optional<Tensor>& x_k,
                                      const std::optional<Tensor>& x_v, const MhaOptions& options) {
    if (options.need_weights && options.average_weights)
        fail("average_weights: the average over heads is formed on the host after the run; in a batch, queue need_weights "
             "with average_weights = false and average the [B, H, Lq, Lk] weights after the wait");
    return queue(BatchAccess::state(*this), options.measure_time,
                 {&x_q, maybe(x_k), maybe(x_v), &weights.w_q, &weights.w_k, &weights.w_v, &weights.w_o, maybe(weights.b_q),
                  maybe(weights.b_k), maybe(weights.b_v), maybe(weights.b_o), maybe(weights.in_proj), maybe(weights.in_proj_bias),
                  maybe(options.mask), maybe(options.out)},
                 [&](Context& ctx, detail::CallTarget& t) { return detail::mha_call(ctx, weights, x_q, x_k, x_v, options, t, false); });
}

void Batch::append(KvCache& cache, const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts) {
    State& s = BatchAccess::state(*this);
    if (detail::buffer_of(cache.keys())->owner != s.owner) fail("cache: belongs to another Context");
    std::lock_guard lock(s.owner->mutex);
    KvCacheAccess::require_copyable(cache, "Batch::append");
    KvCacheAccess::AppendPlan plan = KvCacheAccess::plan_append(cache, k_new, v_new, counts);
    BatchAccess::begin(s);
    detail::record_compute_transfer_barrier(s.cmd);  // earlier operations' reads of k_new/v_new's buffers, or of the cache
    KvCacheAccess::record_copies(s.cmd, cache, k_new, v_new, plan);
    for (const Tensor* t : {&k_new, &v_new, &cache.keys(), &cache.values()}) s.keep.push_back(*t);
    KvCacheAccess::commit(cache, plan);
    ++s.operations;
}

AttentionResult Batch::attend(const Tensor& q, const KvCache& cache, const AttentionOptions& options) {
    State& s = BatchAccess::state(*this);
    Context ctx = ContextAccess::borrow(s.owner);
    return attention(q, cache.keys(), cache.values(), KvCacheAccess::attend_options(ctx, q, cache, options));
}

Ticket Batch::submit() {
    State& s = BatchAccess::state(*this);
    if (s.operations == 0) {
        std::lock_guard lock(s.owner->mutex);
        return Ticket{s.owner->last_ticket};
    }
    std::vector<Tensor> keep = std::move(s.keep);
    s.keep.clear();
    const VkCommandBuffer cmd = std::exchange(s.cmd, VK_NULL_HANDLE);
    s.operations = 0;
    return Ticket{s.owner->submit_batch(cmd, std::move(s.resources), std::move(keep))};
}

}  // namespace vkattn
