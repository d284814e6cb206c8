// The C API (include/vkattn/vkattn.h): the layers (matmul, multi-head, additive, Luong and linear
// attention), their options and results.
#include <memory>

#include "capi/capi_handles.hpp"

namespace vkattn::capi {

MatmulOptions matmul_options(const vkattn_matmul_options* in) {
    const vkattn_matmul_options o = read_struct(in, vkattn_matmul_options_init, "options");
    MatmulOptions m;
    m.transpose_w = o.transpose_w != 0;
    m.out_dtype = out_dtype_of(o.out_dtype, "options.out_dtype");
    if (o.out) m.out = o.out->t;
    m.measure_time = o.measure_time != 0;
    return m;
}

LinearAttentionOptions linear_options(const vkattn_linear_attention_options* in) {
    const vkattn_linear_attention_options o = read_struct(in, vkattn_linear_attention_options_init, "options");
    LinearAttentionOptions l;
    switch (raw(o.feature_map)) {
        case VKATTN_FEATURE_MAP_ELU_PLUS_ONE: l.feature_map = FeatureMap::elu_plus_one; break;
        case VKATTN_FEATURE_MAP_IDENTITY: l.feature_map = FeatureMap::identity; break;
        default:
            fail("options.feature_map: " + std::to_string(raw(o.feature_map)) + " is not a vkattn_feature_map");
    }
    l.causal = causal_of(raw(o.causal), "options.causal");
    l.key_lengths = int_list(o.key_lengths, o.key_lengths_count, "options.key_lengths");
    l.out_dtype = out_dtype_of(o.out_dtype, "options.out_dtype");
    if (o.out) l.out = o.out->t;
    l.measure_time = o.measure_time != 0;
    return l;
}

MhaOptions mha_options(const vkattn_mha_options* in) {
    const vkattn_mha_options o = read_struct(in, vkattn_mha_options_init, "options");
    MhaOptions m;
    m.causal = causal_of(raw(o.causal), "options.causal");
    m.key_lengths = int_list(o.key_lengths, o.key_lengths_count, "options.key_lengths");
    if (o.mask) m.mask = o.mask->t;
    m.need_weights = o.need_weights != 0;
    m.average_weights = o.average_weights != 0;
    m.out_dtype = out_dtype_of(o.out_dtype, "options.out_dtype");
    if (o.out) m.out = o.out->t;
    m.measure_time = o.measure_time != 0;
    return m;
}

AdditiveWeights additive_weights(const vkattn_additive_weights* in) {
    if (!in) fail("weights: NULL pointer");
    AdditiveWeights w;
    w.w_q = tensor_of(in->w_q, "weights.w_q");
    w.w_k = tensor_of(in->w_k, "weights.w_k");
    w.v_a = tensor_of(in->v_a, "weights.v_a");
    w.bias = optional_tensor(in->bias);
    return w;
}

namespace {
void fill_layer(vkattn_layer_result* dst, const Tensor& out, const std::optional<Tensor>& weights, const std::string& variant,
                double ms, uint32_t dispatches) {
    std::unique_ptr<vkattn_tensor_t> o_out(new_tensor(out)), o_weights(new_tensor(weights));
    vkattn_layer_result o;
    vkattn_layer_result_init(&o);
    copy_text(o.variant, variant);
    o.gpu_milliseconds = ms;
    o.dispatches = dispatches;
    o.out = o_out.release();
    o.weights = o_weights.release();
    write_struct(dst, o, "result");
}
}  // namespace

void fill_result(vkattn_layer_result* dst, const MatmulResult& r) {
    fill_layer(dst, r.out, std::nullopt, r.variant, r.gpu_milliseconds, r.dispatches);
}
void fill_result(vkattn_layer_result* dst, const LinearAttentionResult& r) {
    fill_layer(dst, r.out, std::nullopt, r.variant, r.gpu_milliseconds, r.dispatches);
}
void fill_result(vkattn_layer_result* dst, const MhaResult& r) {
    fill_layer(dst, r.out, r.weights, r.variant, r.gpu_milliseconds, r.dispatches);
}

}  // namespace vkattn::capi

using namespace vkattn;
using namespace vkattn::capi;

extern "C" {

void vkattn_layer_result_init(vkattn_layer_result* r) {
    if (!r) return;
    std::memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    r->gpu_milliseconds = -1;
}

void vkattn_layer_result_release(vkattn_layer_result* r) {
    if (!r || r->struct_size < sizeof *r) return;
    vkattn_tensor_release(r->out);
    vkattn_tensor_release(r->weights);
    r->out = r->weights = nullptr;
}

void vkattn_matmul_options_init(vkattn_matmul_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->transpose_w = 1;
    o->out_dtype = VKATTN_DTYPE_DEFAULT;
}

vkattn_status vkattn_matmul(vkattn_context ctx, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                            const vkattn_matmul_options* options, vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &ta = tensor_of(a, "a"), &tw = tensor_of(w, "w");
        const MatmulOptions o = matmul_options(options);
        check_result(result);
        fill_result(result, matmul_full(c, ta, tw, optional_tensor(bias), o));
    });
}

vkattn_status vkattn_mha_load(vkattn_context ctx, const char* path, int64_t heads, int64_t kv_heads, const char* prefix,
                              vkattn_dtype dtype, vkattn_mha_weights* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        if (!path) fail("path: NULL string");
        MhaLoadOptions l;
        l.heads = heads;
        l.kv_heads = kv_heads;
        if (prefix) l.prefix = prefix;
        l.dtype = dtype_of(raw(dtype), "dtype");
        o = new vkattn_mha_weights_t{load_mha_weights(c, std::string(path), l)};
    });
}

void vkattn_mha_weights_release(vkattn_mha_weights weights) { delete weights; }

void vkattn_mha_options_init(vkattn_mha_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->causal = VKATTN_CAUSAL_NONE;
    o->average_weights = 1;
    o->out_dtype = VKATTN_DTYPE_DEFAULT;
}

vkattn_status vkattn_multi_head_attention(vkattn_context ctx, vkattn_mha_weights weights, vkattn_tensor x_q, vkattn_tensor x_k,
                                          vkattn_tensor x_v, const vkattn_mha_options* options, vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const MhaWeights& w = mha_of(weights);
        const Tensor& xq = tensor_of(x_q, "x_q");
        const MhaOptions o = mha_options(options);
        check_result(result);
        fill_result(result, multi_head_attention(c, w, xq, optional_tensor(x_k), optional_tensor(x_v), o));
    });
}

vkattn_status vkattn_additive_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                        const vkattn_additive_weights* weights, const vkattn_attention_options* options,
                                        vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AdditiveWeights w = additive_weights(weights);
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, additive_attention(c, tq, tk, tv, w, o));
    });
}

vkattn_status vkattn_luong_general_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                             vkattn_tensor w, const vkattn_attention_options* options,
                                             vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v"), &tw = tensor_of(w, "w");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, luong_general_attention(c, tq, tk, tv, tw, o));
    });
}

void vkattn_linear_attention_options_init(vkattn_linear_attention_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->feature_map = VKATTN_FEATURE_MAP_ELU_PLUS_ONE;
    o->causal = VKATTN_CAUSAL_NONE;
    o->out_dtype = VKATTN_DTYPE_DEFAULT;
}

vkattn_status vkattn_linear_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                      const vkattn_linear_attention_options* options, vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const LinearAttentionOptions o = linear_options(options);
        check_result(result);
        fill_result(result, linear_attention_full(c, tq, tk, tv, o));
    });
}

}  // extern "C"
