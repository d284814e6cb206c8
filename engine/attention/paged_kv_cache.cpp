// PagedKvCache: the page pool, block tables with reference counts (fork, copy-on-write, trim, free),
// appends as one submission of buffer copies, and attention through the block tables (sequences.hpp).
#include "vkattn/paged_kv_cache.hpp"

#include <algorithm>
#include <bit>

#include "attention/call_target.hpp"
#include "attention/sequences.hpp"
#include "runtime/access.hpp"
#include "runtime/buffer.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/error.hpp"

namespace vkattn {
namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }
std::string s(int64_t v) { return std::to_string(v); }

void check_options(Context& ctx, PagedKvCacheOptions& o) {
    if (o.value_dim == 0) o.value_dim = o.head_dim;
    if (o.pages < 1) fail("pages: must be >= 1, got " + s(o.pages));
    if (o.page_size < 1 || o.page_size > 65536 || !std::has_single_bit(static_cast<uint64_t>(o.page_size)))
        fail("page_size: must be a power of two in [1, 65536] (the kernels find a key's page by shifts), got " + s(o.page_size));
    if (o.kv_heads < 1) fail("kv_heads: must be >= 1, got " + s(o.kv_heads));
    if (o.head_dim < 1 || o.head_dim > 512) fail("head_dim: must be in [1, 512], got " + s(o.head_dim));
    if (o.value_dim < 1 || o.value_dim > 512) fail("value_dim: must be in [1, 512] (or 0 for head_dim), got " + s(o.value_dim));
    if (o.dtype != DType::f32 && o.dtype != DType::f16) fail("dtype: must be f32 or f16, got " + std::string(dtype_name(o.dtype)));
    // Every page is bound at once and indexed with int32 element offsets.
    const uint64_t max_range = std::min<uint64_t>(detail::state_of(ctx).info.max_storage_buffer_range, (uint64_t{1} << 31) - 4);
    const uint64_t bytes = static_cast<uint64_t>(o.pages) * static_cast<uint64_t>(o.page_size) * static_cast<uint64_t>(o.kv_heads) *
                           static_cast<uint64_t>(std::max(o.head_dim, o.value_dim)) * dtype_size(o.dtype);
    if (o.pages > (int64_t{1} << 31) / o.page_size || bytes > max_range)
        fail("pages: " + s(o.pages) + " pages of " + s(o.page_size) + " tokens take " + s(static_cast<int64_t>(bytes)) +
             " bytes per pool, more than one binding of this device holds (" + s(static_cast<int64_t>(max_range)) + ")");
}

void check_new_rows(const Tensor& t, const char* name, const PagedKvCacheOptions& o, int64_t cols, const Tensor& pool) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner != detail::buffer_of(pool)->owner) fail(std::string(name) + ": tensor belongs to another Context");
    if (t.rank() != 3 || t.dim(1) != o.kv_heads || t.dim(2) != cols)
        fail(std::string(name) + ": shape " + to_string(t.shape()) + " must be [T, " + s(o.kv_heads) + ", " + s(cols) + "] (packed new tokens)");
    if (t.dtype() != o.dtype)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " does not match the cache's " + std::string(dtype_name(o.dtype)));
    if (!t.is_contiguous()) fail(std::string(name) + ": must be contiguous (copy it first)");
    if (!(detail::buffer_of(t)->usage & VK_BUFFER_USAGE_TRANSFER_SRC_BIT))
        fail(std::string(name) + ": the application's buffer lacks VK_BUFFER_USAGE_TRANSFER_SRC_BIT (appends copy from it)");
}

}  // namespace

PagedKvCache::PagedKvCache(Context& ctx, const PagedKvCacheOptions& options) : options_(options) {
    check_options(ctx, options_);
    const PagedKvCacheOptions& o = options_;
    keys_ = ctx.empty({o.pages * o.page_size, o.kv_heads, o.head_dim}, o.dtype);
    values_ = ctx.empty({o.pages * o.page_size, o.kv_heads, o.value_dim}, o.dtype);
    references_.assign(static_cast<std::size_t>(o.pages), 0);
    for (int64_t p = o.pages - 1; p >= 0; --p) free_pages_.push_back(static_cast<int32_t>(p));  // page 0 first
}

const PagedKvCache::Sequence& PagedKvCache::live_sequence(SequenceId id, const char* name) const {
    if (id < 0 || id >= static_cast<SequenceId>(sequences_.size()))
        fail(std::string(name) + ": " + s(id) + " is not a sequence of this cache (ids 0 .. " + s(int64_t(sequences_.size())) + " exist)");
    const Sequence& q = sequences_[static_cast<std::size_t>(id)];
    if (!q.live) fail(std::string(name) + ": sequence " + s(id) + " was freed");
    return q;
}

SequenceId PagedKvCache::add_sequence() {
    Sequence q;
    q.live = true;
    sequences_.push_back(std::move(q));
    return static_cast<SequenceId>(sequences_.size()) - 1;
}

SequenceId PagedKvCache::fork(SequenceId parent) {
    Sequence child = live_sequence(parent, "parent");
    for (int32_t p : child.pages) ++references_[static_cast<std::size_t>(p)];
    sequences_.push_back(std::move(child));
    return static_cast<SequenceId>(sequences_.size()) - 1;
}

void PagedKvCache::release_pages(Sequence& q, std::size_t keep) {
    while (q.pages.size() > keep) {
        const int32_t p = q.pages.back();
        q.pages.pop_back();
        if (--references_[static_cast<std::size_t>(p)] == 0) free_pages_.push_back(p);
    }
}

void PagedKvCache::free(SequenceId id) {
    live_sequence(id, "sequence");
    Sequence& q = sequences_[static_cast<std::size_t>(id)];
    release_pages(q, 0);
    q.length = 0;
    q.live = false;
}

void PagedKvCache::trim(SequenceId id, int64_t length) {
    const Sequence& c = live_sequence(id, "sequence");
    if (length < 0 || length > c.length)
        fail("length: " + s(length) + " is outside [0, the sequence's length " + s(c.length) + "] (trim only shortens)");
    Sequence& q = sequences_[static_cast<std::size_t>(id)];
    q.length = length;
    release_pages(q, static_cast<std::size_t>((length + options_.page_size - 1) / options_.page_size));
}

void PagedKvCache::append(std::span<const SequenceId> ids, const Tensor& k_new, const Tensor& v_new, std::span<const int32_t> cu) {
    const PagedKvCacheOptions& o = options_;
    check_new_rows(k_new, "k_new", o, o.head_dim, keys_);
    check_new_rows(v_new, "v_new", o, o.value_dim, keys_);
    if (v_new.dim(0) != k_new.dim(0)) fail("v_new: " + s(v_new.dim(0)) + " new rows, but k_new has " + s(k_new.dim(0)));
    const std::vector<int32_t> counts = detail::lengths_from_offsets(cu, k_new.dim(0), "cu_seqlens", "k_new");
    if (counts.size() != ids.size())
        fail("cu_seqlens: has " + s(int64_t(cu.size())) + " offsets for " + s(int64_t(ids.size())) + " sequences; needs sequences + 1");
    for (std::size_t i = 0; i < ids.size(); ++i) {
        live_sequence(ids[i], "sequences");
        for (std::size_t j = 0; j < i; ++j)
            if (ids[j] == ids[i]) fail("sequences: sequence " + s(ids[i]) + " is listed twice (append each sequence's tokens once)");
    }
    // Plan on copies of the tables: pages from the free list, copy-on-write of a shared partly filled
    // last page. Nothing changes until the copies have run.
    const int64_t ps = o.page_size;
    int64_t needed = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const Sequence& q = sequences_[static_cast<std::size_t>(ids[i])];
        if (counts[i] == 0) continue;
        needed += (q.length + counts[i] + ps - 1) / ps - static_cast<int64_t>(q.pages.size());
        if (q.length % ps != 0 && references_[static_cast<std::size_t>(q.pages.back())] > 1) ++needed;
    }
    if (needed > static_cast<int64_t>(free_pages_.size()))
        throw Error(ErrorCode::out_of_memory, "k_new: appending " + s(k_new.dim(0)) + " tokens needs " + s(needed) + " free pages, but only " +
                                                  s(int64_t(free_pages_.size())) + " of the cache's " + s(o.pages) +
                                                  " are free (out of pages); nothing was written");
    std::vector<int32_t> free_after = free_pages_;
    std::vector<int32_t> refs_after = references_;
    std::vector<std::vector<int32_t>> tables(ids.size());
    const auto es = static_cast<VkDeviceSize>(dtype_size(o.dtype));
    const VkDeviceSize k_row = static_cast<VkDeviceSize>(o.kv_heads * o.head_dim) * es, v_row = static_cast<VkDeviceSize>(o.kv_heads * o.value_dim) * es;
    std::vector<VkBufferCopy> cow_k, cow_v, new_k, new_v;
    const VkDeviceSize k_base = static_cast<VkDeviceSize>(keys_.offset()) * es, v_base = static_cast<VkDeviceSize>(values_.offset()) * es;
    const VkDeviceSize kn_base = static_cast<VkDeviceSize>(k_new.offset()) * es, vn_base = static_cast<VkDeviceSize>(v_new.offset()) * es;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const Sequence& q = sequences_[static_cast<std::size_t>(ids[i])];
        std::vector<int32_t>& table = tables[i];
        table = q.pages;
        if (counts[i] == 0) continue;
        const int64_t used = q.length % ps;
        if (used != 0 && refs_after[static_cast<std::size_t>(table.back())] > 1) {
            const int32_t old = table.back(), page = free_after.back();
            free_after.pop_back();
            --refs_after[static_cast<std::size_t>(old)];
            ++refs_after[static_cast<std::size_t>(page)];
            table.back() = page;
            cow_k.push_back({k_base + VkDeviceSize(old) * ps * k_row, k_base + VkDeviceSize(page) * ps * k_row, VkDeviceSize(used) * k_row});
            cow_v.push_back({v_base + VkDeviceSize(old) * ps * v_row, v_base + VkDeviceSize(page) * ps * v_row, VkDeviceSize(used) * v_row});
        }
        // Runs of new rows within one page are one region each.
        for (int64_t t = 0; t < counts[i];) {
            const int64_t pos = q.length + t;
            if (pos / ps == static_cast<int64_t>(table.size())) {
                table.push_back(free_after.back());
                free_after.pop_back();
                ++refs_after[static_cast<std::size_t>(table.back())];
            }
            const int64_t run = std::min<int64_t>(counts[i] - t, ps - pos % ps);
            const VkDeviceSize slot = VkDeviceSize(table[static_cast<std::size_t>(pos / ps)]) * ps + VkDeviceSize(pos % ps);
            const VkDeviceSize src = VkDeviceSize(cu[i] + t);
            new_k.push_back({kn_base + src * k_row, k_base + slot * k_row, VkDeviceSize(run) * k_row});
            new_v.push_back({vn_base + src * v_row, v_base + slot * v_row, VkDeviceSize(run) * v_row});
            t += run;
        }
    }
    if (!new_k.empty()) {
        const VkBuffer kb = detail::buffer_of(keys_)->buffer.get(), vb = detail::buffer_of(values_)->buffer.get();
        detail::buffer_of(keys_)->owner->submit_and_wait([&](VkCommandBuffer cmd) {
            if (!cow_k.empty()) {
                vkCmdCopyBuffer(cmd, kb, kb, static_cast<uint32_t>(cow_k.size()), cow_k.data());
                vkCmdCopyBuffer(cmd, vb, vb, static_cast<uint32_t>(cow_v.size()), cow_v.data());
            }
            vkCmdCopyBuffer(cmd, detail::buffer_of(k_new)->buffer.get(), kb, static_cast<uint32_t>(new_k.size()), new_k.data());
            vkCmdCopyBuffer(cmd, detail::buffer_of(v_new)->buffer.get(), vb, static_cast<uint32_t>(new_v.size()), new_v.data());
        });
    }
    // The copies ran: commit.
    free_pages_ = std::move(free_after);
    references_ = std::move(refs_after);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        Sequence& q = sequences_[static_cast<std::size_t>(ids[i])];
        q.pages = std::move(tables[i]);
        q.length += counts[i];
    }
}

bool PagedKvCache::is_live(SequenceId id) const {
    return id >= 0 && id < static_cast<SequenceId>(sequences_.size()) && sequences_[static_cast<std::size_t>(id)].live;
}
int64_t PagedKvCache::length(SequenceId id) const { return live_sequence(id, "sequence").length; }
const std::vector<int32_t>& PagedKvCache::block_table(SequenceId id) const { return live_sequence(id, "sequence").pages; }

int32_t PagedKvCache::page_references(int64_t page) const {
    if (page < 0 || page >= options_.pages) fail("page: " + s(page) + " is outside [0, pages = " + s(options_.pages) + ")");
    return references_[static_cast<std::size_t>(page)];
}

PagedKvCacheStats PagedKvCache::stats() const {
    PagedKvCacheStats st;
    st.pages = options_.pages;
    st.pages_free = static_cast<int64_t>(free_pages_.size());
    for (int32_t r : references_) {
        st.pages_used += r > 0;
        st.pages_shared += r > 1;
    }
    for (const Sequence& q : sequences_)
        if (q.live) ++st.sequences, st.tokens += q.length;
    return st;
}

namespace {

AttentionResult run_paged(Context& ctx, const Tensor& q, const PagedKvCache& cache, std::span<const int32_t> cu_q,
                          std::vector<int32_t> k_len, std::vector<int32_t> table, int64_t pitch, const AttentionOptions& o) {
    if (!q.defined() || q.rank() != 3) fail("q: packed sequences take rank 3 [total_q, Hq, D]");
    if (detail::buffer_of(cache.keys())->owner.get() != &detail::state_of(ctx)) fail("cache: belongs to another Context");
    const std::vector<int32_t> q_len = detail::lengths_from_offsets(cu_q, q.dim(0), "cu_seqlens_q", "q");
    if (q_len.size() != k_len.size())
        fail("cu_seqlens_q: has " + s(int64_t(cu_q.size())) + " offsets for " + s(int64_t(k_len.size())) + " sequences; needs S + 1");
    const std::size_t S = k_len.size();
    detail::SequenceLayout seq = detail::make_sequence_layout(cu_q, std::vector<int32_t>(S, 0), std::move(k_len), q.dim(1),
                                                              cache.keys().dim(0));
    seq.paged = true;
    seq.page_shift = std::countr_zero(static_cast<uint64_t>(cache.options().page_size));
    seq.pages_per_row = std::max<int64_t>(1, pitch);
    seq.block_table = std::move(table);
    if (seq.block_table.empty()) seq.block_table.assign(S, 0);
    detail::SyncTarget target;
    return detail::attention_call(ctx, q, cache.keys(), cache.values(), o, target, &seq);
}

}  // namespace

AttentionResult attend(Context& ctx, const Tensor& q, const PagedKvCache& cache, std::span<const SequenceId> ids,
                       std::span<const int32_t> cu_q, AttentionOptions o) {
    if (o.causal == Causal::top_left)
        fail("causal: attend() is always causal with bottom-right alignment to each sequence's length; top_left was given");
    o.causal = Causal::bottom_right;
    std::vector<int32_t> k_len;
    int64_t pitch = 1;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (!cache.is_live(ids[i])) {
            try {
                cache.length(ids[i]);
            } catch (const Error& e) {  // "sequence: sequence 3 was freed" / "... is not a sequence of this cache"
                const std::string m = e.message();
                fail("sequences[" + s(int64_t(i)) + "]" + m.substr(m.find(':')));
            }
        }
        k_len.push_back(static_cast<int32_t>(cache.length(ids[i])));
        pitch = std::max<int64_t>(pitch, static_cast<int64_t>(cache.block_table(ids[i]).size()));
    }
    if (ids.empty()) fail("sequences: needs at least one sequence");
    std::vector<int32_t> table(ids.size() * static_cast<std::size_t>(pitch), 0);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::vector<int32_t>& pages = cache.block_table(ids[i]);
        std::copy(pages.begin(), pages.end(), table.begin() + static_cast<std::ptrdiff_t>(i * static_cast<std::size_t>(pitch)));
    }
    return run_paged(ctx, q, cache, cu_q, std::move(k_len), std::move(table), pitch, o);
}

AttentionResult attention_paged(Context& ctx, const Tensor& q, const PagedKvCache& cache, std::span<const int32_t> cu_q,
                                std::span<const int32_t> key_lengths, std::span<const int32_t> block_table, int64_t pitch,
                                const AttentionOptions& o) {
    const int64_t S = static_cast<int64_t>(key_lengths.size());
    const int64_t ps = cache.options().page_size, pages = cache.options().pages;
    if (S < 1) fail("key_lengths: needs one entry per sequence (S >= 1)");
    if (pitch < 1) fail("pages_per_sequence: must be >= 1, got " + s(pitch));
    if (static_cast<int64_t>(block_table.size()) != S * pitch)
        fail("block_table: has " + s(int64_t(block_table.size())) + " entries; needs S x pages_per_sequence = " + s(S) + " x " + s(pitch));
    for (int64_t b = 0; b < S; ++b) {
        const int32_t len = key_lengths[static_cast<std::size_t>(b)];
        if (len < 0 || len > pitch * ps)
            fail("key_lengths[" + s(b) + "]: " + s(len) + " is outside [0, pages_per_sequence x page_size = " + s(pitch * ps) + "]");
        for (int64_t i = 0; i < (len + ps - 1) / ps; ++i) {
            const int32_t page = block_table[static_cast<std::size_t>(b * pitch + i)];
            const std::string where = "block_table[" + s(b) + "][" + s(i) + "]: page " + s(page);
            if (page < 0 || page >= pages) fail(where + " is out of range [0, pages = " + s(pages) + ")");
            if (cache.page_references(page) == 0) fail(where + " is not allocated (no sequence of the cache holds it)");
        }
    }
    return run_paged(ctx, q, cache, cu_q, std::vector<int32_t>(key_lengths.begin(), key_lengths.end()),
                     std::vector<int32_t>(block_table.begin(), block_table.end()), pitch, o);
}

}  // namespace vkattn
