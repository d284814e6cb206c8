// KvCache: device storage, in-place appends (one submission of buffer copies), attention against it.
#include "runtime/access.hpp"
#include "vkattn/kv_cache.hpp"

#include "attention/kv_cache_access.hpp"

#include "runtime/buffer.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

std::string s(int64_t v) { return std::to_string(v); }

void check_new_rows(const Tensor& t, const char* name, const KvCacheOptions& o, int64_t cols) {
    if (t.rank() != 4) fail(std::string(name) + ": expected [B, Hkv, n, " + (cols == o.head_dim ? "D" : "Dv") + "], got rank " + s(t.rank()));
    if (t.dim(0) != o.batch || t.dim(1) != o.kv_heads || t.dim(3) != cols)
        fail(std::string(name) + ": shape " + to_string(t.shape()) + " does not match the cache's [" + s(o.batch) + ", " +
             s(o.kv_heads) + ", n, " + s(cols) + "]");
    if (t.dtype() != o.dtype)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " does not match the cache's " + std::string(dtype_name(o.dtype)));
    if (!t.is_contiguous()) fail(std::string(name) + ": must be contiguous (copy it first)");
    if (!(detail::buffer_of(t)->usage & VK_BUFFER_USAGE_TRANSFER_SRC_BIT))
        fail(std::string(name) + ": the application's buffer lacks VK_BUFFER_USAGE_TRANSFER_SRC_BIT (appends copy from it)");
}

void check_options(KvCacheOptions& options) {
    if (options.value_dim == 0) options.value_dim = options.head_dim;
    const KvCacheOptions& c = options;
    if (c.batch < 1) fail("batch: must be >= 1, got " + s(c.batch));
    if (c.kv_heads < 1) fail("kv_heads: must be >= 1, got " + s(c.kv_heads));
    if (c.capacity < 1 || c.capacity > INT32_MAX) fail("capacity: must be in [1, 2^31), got " + s(c.capacity));
    if (c.head_dim < 1) fail("head_dim: must be >= 1, got " + s(c.head_dim));
    if (c.value_dim < 1) fail("value_dim: must be >= 1 (or 0 for head_dim), got " + s(c.value_dim));
    if (c.dtype != DType::f32 && c.dtype != DType::f16 && c.dtype != DType::bf16)
        fail("dtype: must be f32, f16 or bf16, got " + std::string(dtype_name(c.dtype)));
}

// Caller-provided storage: the shape, dtype and layout the cache's own would have, this context's, and
// writable by transfer commands (appends are buffer copies).
void check_storage(Context& ctx, const Tensor& t, const char* name, const KvCacheOptions& c, int64_t cols) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
    const Shape want = {c.batch, c.kv_heads, c.capacity, cols};
    if (t.shape() != want) fail(std::string(name) + ": shape " + to_string(t.shape()) + " must be " + to_string(want));
    if (t.dtype() != c.dtype)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " does not match the cache's " + std::string(dtype_name(c.dtype)));
    if (!t.is_contiguous()) fail(std::string(name) + ": must be contiguous");
    if (!(detail::buffer_of(t)->usage & VK_BUFFER_USAGE_TRANSFER_DST_BIT))
        fail(std::string(name) + ": the application's buffer lacks VK_BUFFER_USAGE_TRANSFER_DST_BIT (appends copy into it)");
}

}  // namespace

KvCache::KvCache(Context& ctx, const KvCacheOptions& o) : options_(o) {
    check_options(options_);
    const KvCacheOptions& c = options_;
    keys_ = ctx.empty({c.batch, c.kv_heads, c.capacity, c.head_dim}, c.dtype);
    values_ = ctx.empty({c.batch, c.kv_heads, c.capacity, c.value_dim}, c.dtype);
    lengths_.assign(static_cast<std::size_t>(c.batch), 0);
}

KvCache::KvCache(Context& ctx, const KvCacheOptions& o, Tensor key_storage, Tensor value_storage) : options_(o) {
    check_options(options_);
    const KvCacheOptions& c = options_;
    check_storage(ctx, key_storage, "key_storage", c, c.head_dim);
    check_storage(ctx, value_storage, "value_storage", c, c.value_dim);
    if (detail::buffer_of(key_storage)->buffer.get() == detail::buffer_of(value_storage)->buffer.get()) {
        const int64_t es = static_cast<int64_t>(dtype_size(c.dtype));
        const int64_t k0 = key_storage.offset() * es, k1 = (key_storage.offset() + key_storage.numel()) * es;
        const int64_t v0 = value_storage.offset() * es, v1 = (value_storage.offset() + value_storage.numel()) * es;
        if (k0 < v1 && v0 < k1) fail("value_storage: overlaps key_storage in the same buffer");
    }
    keys_ = std::move(key_storage);
    values_ = std::move(value_storage);
    lengths_.assign(static_cast<std::size_t>(c.batch), 0);
}

void KvCache::clear() { std::fill(lengths_.begin(), lengths_.end(), 0); }

void KvCache::set_length(int64_t batch, int32_t length) {
    if (batch < 0 || batch >= options_.batch) fail("batch: " + s(batch) + " is outside [0, " + s(options_.batch) + ")");
    if (length < 0 || length > lengths_[static_cast<std::size_t>(batch)])
        fail("length: " + s(length) + " is outside [0, current length " + s(lengths_[static_cast<std::size_t>(batch)]) +
             "] (set_length only shortens)");
    lengths_[static_cast<std::size_t>(batch)] = length;
}

KvCacheAccess::AppendPlan KvCacheAccess::plan_append(const KvCache& cache, const Tensor& k_new, const Tensor& v_new,
                                                      std::span<const int32_t> counts) {
    const KvCacheOptions& o = cache.options_;
    check_new_rows(k_new, "k_new", o, o.head_dim);
    check_new_rows(v_new, "v_new", o, o.value_dim);
    if (detail::buffer_of(k_new)->owner != detail::buffer_of(cache.keys_)->owner) fail("k_new: tensor belongs to another Context");
    if (detail::buffer_of(v_new)->owner != detail::buffer_of(cache.keys_)->owner) fail("v_new: tensor belongs to another Context");
    const int64_t n = k_new.dim(2);
    if (v_new.dim(2) != n) fail("v_new: " + s(v_new.dim(2)) + " new rows, but k_new has " + s(n));
    if (!counts.empty() && static_cast<int64_t>(counts.size()) != o.batch)
        fail("counts: has " + s(static_cast<int64_t>(counts.size())) + " entries; needs one per batch (B = " + s(o.batch) + ")");
    AppendPlan plan;
    plan.next = cache.lengths_;
    for (int64_t b = 0; b < o.batch; ++b) {
        const int64_t count = counts.empty() ? n : counts[static_cast<std::size_t>(b)];
        if (count < 0 || count > n) fail("counts[" + s(b) + "]: " + s(count) + " is outside [0, n = " + s(n) + "]");
        const int64_t len = cache.lengths_[static_cast<std::size_t>(b)];
        if (len + count > o.capacity)
            fail("k_new: appending " + s(count) + " tokens to batch " + s(b) + " (length " + s(len) + ") exceeds the cache capacity " +
                 s(o.capacity));
        plan.next[static_cast<std::size_t>(b)] = static_cast<int32_t>(len + count);
    }
    // A region per (batch, KV head) and tensor, rows [0, count) to rows [len, len + count).
    const auto es = static_cast<VkDeviceSize>(dtype_size(o.dtype));
    const auto regions = [&](const Tensor& src, const Tensor& dst, int64_t cols) {
        std::vector<VkBufferCopy> r;
        for (int64_t b = 0; b < o.batch; ++b)
            for (int64_t h = 0; h < o.kv_heads; ++h) {
                const int64_t len = cache.lengths_[static_cast<std::size_t>(b)];
                const int64_t count = plan.next[static_cast<std::size_t>(b)] - len;
                if (count == 0) continue;
                const int64_t src_row = src.offset() + ((b * o.kv_heads + h) * n) * cols;
                const int64_t dst_row = dst.offset() + ((b * o.kv_heads + h) * o.capacity + len) * cols;
                r.push_back({static_cast<VkDeviceSize>(src_row) * es, static_cast<VkDeviceSize>(dst_row) * es,
                             static_cast<VkDeviceSize>(count * cols) * es});
            }
        return r;
    };
    plan.keys = regions(k_new, cache.keys_, o.head_dim);
    plan.values = regions(v_new, cache.values_, o.value_dim);
    return plan;
}

void KvCacheAccess::record_copies(VkCommandBuffer cmd, const KvCache& cache, const Tensor& k_new, const Tensor& v_new,
                                  const AppendPlan& plan) {
    if (plan.keys.empty()) return;
    vkCmdCopyBuffer(cmd, detail::buffer_of(k_new)->buffer.get(), detail::buffer_of(cache.keys_)->buffer.get(),
                    static_cast<uint32_t>(plan.keys.size()), plan.keys.data());
    vkCmdCopyBuffer(cmd, detail::buffer_of(v_new)->buffer.get(), detail::buffer_of(cache.values_)->buffer.get(),
                    static_cast<uint32_t>(plan.values.size()), plan.values.data());
}

void KvCache::append(const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts) {
    KvCacheAccess::AppendPlan plan = KvCacheAccess::plan_append(*this, k_new, v_new, counts);
    // One submission for all copies.
    if (!plan.keys.empty())
        detail::buffer_of(keys_)->owner->submit_and_wait(
            [&](VkCommandBuffer cmd) { KvCacheAccess::record_copies(cmd, *this, k_new, v_new, plan); });
    KvCacheAccess::commit(*this, plan);  // only once the copies succeeded
}

AttentionOptions KvCacheAccess::attend_options(Context& ctx, const Tensor& q, const KvCache& cache, AttentionOptions o) {
    if (!o.key_lengths.empty()) fail("key_lengths: attend() takes them from the cache; leave options.key_lengths empty");
    if (o.causal == Causal::top_left)
        fail("causal: attend() is always causal with bottom-right alignment to each batch's length; top_left was given");
    if (detail::buffer_of(cache.keys())->owner.get() != &detail::state_of(ctx)) fail("cache: belongs to another Context");
    if (q.rank() == 4 && q.dim(0) != cache.options().batch)
        fail("q: batch " + s(q.dim(0)) + " does not match the cache's " + s(cache.options().batch));
    o.key_lengths = cache.lengths();
    o.align_to_key_lengths = true;
    o.causal = Causal::bottom_right;
    return o;
}

AttentionResult attend(Context& ctx, const Tensor& q, const KvCache& cache, AttentionOptions o) {
    return attention_full(ctx, q, cache.keys(), cache.values(), KvCacheAccess::attend_options(ctx, q, cache, std::move(o)));
}

}  // namespace vkattn
