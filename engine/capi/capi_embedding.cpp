// The C API (include/vkattn/vkattn.h): workspaces, operations recorded into the application's command
// buffers, and batches on the context's own queue.
#include <memory>

#include "capi/capi_handles.hpp"

using namespace vkattn;
using namespace vkattn::capi;

namespace {
void set_bytes(VkDeviceSize* bytes, VkDeviceSize value) { *bytes = value; }
}  // namespace

extern "C" {

// ---- workspaces

vkattn_status vkattn_workspace_create(vkattn_context ctx, VkDeviceSize bytes, vkattn_workspace* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        o = new vkattn_workspace_t{Workspace(c, bytes)};
    });
}

vkattn_status vkattn_workspace_create_over(vkattn_context ctx, vkattn_tensor storage, vkattn_workspace* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor& s = tensor_of(storage, "storage");
        auto& o = out_of(out, "out");
        o = new vkattn_workspace_t{Workspace(c, s)};
    });
}

vkattn_status vkattn_workspace_reset(vkattn_workspace ws) {
    return guard([&] { workspace_of(ws, "ws").reset(); });
}

VkDeviceSize vkattn_workspace_size(vkattn_workspace ws) { return ws ? ws->ws.size() : 0; }

void vkattn_workspace_destroy(vkattn_workspace ws) { delete ws; }

// ---- recording

vkattn_status vkattn_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                              const vkattn_attention_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AttentionOptions o = attention_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, attention_workspace_size(c, tq, tk, tv, o));
    });
}

vkattn_status vkattn_record_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                      vkattn_tensor k, vkattn_tensor v, const vkattn_attention_options* options,
                                      vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& w = workspace_of(ws, "ws");
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, record_attention(c, cmd, w, tq, tk, tv, o));
    });
}

vkattn_status vkattn_attend_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_kv_cache cache,
                                           const vkattn_attention_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor& tq = tensor_of(q, "q");
        const KvCache& kc = cache_of(cache);
        const AttentionOptions o = attention_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, attend_workspace_size(c, tq, kc, o));
    });
}

vkattn_status vkattn_record_attend(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                   vkattn_kv_cache cache, const vkattn_attention_options* options,
                                   vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& w = workspace_of(ws, "ws");
        const Tensor& tq = tensor_of(q, "q");
        const KvCache& kc = cache_of(cache);
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, record_attend(c, cmd, w, tq, kc, o));
    });
}

vkattn_status vkattn_record_append(vkattn_context ctx, VkCommandBuffer cmd, vkattn_kv_cache cache, vkattn_tensor k_new,
                                   vkattn_tensor v_new, const int32_t* counts, size_t count) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        KvCache& kc = cache_of(cache);
        const Tensor &k = tensor_of(k_new, "k_new"), &v = tensor_of(v_new, "v_new");
        const std::vector<int32_t> n = int_list(counts, count, "counts");
        record_append(c, cmd, kc, k, v, n);
    });
}

vkattn_status vkattn_matmul_workspace_size(vkattn_context ctx, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                                           const vkattn_matmul_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &ta = tensor_of(a, "a"), &tw = tensor_of(w, "w");
        const MatmulOptions o = matmul_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, matmul_workspace_size(c, ta, tw, optional_tensor(bias), o));
    });
}

vkattn_status vkattn_record_matmul(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor a,
                                   vkattn_tensor w, vkattn_tensor bias, const vkattn_matmul_options* options,
                                   vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& wsp = workspace_of(ws, "ws");
        const Tensor &ta = tensor_of(a, "a"), &tw = tensor_of(w, "w");
        const MatmulOptions o = matmul_options(options);
        check_result(result);
        fill_result(result, record_matmul(c, cmd, wsp, ta, tw, optional_tensor(bias), o));
    });
}

vkattn_status vkattn_linear_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                     const vkattn_linear_attention_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const LinearAttentionOptions o = linear_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, linear_attention_workspace_size(c, tq, tk, tv, o));
    });
}

vkattn_status vkattn_record_linear_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                             vkattn_tensor k, vkattn_tensor v, const vkattn_linear_attention_options* options,
                                             vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& w = workspace_of(ws, "ws");
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const LinearAttentionOptions o = linear_options(options);
        check_result(result);
        fill_result(result, record_linear_attention(c, cmd, w, tq, tk, tv, o));
    });
}

vkattn_status vkattn_additive_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                       const vkattn_additive_weights* weights,
                                                       const vkattn_attention_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AdditiveWeights w = additive_weights(weights);
        const AttentionOptions o = attention_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, additive_attention_workspace_size(c, tq, tk, tv, w, o));
    });
}

vkattn_status vkattn_record_additive_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                               vkattn_tensor k, vkattn_tensor v, const vkattn_additive_weights* weights,
                                               const vkattn_attention_options* options, vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& wsp = workspace_of(ws, "ws");
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AdditiveWeights w = additive_weights(weights);
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, record_additive_attention(c, cmd, wsp, tq, tk, tv, w, o));
    });
}

vkattn_status vkattn_luong_general_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k,
                                                            vkattn_tensor v, vkattn_tensor w,
                                                            const vkattn_attention_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v"), &tw = tensor_of(w, "w");
        const AttentionOptions o = attention_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, luong_general_attention_workspace_size(c, tq, tk, tv, tw, o));
    });
}

vkattn_status vkattn_record_luong_general_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws,
                                                    vkattn_tensor q, vkattn_tensor k, vkattn_tensor v, vkattn_tensor w,
                                                    const vkattn_attention_options* options, vkattn_attention_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& wsp = workspace_of(ws, "ws");
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v"), &tw = tensor_of(w, "w");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, record_luong_general_attention(c, cmd, wsp, tq, tk, tv, tw, o));
    });
}

vkattn_status vkattn_multi_head_attention_workspace_size(vkattn_context ctx, vkattn_mha_weights weights, vkattn_tensor x_q,
                                                         vkattn_tensor x_k, vkattn_tensor x_v,
                                                         const vkattn_mha_options* options, VkDeviceSize* bytes) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        const MhaWeights& w = mha_of(weights);
        const Tensor& xq = tensor_of(x_q, "x_q");
        const MhaOptions o = mha_options(options);
        out_of(bytes, "bytes");
        set_bytes(bytes, multi_head_attention_workspace_size(c, w, xq, optional_tensor(x_k), optional_tensor(x_v), o));
    });
}

vkattn_status vkattn_record_multi_head_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws,
                                                 vkattn_mha_weights weights, vkattn_tensor x_q, vkattn_tensor x_k,
                                                 vkattn_tensor x_v, const vkattn_mha_options* options,
                                                 vkattn_layer_result* result) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        cmd_of(cmd);
        Workspace& wsp = workspace_of(ws, "ws");
        const MhaWeights& w = mha_of(weights);
        const Tensor& xq = tensor_of(x_q, "x_q");
        const MhaOptions o = mha_options(options);
        check_result(result);
        fill_result(result, record_multi_head_attention(c, cmd, wsp, w, xq, optional_tensor(x_k), optional_tensor(x_v), o));
    });
}

// ---- batches

vkattn_status vkattn_batch_create(vkattn_context ctx, vkattn_batch* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        o = new vkattn_batch_t{Batch(c)};
    });
}

vkattn_status vkattn_batch_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                     const vkattn_attention_options* options, vkattn_attention_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, b.attention(tq, tk, tv, o));
    });
}

vkattn_status vkattn_batch_append(vkattn_batch batch, vkattn_kv_cache cache, vkattn_tensor k_new, vkattn_tensor v_new,
                                  const int32_t* counts, size_t count) {
    return guard([&] {
        Batch& b = batch_of(batch);
        KvCache& kc = cache_of(cache);
        const Tensor &k = tensor_of(k_new, "k_new"), &v = tensor_of(v_new, "v_new");
        const std::vector<int32_t> n = int_list(counts, count, "counts");
        b.append(kc, k, v, n);
    });
}

vkattn_status vkattn_batch_attend(vkattn_batch batch, vkattn_tensor q, vkattn_kv_cache cache,
                                  const vkattn_attention_options* options, vkattn_attention_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor& tq = tensor_of(q, "q");
        const KvCache& kc = cache_of(cache);
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, b.attend(tq, kc, o));
    });
}

vkattn_status vkattn_batch_matmul(vkattn_batch batch, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                                  const vkattn_matmul_options* options, vkattn_layer_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor &ta = tensor_of(a, "a"), &tw = tensor_of(w, "w");
        const MatmulOptions o = matmul_options(options);
        check_result(result);
        fill_result(result, b.matmul(ta, tw, optional_tensor(bias), o));
    });
}

vkattn_status vkattn_batch_linear_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                            const vkattn_linear_attention_options* options, vkattn_layer_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const LinearAttentionOptions o = linear_options(options);
        check_result(result);
        fill_result(result, b.linear_attention(tq, tk, tv, o));
    });
}

vkattn_status vkattn_batch_additive_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                              const vkattn_additive_weights* weights, const vkattn_attention_options* options,
                                              vkattn_attention_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v");
        const AdditiveWeights w = additive_weights(weights);
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, b.additive_attention(tq, tk, tv, w, o));
    });
}

vkattn_status vkattn_batch_luong_general_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                   vkattn_tensor w, const vkattn_attention_options* options,
                                                   vkattn_attention_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const Tensor &tq = tensor_of(q, "q"), &tk = tensor_of(k, "k"), &tv = tensor_of(v, "v"), &tw = tensor_of(w, "w");
        const AttentionOptions o = attention_options(options);
        check_result(result);
        fill_result(result, b.luong_general_attention(tq, tk, tv, tw, o));
    });
}

vkattn_status vkattn_batch_multi_head_attention(vkattn_batch batch, vkattn_mha_weights weights, vkattn_tensor x_q,
                                                vkattn_tensor x_k, vkattn_tensor x_v, const vkattn_mha_options* options,
                                                vkattn_layer_result* result) {
    return guard([&] {
        Batch& b = batch_of(batch);
        const MhaWeights& w = mha_of(weights);
        const Tensor& xq = tensor_of(x_q, "x_q");
        const MhaOptions o = mha_options(options);
        check_result(result);
        fill_result(result, b.multi_head_attention(w, xq, optional_tensor(x_k), optional_tensor(x_v), o));
    });
}

vkattn_status vkattn_batch_submit(vkattn_batch batch, vkattn_ticket* ticket) {
    return guard([&] {
        Batch& b = batch_of(batch);
        auto& t = out_of(ticket, "ticket");
        t = b.submit().value;
    });
}

size_t vkattn_batch_size(vkattn_batch batch) { return batch ? batch->batch.size() : 0; }

void vkattn_batch_destroy(vkattn_batch batch) { delete batch; }

}  // extern "C"
