// The C API (include/vkattn/vkattn.h) of packed sequences and the paged KV cache (docs/sequences.md).
#include <cstring>
#include <vector>

#include "capi/capi_handles.hpp"

using namespace vkattn;
using namespace vkattn::capi;

namespace {

PagedKvCache& paged_of(vkattn_paged_kv_cache c, const char* name = "cache") {
    if (!c) fail(std::string(name) + ": NULL paged KV cache handle");
    return c->cache;
}

std::vector<SequenceId> id_list(const int64_t* ids, std::size_t count, const char* name) {
    if (count > 0 && !ids) fail(std::string(name) + ": NULL pointer with count " + std::to_string(count));
    return std::vector<SequenceId>(ids, ids + count);
}

}  // namespace

extern "C" {

vkattn_status vkattn_attention_varlen(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v, const int32_t* cu_q,
                                      size_t cu_q_count, const int32_t* cu_k, size_t cu_k_count, const vkattn_attention_options* options,
                                      vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const std::vector<int32_t> oq = int_list(cu_q, cu_q_count, "cu_seqlens_q"), ok = int_list(cu_k, cu_k_count, "cu_seqlens_k");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, attention_varlen(c, tq, tk, tv, oq, ok, o));
    });
}

void vkattn_paged_kv_cache_options_init(vkattn_paged_kv_cache_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    const PagedKvCacheOptions d;
    o->pages = d.pages;
    o->page_size = d.page_size;
    o->kv_heads = d.kv_heads;
    o->head_dim = d.head_dim;
    o->value_dim = d.value_dim;
    o->dtype = dtype_to_c(d.dtype);
}

void vkattn_paged_kv_cache_stats_init(vkattn_paged_kv_cache_stats* s) {
    if (!s) return;
    std::memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
}

vkattn_status vkattn_paged_kv_cache_create(vkattn_context ctx, const vkattn_paged_kv_cache_options* options, vkattn_paged_kv_cache* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        const vkattn_paged_kv_cache_options in = read_struct(options, vkattn_paged_kv_cache_options_init, "options");
        PagedKvCacheOptions po;
        po.pages = in.pages, po.page_size = in.page_size, po.kv_heads = in.kv_heads, po.head_dim = in.head_dim;
        po.value_dim = in.value_dim;
        po.dtype = dtype_of(raw(in.dtype), "options.dtype");
        o = new vkattn_paged_kv_cache_t{PagedKvCache(c, po)};
    });
}

void vkattn_paged_kv_cache_destroy(vkattn_paged_kv_cache cache) { delete cache; }

vkattn_status vkattn_paged_kv_cache_add_sequence(vkattn_paged_kv_cache cache, int64_t* sequence) {
    return guard([&] {
        PagedKvCache& c = paged_of(cache);
        out_of(sequence, "sequence") = c.add_sequence();
    });
}

vkattn_status vkattn_paged_kv_cache_fork(vkattn_paged_kv_cache cache, int64_t parent, int64_t* sequence) {
    return guard([&] {
        PagedKvCache& c = paged_of(cache);
        auto& out = out_of(sequence, "sequence");
        out = c.fork(parent);
    });
}

vkattn_status vkattn_paged_kv_cache_free(vkattn_paged_kv_cache cache, int64_t sequence) {
    return guard([&] { paged_of(cache).free(sequence); });
}

vkattn_status vkattn_paged_kv_cache_trim(vkattn_paged_kv_cache cache, int64_t sequence, int64_t length) {
    return guard([&] { paged_of(cache).trim(sequence, length); });
}

vkattn_status vkattn_paged_kv_cache_append(vkattn_paged_kv_cache cache, const int64_t* sequences, size_t count, vkattn_tensor k_new,
                                           vkattn_tensor v_new, const int32_t* cu, size_t cu_count) {
    return guard([&] {
        PagedKvCache& c = paged_of(cache);
        const Tensor &k = tensor_of(k_new, "k_new"), &v = tensor_of(v_new, "v_new");
        c.append(id_list(sequences, count, "sequences"), k, v, int_list(cu, cu_count, "cu_seqlens"));
    });
}

vkattn_status vkattn_paged_kv_cache_length(vkattn_paged_kv_cache cache, int64_t sequence, int64_t* length) {
    return guard([&] {
        const PagedKvCache& c = paged_of(cache);
        auto& out = out_of(length, "length");
        out = c.length(sequence);
    });
}

vkattn_status vkattn_paged_kv_cache_stats_get(vkattn_paged_kv_cache cache, vkattn_paged_kv_cache_stats* stats) {
    return guard([&] {
        const PagedKvCache& c = paged_of(cache);
        if (!stats) fail("stats: NULL pointer");
        check_struct_size(stats->struct_size, sizeof *stats, "stats");
        const PagedKvCacheStats s = c.stats();
        vkattn_paged_kv_cache_stats out;
        vkattn_paged_kv_cache_stats_init(&out);
        out.pages = s.pages, out.pages_free = s.pages_free, out.pages_used = s.pages_used, out.pages_shared = s.pages_shared;
        out.sequences = s.sequences, out.tokens = s.tokens;
        write_struct(stats, out, "stats");
    });
}

vkattn_status vkattn_paged_attend(vkattn_context ctx, vkattn_tensor q, vkattn_paged_kv_cache cache, const int64_t* sequences, size_t count,
                                  const int32_t* cu_q, size_t cu_q_count, const vkattn_attention_options* options,
                                  vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor& tq = tensor_of(q, "q");
        const PagedKvCache& pc = paged_of(cache);
        AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, attend(c, tq, pc, id_list(sequences, count, "sequences"), int_list(cu_q, cu_q_count, "cu_seqlens_q"), std::move(o)));
    });
}

}  // extern "C"
