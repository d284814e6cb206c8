// The layers inside an application's Vulkan world (vkattn/embedding.hpp, vkattn/batch.hpp): matmul,
// linear, additive, Luong and multi-head attention recorded into the application's command buffer and
// queued in a Batch, each bitwise equal to its synchronous call, with its output written into the
// application's buffers (`out`), under the application's validation layer (synchronization validation
// when the suite runs with it): any message fails.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <vkattn/batch.hpp>
#include <vkattn/embedding.hpp>
#include <vkattn/vkattn.hpp>

#include "common/application.hpp"
#include "common/attention_data.hpp"

namespace {

using namespace vkattn;
using vkattn::test::AppBuffer;
using vkattn::test::Application;

constexpr VkBufferUsageFlags kAll = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
constexpr VkDeviceSize kMargin = 64;  // poisoned bytes before each output: they must stay untouched

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

// The bytes of a contiguous tensor.
std::vector<unsigned char> bytes_of(const Tensor& t) {
    std::vector<unsigned char> b(static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
    if (t.dtype() == DType::f16) {
        const std::vector<uint16_t> h = t.download<uint16_t>();
        std::memcpy(b.data(), h.data(), b.size());
    } else {
        const std::vector<float> f = t.download<float>();
        std::memcpy(b.data(), f.data(), b.size());
    }
    return b;
}

Tensor random_tensor(Context& ctx, const Shape& shape, DType dt, uint32_t seed, float scale = 1.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v = test::normal_values(static_cast<std::size_t>(n), seed);
    for (float& x : v) x *= scale;
    return ctx.upload(v, shape, dt);
}

// One layer call, three ways: `run(out, target)` with out = nullopt returns the synchronous result;
// with an application buffer's view as out it records (or queues) the same call.
struct LayerCase {
    std::string name;
    Shape out_shape;
    DType out_dtype;
    std::function<Tensor(std::optional<Tensor>)> sync;
    std::function<VkDeviceSize()> size;
    std::function<void(VkCommandBuffer, Workspace&, const Tensor&)> record;
    std::function<Tensor(Batch&, std::optional<Tensor>)> queue;
};

MhaWeights random_mha(Context& ctx, int64_t E, int64_t H, int64_t Hkv, int64_t D, DType dt, uint32_t seed) {
    MhaWeights w;
    w.embed_dim = E, w.heads = H, w.kv_heads = Hkv, w.head_dim = D, w.kdim = E, w.vdim = E;
    const float s = 0.2f;
    w.in_proj = random_tensor(ctx, {(H + 2 * Hkv) * D, E}, dt, seed, s);
    w.in_proj_bias = random_tensor(ctx, {(H + 2 * Hkv) * D}, dt, seed + 1, s);
    const auto rows = [](const Tensor& t, int64_t r0, int64_t n) {
        return t.rank() == 1 ? t.view({n}, {1}, t.offset() + r0) : t.view({n, t.dim(1)}, {t.strides()[0], 1}, t.offset() + r0 * t.strides()[0]);
    };
    w.w_q = rows(*w.in_proj, 0, H * D);
    w.w_k = rows(*w.in_proj, H * D, Hkv * D);
    w.w_v = rows(*w.in_proj, (H + Hkv) * D, Hkv * D);
    w.b_q = rows(*w.in_proj_bias, 0, H * D);
    w.b_k = rows(*w.in_proj_bias, H * D, Hkv * D);
    w.b_v = rows(*w.in_proj_bias, (H + Hkv) * D, Hkv * D);
    w.w_o = random_tensor(ctx, {E, H * D}, dt, seed + 2, s);
    w.b_o = random_tensor(ctx, {E}, dt, seed + 3, s);
    return w;
}

// The cases: every layer, f32 and f16, masks and key lengths, views that start mid-buffer.
std::vector<LayerCase> layer_cases(Context& ctx, std::vector<Tensor>& keep, std::vector<std::unique_ptr<MhaWeights>>& mha) {
    std::vector<LayerCase> cases;
    uint32_t seed = 300;
    const auto t = [&](const Shape& s, DType dt, float scale = 1.0f) {
        keep.push_back(random_tensor(ctx, s, dt, seed++, scale));
        return keep.back();
    };

    for (DType dt : {DType::f32, DType::f16}) {
        const std::string d(dtype_name(dt));
        {  // matmul: batched A, nn.Linear weights and bias; f16 output packed from f32 rows
            const Tensor a = t({2, 3, 17, 24}, dt), w = t({40, 24}, dt), bias = t({40}, dt);
            LayerCase c;
            c.name = "matmul " + d, c.out_shape = {2, 3, 17, 40}, c.out_dtype = dt;
            c.sync = [&ctx, a, w, bias](std::optional<Tensor> out) {
                MatmulOptions o;
                o.out = out;
                return matmul_full(ctx, a, w, bias, o).out;
            };
            c.size = [&ctx, a, w, bias] { return matmul_workspace_size(ctx, a, w, bias); };
            c.record = [&ctx, a, w, bias](VkCommandBuffer cmd, Workspace& ws, const Tensor& out) {
                MatmulOptions o;
                o.out = out;
                record_matmul(ctx, cmd, ws, a, w, bias, o);
            };
            c.queue = [a, w, bias](Batch& b, std::optional<Tensor> out) {
                MatmulOptions o;
                o.out = out;
                return b.matmul(a, w, bias, o).out;
            };
            cases.push_back(c);
        }
        {  // linear attention: causal, GQA, key lengths
            const Tensor q = t({2, 4, 19, 16}, dt), k = t({2, 2, 23, 16}, dt), v = t({2, 2, 23, 8}, dt);
            LinearAttentionOptions base;
            base.causal = Causal::bottom_right;
            base.key_lengths = {23, 9};
            LayerCase c;
            c.name = "linear " + d, c.out_shape = {2, 4, 19, 8}, c.out_dtype = dt;
            c.sync = [&ctx, q, k, v, base](std::optional<Tensor> out) {
                LinearAttentionOptions o = base;
                o.out = out;
                return linear_attention_full(ctx, q, k, v, o).out;
            };
            c.size = [&ctx, q, k, v, base] { return linear_attention_workspace_size(ctx, q, k, v, base); };
            c.record = [&ctx, q, k, v, base](VkCommandBuffer cmd, Workspace& ws, const Tensor& out) {
                LinearAttentionOptions o = base;
                o.out = out;
                record_linear_attention(ctx, cmd, ws, q, k, v, o);
            };
            c.queue = [q, k, v, base](Batch& b, std::optional<Tensor> out) {
                LinearAttentionOptions o = base;
                o.out = out;
                return b.linear_attention(q, k, v, o).out;
            };
            cases.push_back(c);
        }
        {  // additive attention: key lengths, causal; v_a a view from element 3 of a larger tensor
            const Tensor q = t({1, 2, 13, 12}, dt), k = t({1, 1, 29, 10}, dt), v = t({1, 1, 29, 6}, dt);
            const Tensor va_storage = t({3 + 20}, dt);
            AdditiveWeights w{t({20, 12}, dt, 0.3f), t({20, 10}, dt, 0.3f), va_storage.view({20}, {1}, 3), t({20}, dt, 0.3f)};
            AdditiveOptions base;
            base.causal = Causal::bottom_right;
            base.key_lengths = {25};
            LayerCase c;
            c.name = "additive " + d, c.out_shape = {1, 2, 13, 6}, c.out_dtype = dt;
            c.sync = [&ctx, q, k, v, w, base](std::optional<Tensor> out) {
                AdditiveOptions o = base;
                o.out = out;
                return additive_attention(ctx, q, k, v, w, o).out;
            };
            c.size = [&ctx, q, k, v, w, base] { return additive_attention_workspace_size(ctx, q, k, v, w, base); };
            c.record = [&ctx, q, k, v, w, base](VkCommandBuffer cmd, Workspace& ws, const Tensor& out) {
                AdditiveOptions o = base;
                o.out = out;
                record_additive_attention(ctx, cmd, ws, q, k, v, w, o);
            };
            c.queue = [q, k, v, w, base](Batch& b, std::optional<Tensor> out) {
                AdditiveOptions o = base;
                o.out = out;
                return b.additive_attention(q, k, v, w, o).out;
            };
            cases.push_back(c);
        }
        {  // Luong's general score
            const Tensor q = t({2, 2, 7, 16}, dt), k = t({2, 2, 21, 12}, dt), v = t({2, 2, 21, 16}, dt), w = t({16, 12}, dt, 0.3f);
            LayerCase c;
            c.name = "luong " + d, c.out_shape = {2, 2, 7, 16}, c.out_dtype = dt;
            c.sync = [&ctx, q, k, v, w](std::optional<Tensor> out) {
                AttentionOptions o;
                o.out = out;
                return luong_general_attention(ctx, q, k, v, w, o).out;
            };
            c.size = [&ctx, q, k, v, w] { return luong_general_attention_workspace_size(ctx, q, k, v, w); };
            c.record = [&ctx, q, k, v, w](VkCommandBuffer cmd, Workspace& ws, const Tensor& out) {
                AttentionOptions o;
                o.out = out;
                record_luong_general_attention(ctx, cmd, ws, q, k, v, w, o);
            };
            c.queue = [q, k, v, w](Batch& b, std::optional<Tensor> out) {
                AttentionOptions o;
                o.out = out;
                return b.luong_general_attention(q, k, v, w, o).out;
            };
            cases.push_back(c);
        }
        {  // multi-head attention: packed self-attention f32 (GQA, causal), cross-attention f16 (mask)
            const bool self = dt == DType::f32;
            mha.push_back(std::make_unique<MhaWeights>(random_mha(ctx, 32, 4, self ? 2 : 4, 8, dt, seed)));
            seed += 4;
            const MhaWeights* w = mha.back().get();
            const Tensor xq = t({2, 9, 32}, dt);
            const std::optional<Tensor> xk = self ? std::nullopt : std::optional<Tensor>(t({2, 15, 32}, dt));
            const std::optional<Tensor> xv = self ? std::nullopt : std::optional<Tensor>(t({2, 15, 32}, dt));
            MhaOptions base;
            if (self) base.causal = Causal::top_left;
            else base.key_lengths = {15, 4};
            LayerCase c;
            c.name = std::string(self ? "mha self " : "mha cross ") + d, c.out_shape = {2, 9, 32}, c.out_dtype = dt;
            c.sync = [&ctx, w, xq, xk, xv, base](std::optional<Tensor> out) {
                MhaOptions o = base;
                o.out = out;
                return multi_head_attention(ctx, *w, xq, xk, xv, o).out;
            };
            c.size = [&ctx, w, xq, xk, xv, base] { return multi_head_attention_workspace_size(ctx, *w, xq, xk, xv, base); };
            c.record = [&ctx, w, xq, xk, xv, base](VkCommandBuffer cmd, Workspace& ws, const Tensor& out) {
                MhaOptions o = base;
                o.out = out;
                record_multi_head_attention(ctx, cmd, ws, *w, xq, xk, xv, o);
            };
            c.queue = [w, xq, xk, xv, base](Batch& b, std::optional<Tensor> out) {
                MhaOptions o = base;
                o.out = out;
                return b.multi_head_attention(*w, xq, xk, xv, o).out;
            };
            cases.push_back(c);
        }
    }
    return cases;
}

int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

// Every layer recorded into one application command buffer, after and between the application's own
// work, each writing into an application buffer at an offset: bitwise what the synchronous call gives,
// the bytes around untouched; the same through `out` on the synchronous call and through a Batch.
TEST(EmbeddingLayers, RecordedAndBatchedEqualSynchronousBitwise) {
    Application app(/*enable_float16=*/true);
    {
        Context ctx(app.adopted());
        std::vector<Tensor> keep;
        std::vector<std::unique_ptr<MhaWeights>> mha;
        const std::vector<LayerCase> cases = layer_cases(ctx, keep, mha);

        std::vector<std::vector<unsigned char>> want;
        std::vector<std::unique_ptr<AppBuffer>> outs;
        VkDeviceSize workspace_bytes = 0;
        for (const LayerCase& c : cases) {
            const Tensor r = c.sync(std::nullopt);
            ASSERT_EQ(r.shape(), c.out_shape) << c.name;
            ASSERT_EQ(r.dtype(), c.out_dtype) << c.name;
            want.push_back(bytes_of(r));
            // The synchronous call writing into a tensor the caller gave: the same bits.
            const Tensor given = ctx.empty(c.out_shape, c.out_dtype);
            const Tensor same = c.sync(given);
            EXPECT_EQ(same.numel(), given.numel());
            EXPECT_EQ(bytes_of(given), want.back()) << c.name << ": the synchronous call into out differs from its own result";
            outs.push_back(std::make_unique<AppBuffer>());
            app.make_buffer(*outs.back(), kMargin + want.back().size(), kAll);
            std::memset(outs.back()->mapped, 0xFF, outs.back()->size);  // NaN in f32 and f16
            workspace_bytes = std::max(workspace_bytes, c.size());
        }
        EXPECT_GT(workspace_bytes, 0u) << "the projections and f16 working rows live in the workspace";

        // Too small a workspace for multi-head attention: named, nothing recorded.
        Workspace tiny(ctx, 16);
        VkCommandBuffer cmd = app.begin();
        const LayerCase& mha_case = cases[4];
        const Tensor mha_out = wrap_buffer(ctx, outs[4]->app(), kMargin, mha_case.out_shape, mha_case.out_dtype);
        EXPECT_NE(error_of([&] { mha_case.record(cmd, tiny, mha_out); }).find("workspace: holds 16 bytes, but record_multi_head_attention"),
                  std::string::npos);

        // Twice: the second round, after Workspace::reset, must reuse what the first one allocated.
        Workspace workspace(ctx, workspace_bytes);
        for (int round = 0; round < 2; ++round) {
            if (round == 1) {
                workspace.reset();
                for (auto& o : outs) std::memset(o->mapped, 0xFF, o->size);
                cmd = app.begin();
            }
            const ContextStats before = ctx.stats();
            for (std::size_t i = 0; i < cases.size(); ++i) {
                const LayerCase& c = cases[i];
                c.record(cmd, workspace, wrap_buffer(ctx, outs[i]->app(), kMargin, c.out_shape, c.out_dtype));
            }
            const ContextStats recorded = ctx.stats();
            EXPECT_EQ(recorded.submissions, before.submissions) << "recording submits nothing";
            EXPECT_EQ(recorded.waits, before.waits) << "recording waits for nothing";
            EXPECT_EQ(recorded.pipelines, before.pipelines) << "the synchronous calls built every pipeline";
            if (round == 1) {
                EXPECT_EQ(recorded.memory_allocations, before.memory_allocations) << "a warm workspace allocates nothing";
                EXPECT_EQ(recorded.descriptor_pools, before.descriptor_pools) << "a warm workspace creates no descriptor pool";
            }
            app.submit_and_wait(cmd);
            for (std::size_t i = 0; i < cases.size(); ++i) {
                const auto* bytes = static_cast<unsigned char*>(outs[i]->mapped);
                EXPECT_EQ(std::memcmp(bytes + kMargin, want[i].data(), want[i].size()), 0)
                    << cases[i].name << ": recorded and synchronous results differ (round " << round << ")";
                for (VkDeviceSize b = 0; b < kMargin; ++b) ASSERT_EQ(bytes[b], 0xFF) << cases[i].name << ": wrote before out";
            }
        }

        // The same in one Batch: half of them into new tensors, half into application buffers.
        for (auto& o : outs) std::memset(o->mapped, 0xFF, o->size);
        Batch batch(ctx);
        std::vector<Tensor> results(cases.size());
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const bool into_app = i % 2 == 1;
            results[i] = cases[i].queue(batch, into_app ? std::optional<Tensor>(wrap_buffer(ctx, outs[i]->app(), kMargin, cases[i].out_shape,
                                                                                             cases[i].out_dtype))
                                                        : std::nullopt);
        }
        EXPECT_EQ(batch.size(), cases.size());
        ctx.wait(batch.submit());
        for (std::size_t i = 0; i < cases.size(); ++i) {
            if (i % 2 == 1)
                EXPECT_EQ(std::memcmp(static_cast<unsigned char*>(outs[i]->mapped) + kMargin, want[i].data(), want[i].size()), 0)
                    << cases[i].name << ": batched into the application's buffer";
            else
                EXPECT_EQ(bytes_of(results[i]), want[i]) << cases[i].name << ": batched";
        }
    }
    EXPECT_EQ(vkDeviceWaitIdle(app.device), VK_SUCCESS);
    app.destroy_device();
    EXPECT_EQ(app.messages, 0) << "the application's validation layer reported messages";
}

// What recording and batching the layers refuse, each named, the context usable after.
TEST(EmbeddingLayers, RefusalsNameTheArgument) {
    Context ctx;
    const Tensor a = random_tensor(ctx, {5, 8}, DType::f32, 1), w = random_tensor(ctx, {6, 8}, DType::f32, 2);
    Workspace ws(ctx, 4096);
    const VkCommandBuffer fake = reinterpret_cast<VkCommandBuffer>(uintptr_t{1});  // never reached: the checks run first
    EXPECT_NE(error_of([&] { record_matmul(ctx, fake, ws, a, w, std::nullopt, {}); }).find("out: record_matmul writes into options.out"),
              std::string::npos);
    MatmulOptions timed;
    timed.out = ctx.empty({5, 6}, DType::f32);
    timed.measure_time = true;
    EXPECT_NE(error_of([&] { record_matmul(ctx, fake, ws, a, w, std::nullopt, timed); }).find("measure_time: record_matmul"), std::string::npos);
    MatmulOptions bad;
    bad.out = ctx.empty({5, 7}, DType::f32);
    EXPECT_NE(error_of([&] { matmul(ctx, a, w, std::nullopt, bad); }).find("out: shape [5, 7] must be [..., M, N] = [5, 6]"), std::string::npos);
    bad.out = ctx.empty({5, 6}, DType::f16);
    EXPECT_NE(error_of([&] { matmul(ctx, a, w, std::nullopt, bad); }).find("out: dtype f16 is not the output dtype f32"), std::string::npos);
    const Tensor big = ctx.empty({64}, DType::f32);
    bad.out = big.view({5, 6}, {6, 1}, 0);
    MatmulOptions overlap = bad;
    EXPECT_NE(error_of([&] { matmul(ctx, big.view({5, 8}, {8, 1}, 20), w, std::nullopt, overlap); }).find("out: overlaps a"), std::string::npos);

    const MhaWeights mw = random_mha(ctx, 16, 2, 2, 8, DType::f32, 7);
    const Tensor x = random_tensor(ctx, {1, 3, 16}, DType::f32, 9);
    MhaOptions need;
    need.need_weights = true;
    need.out = ctx.empty({1, 3, 16}, DType::f32);
    EXPECT_NE(error_of([&] { record_multi_head_attention(ctx, fake, ws, mw, x, std::nullopt, std::nullopt, need); }).find("need_weights: record_multi_head_attention returns no weights"),
              std::string::npos);
    Batch batch(ctx);
    EXPECT_NE(error_of([&] { batch.multi_head_attention(mw, x, std::nullopt, std::nullopt, need); }).find("average_weights: "), std::string::npos);
    EXPECT_EQ(batch.size(), 0u) << "a refused operation queues nothing";
    need.average_weights = false;
    const MhaResult per_head = batch.multi_head_attention(mw, x, std::nullopt, std::nullopt, need);
    ctx.wait(batch.submit());
    ASSERT_TRUE(per_head.weights.has_value());
    EXPECT_EQ(per_head.weights->shape(), (Shape{1, 2, 3, 3}));
    MhaOptions plain = need;
    plain.out.reset();
    const MhaResult sync = multi_head_attention(ctx, mw, x, std::nullopt, std::nullopt, plain);
    EXPECT_EQ(bytes_of(*per_head.weights), bytes_of(*sync.weights)) << "batched per-head weights differ";
    EXPECT_EQ(bytes_of(*need.out), bytes_of(sync.out)) << "batched output differs";
}

}  // namespace
