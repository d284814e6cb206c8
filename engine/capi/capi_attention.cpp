// The C API (include/vkattn/vkattn.h): attention options and results, attention, its plan, the KV
// cache and attention over it.
#include <cstddef>
#include <memory>

#include "capi/capi_handles.hpp"

namespace vkattn::capi {

AttentionOptions attention_options(const vkattn_attention_options* in) {
    // The first version ended at kv_splits; later fields keep their defaults for such callers.
    const vkattn_attention_options o =
        read_struct(in, vkattn_attention_options_init, "options", offsetof(vkattn_attention_options, sinks));
    AttentionOptions a;
    if (o.has_scale) a.scale = o.scale;
    a.causal = causal_of(raw(o.causal), "options.causal");
    a.key_lengths = int_list(o.key_lengths, o.key_lengths_count, "options.key_lengths");
    if (o.mask) a.mask = o.mask->t;
    a.window.left = o.window_left;
    a.window.right = o.window_right;
    if (o.alibi_slopes_count > 0 && !o.alibi_slopes)
        fail("options.alibi_slopes: NULL pointer with count " + std::to_string(o.alibi_slopes_count));
    a.alibi_slopes.assign(o.alibi_slopes, o.alibi_slopes + o.alibi_slopes_count);
    a.softcap = o.softcap;
    a.align_to_key_lengths = o.align_to_key_lengths != 0;
    a.path = path_of(raw(o.path), "options.path");
    a.return_lse = o.return_lse != 0;
    a.return_weights = o.return_weights != 0;
    a.out_dtype = out_dtype_of(o.out_dtype, "options.out_dtype");
    if (o.out) a.out = o.out->t;
    a.measure_time = o.measure_time != 0;
    a.kv_splits = o.kv_splits;
    if (o.sinks_count > 0 && !o.sinks) fail("options.sinks: NULL pointer with count " + std::to_string(o.sinks_count));
    a.sinks.assign(o.sinks, o.sinks + o.sinks_count);
    return a;
}

void check_result(const vkattn_attention_result* r) {
    if (!r) fail("result: NULL pointer");
    check_struct_size(r->struct_size, sizeof *r, "result");
}

void check_result(const vkattn_layer_result* r) {
    if (!r) fail("result: NULL pointer");
    check_struct_size(r->struct_size, sizeof *r, "result");
}

void fill_result(vkattn_attention_result* dst, const AttentionResult& r) {
    std::unique_ptr<vkattn_tensor_t> out(new_tensor(r.out)), lse(new_tensor(r.lse)), weights(new_tensor(r.weights));
    vkattn_attention_result o;
    vkattn_attention_result_init(&o);
    o.path = path_to_c(r.path);
    copy_text(o.variant, r.variant);
    o.gpu_milliseconds = r.gpu_milliseconds;
    o.dispatches = r.dispatches;
    o.out = out.release();
    o.lse = lse.release();
    o.weights = weights.release();
    write_struct(dst, o, "result");
}

}  // namespace vkattn::capi

using namespace vkattn;
using namespace vkattn::capi;

extern "C" {

void vkattn_attention_options_init(vkattn_attention_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->causal = VKATTN_CAUSAL_NONE;
    o->window_left = -1;
    o->window_right = -1;
    o->path = VKATTN_PATH_AUTOMATIC;
    o->out_dtype = VKATTN_DTYPE_DEFAULT;
}

void vkattn_attention_result_init(vkattn_attention_result* r) {
    if (!r) return;
    std::memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    r->path = VKATTN_PATH_FUSED;
    r->gpu_milliseconds = -1;
}

void vkattn_attention_result_release(vkattn_attention_result* r) {
    if (!r || r->struct_size < sizeof *r) return;
    vkattn_tensor_release(r->out);
    vkattn_tensor_release(r->lse);
    vkattn_tensor_release(r->weights);
    r->out = r->lse = r->weights = nullptr;
}

vkattn_status vkattn_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                               const vkattn_attention_options* options, vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, attention_full(c, tq, tk, tv, o));
    });
}

void vkattn_attention_plan_init(vkattn_attention_plan* p) {
    if (!p) return;
    std::memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->path = VKATTN_PATH_FUSED;
}

vkattn_status vkattn_plan_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                    const vkattn_attention_options* options, vkattn_attention_plan* plan) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AttentionOptions o = attention_options(options);
        if (!plan) fail("plan: NULL pointer");
        check_struct_size(plan->struct_size, sizeof *plan, "plan");
        const AttentionPlan p = plan_attention(c, tq, tk, tv, o);
        vkattn_attention_plan out;
        vkattn_attention_plan_init(&out);
        out.path = path_to_c(p.path);
        copy_text(out.variant, p.variant);
        copy_text(out.reason, p.reason);
        out.workspace_bytes = p.workspace_bytes;
        out.dispatches = p.dispatches;
        write_struct(plan, out, "plan");
    });
}

// ---- KV cache

void vkattn_kv_cache_options_init(vkattn_kv_cache_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    const KvCacheOptions d;
    o->batch = d.batch;
    o->kv_heads = d.kv_heads;
    o->capacity = d.capacity;
    o->head_dim = d.head_dim;
    o->value_dim = d.value_dim;
    o->dtype = dtype_to_c(d.dtype);
}

namespace {
KvCacheOptions cache_options(const vkattn_kv_cache_options* in) {
    const vkattn_kv_cache_options o = read_struct(in, vkattn_kv_cache_options_init, "options");
    KvCacheOptions c;
    c.batch = o.batch;
    c.kv_heads = o.kv_heads;
    c.capacity = o.capacity;
    c.head_dim = o.head_dim;
    c.value_dim = o.value_dim;
    c.dtype = dtype_of(raw(o.dtype), "options.dtype");
    return c;
}
}  // namespace

vkattn_status vkattn_kv_cache_create(vkattn_context ctx, const vkattn_kv_cache_options* options, vkattn_kv_cache* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        o = new vkattn_kv_cache_t{KvCache(c, cache_options(options))};
    });
}

vkattn_status vkattn_kv_cache_create_over(vkattn_context ctx, const vkattn_kv_cache_options* options, vkattn_tensor key_storage,
                                          vkattn_tensor value_storage, vkattn_kv_cache* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        const Tensor &ks = tensor_of(key_storage, "key_storage"), &vs = tensor_of(value_storage, "value_storage");
        o = new vkattn_kv_cache_t{KvCache(c, cache_options(options), ks, vs)};
    });
}

vkattn_status vkattn_kv_cache_append(vkattn_kv_cache cache, vkattn_tensor k_new, vkattn_tensor v_new, const int32_t* counts,
                                     size_t count) {
    return guard([&] {
        KvCache& c = cache_of(cache);
        const Tensor &k = tensor_of(k_new, "k_new"), &v = tensor_of(v_new, "v_new");
        const std::vector<int32_t> n = int_list(counts, count, "counts");
        c.append(k, v, n);
    });
}

vkattn_status vkattn_kv_cache_clear(vkattn_kv_cache cache) {
    return guard([&] { cache_of(cache).clear(); });
}

vkattn_status vkattn_kv_cache_set_length(vkattn_kv_cache cache, int64_t batch, int32_t length) {
    return guard([&] { cache_of(cache).set_length(batch, length); });
}

vkattn_status vkattn_kv_cache_lengths(vkattn_kv_cache cache, int32_t* lengths, size_t capacity, size_t* count) {
    return guard([&] {
        const KvCache& c = cache_of(cache);
        auto& n = out_of(count, "count");
        if (capacity > 0 && !lengths) fail("lengths: NULL pointer with capacity " + std::to_string(capacity));
        const auto& l = c.lengths();
        std::copy_n(l.begin(), std::min(capacity, l.size()), lengths);
        n = l.size();
    });
}

vkattn_status vkattn_kv_cache_keys(vkattn_kv_cache cache, vkattn_tensor* out) {
    return guard([&] {
        const KvCache& c = cache_of(cache);
        out_of(out, "out") = new_tensor(c.keys());
    });
}

vkattn_status vkattn_kv_cache_values(vkattn_kv_cache cache, vkattn_tensor* out) {
    return guard([&] {
        const KvCache& c = cache_of(cache);
        out_of(out, "out") = new_tensor(c.values());
    });
}

void vkattn_kv_cache_destroy(vkattn_kv_cache cache) { delete cache; }

vkattn_status vkattn_attend(vkattn_context ctx, vkattn_tensor q, vkattn_kv_cache cache, const vkattn_attention_options* options,
                            vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor& tq = tensor_of(q, "q");
        const KvCache& kc = cache_of(cache);
        AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, attend(c, tq, kc, std::move(o)));
    });
}

}  // extern "C"
