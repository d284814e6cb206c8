// KvCache: device storage, in-place appends (one submission of buffer copies), attention against it.
#include "runtime/access.hpp"
#include "vkattn/kv_cache.hpp"

#include "attention/kv_cache_access.hpp"

#include <mutex>
#include <tuple>

#include "attention/attention_problem.hpp"
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
    if (dtype_is_quantized(o.dtype)) {
        // A q8_0 / q4_0 cache quantises the new rows on the device: they come in a float format.
        if (t.dtype() != DType::f32 && t.dtype() != DType::f16 && t.dtype() != DType::bf16)
            fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " cannot be appended to a " +
                 std::string(dtype_name(o.dtype)) + " cache (new rows are f32, f16 or bf16; append quantises them)");
    } else if (t.dtype() != o.dtype) {
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " does not match the cache's " + std::string(dtype_name(o.dtype)));
    }
    if (!t.is_contiguous()) fail(std::string(name) + ": must be contiguous (copy it first)");
    if (dtype_is_quantized(o.dtype)) return;  // read by a compute pass, not copied
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
    if (c.dtype != DType::f32 && c.dtype != DType::f16 && c.dtype != DType::bf16 && !dtype_is_quantized(c.dtype))
        fail("dtype: must be f32, f16, bf16, q8_0 or q4_0, got " + std::string(dtype_name(c.dtype)));
    if (dtype_is_quantized(c.dtype) && (c.head_dim % 32 != 0 || c.value_dim % 32 != 0))
        fail("dtype: a " + std::string(dtype_name(c.dtype)) + " cache needs head_dim and value_dim multiples of 32 (its block), got " +
             s(c.head_dim) + " and " + s(c.value_dim));
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
    if (dtype_is_quantized(c.dtype)) fail(std::string(name) + ": a " + std::string(dtype_name(c.dtype)) + " cache allocates its own storage");
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
    plan.quantize = dtype_is_quantized(o.dtype);
    if (plan.quantize) return plan;  // KvCache::append quantises on the device (append_quantized)
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

void KvCacheAccess::require_copyable(const KvCache& cache, const char* operation) {
    if (dtype_is_quantized(cache.options_.dtype))
        throw Error(ErrorCode::unsupported, std::string("cache: ") + operation + " copies rows; a " + std::string(dtype_name(cache.options_.dtype)) +
                                                " cache quantises them on the device in KvCache::append only");
}

namespace {

// The dispatches quantising new rows into a q8_0 / q4_0 cache (shaders/runtime/kv_quantize.comp): per batch
// with new rows and per tensor, one invocation per 32-value block of the batch's Hkv x count rows.
void append_quantized(const KvCache& cache, const Tensor& k_new, const Tensor& v_new, const std::vector<int32_t>& before,
                      const std::vector<int32_t>& after) {
    detail::ContextState& st = *detail::buffer_of(cache.keys())->owner;
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    const KvCacheOptions& o = cache.options();
    const int32_t wg = detail::convert_workgroup(st.info);
    const int qbits = o.dtype == DType::q8_0 ? 8 : 4;
    const uint64_t max_range = st.info.max_storage_buffer_range;
    std::vector<detail::Dispatch> dispatches;
    for (const auto& [src, dst, cols] : {std::tuple<const Tensor&, const Tensor&, int64_t>{k_new, cache.keys(), o.head_dim},
                                         {v_new, cache.values(), o.value_dim}}) {
        const detail::DeviceBuffer& sb = *detail::buffer_of(src);
        const detail::DeviceBuffer& db = *detail::buffer_of(dst);
        if (sb.size > max_range || db.size > max_range)
            throw Error(ErrorCode::unsupported, "k_new: the quantising append binds the new rows' and the cache's buffers whole; one exceeds "
                                                "the device's maxStorageBufferRange (" + std::to_string(max_range) + " bytes)");
        const bool sixteen = src.dtype() != DType::f32;
        const VkPipeline pl = st.pipeline(sixteen ? "kv_quantize_f16" : "kv_quantize_f32", {wg, qbits});
        const int64_t n = src.dim(2);
        for (int64_t b = 0; b < o.batch; ++b) {
            const int64_t len = before[static_cast<std::size_t>(b)], count = after[static_cast<std::size_t>(b)] - len;
            if (count == 0) continue;
            detail::Dispatch d;
            d.pipeline = pl;
            const int64_t per_head = count * cols / 32, blocks = o.kv_heads * per_head;
            d.params.flags[3] = static_cast<int32_t>(blocks);
            d.params.dims0[1] = static_cast<int32_t>(per_head);
            d.params.q_stride[1] = static_cast<int32_t>(n * cols);
            d.params.o_stride[1] = static_cast<int32_t>(o.capacity * cols);
            d.params.offsets0[0] = static_cast<int32_t>(src.offset() + b * o.kv_heads * n * cols);
            d.params.offsets0[3] = static_cast<int32_t>(dst.offset() + (b * o.kv_heads * o.capacity + len) * cols);
            d.params.ext2[1] = src.dtype() == DType::bf16 ? 1 : 0;  // FMT_IN_BF16
            d.bindings[detail::kQ] = {sb.buffer.get(), 0, sb.size};
            d.bindings[detail::kOut] = {db.buffer.get(), 0, db.size};
            const uint64_t groups = (static_cast<uint64_t>(blocks) + static_cast<uint64_t>(wg) - 1) / static_cast<uint64_t>(wg);
            const uint32_t gx = static_cast<uint32_t>(std::min<uint64_t>(groups, st.info.max_workgroup_count[0]));
            d.groups = {gx, static_cast<uint32_t>((groups + gx - 1) / gx), 1};
            dispatches.push_back(d);
        }
    }
    if (!dispatches.empty()) st.run_dispatches(dispatches, false);
}

}  // namespace

void KvCache::append(const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> counts) {
    KvCacheAccess::AppendPlan plan = KvCacheAccess::plan_append(*this, k_new, v_new, counts);
    if (plan.quantize) {
        append_quantized(*this, k_new, v_new, lengths_, plan.next);
        KvCacheAccess::commit(*this, plan);
        return;
    }
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
