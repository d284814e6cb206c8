// vkattn inside an application's Vulkan world (vkattn/embedding.hpp, docs/embedding.md): a Context on
// the application's device, tensors over the application's buffers, the output written into them.
// The "application" here makes its own instance (the validation layer, with synchronization validation
// when the suite runs with it, and its own debug messenger: any message fails the test), device, queue, buffers and memory, and
// destroys them itself after vkattn is done.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <vkattn/embedding.hpp>
#include <vkattn/kv_cache.hpp>
#include <vkattn/reference.hpp>
#include <vkattn/vkattn.hpp>

#include "common/application.hpp"
#include "common/attention_data.hpp"

namespace {

using namespace vkattn;
using vkattn::test::AppBuffer;
using vkattn::test::Application;

constexpr VkBufferUsageFlags kStorage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
constexpr VkBufferUsageFlags kAll = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

std::vector<float> random_values(std::size_t n, uint32_t seed) { return test::normal_values(n, seed); }

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return std::string(e.code() == ErrorCode::invalid_argument ? "invalid_argument: " : e.code() == ErrorCode::unsupported ? "unsupported: " : "other: ") +
               e.what();
    }
    return "no error";
}

// A small GQA problem (B 2, Hq 4, Hkv 2, Lq 5, Lk 37, D 16) whose q lives at an offset in one application
// buffer, k and v interleaved [B, Lk, Hkv, D] in another (strided views), and whose output goes to a
// third at an offset: checked against the double-precision reference, and bitwise against the same
// problem on vkattn's own tensors in the same context.
TEST(Embedding, AttentionOnTheApplicationsDeviceWritesIntoItsBuffer) {
    Application app(/*enable_float16=*/true);
    {
        Context ctx(app.adopted());
        EXPECT_TRUE(ctx.adopted());
        const int64_t B = 2, Hq = 4, Hkv = 2, Lq = 5, Lk = 37, D = 16;
        const std::vector<float> q = random_values(B * Hq * Lq * D, 1), k = random_values(B * Hkv * Lk * D, 2),
                                 v = random_values(B * Hkv * Lk * D, 3);
        AppBuffer qb, kvb, ob;
        const VkDeviceSize q_offset = 256, out_offset = 64;
        app.make_buffer(qb, q_offset + q.size() * 4, kStorage);
        app.make_buffer(kvb, 2 * k.size() * 4, kStorage);
        app.make_buffer(ob, out_offset + B * Hq * Lq * D * 4 + 32, kAll);
        std::memcpy(static_cast<char*>(qb.mapped) + q_offset, q.data(), q.size() * 4);
        // k and v interleaved per key: [B, Lk, 2, Hkv, D] (k at slot 0, v at slot 1).
        const std::vector<float> k_blhd = test::to_blhd(k, B, Hkv, Lk, D), v_blhd = test::to_blhd(v, B, Hkv, Lk, D);
        for (int64_t row = 0; row < B * Lk; ++row)
            for (int64_t e = 0; e < Hkv * D; ++e) {
                kvb.floats()[(row * 2 + 0) * Hkv * D + e] = k_blhd[row * Hkv * D + e];
                kvb.floats()[(row * 2 + 1) * Hkv * D + e] = v_blhd[row * Hkv * D + e];
            }
        const float nan = std::nanf("");
        for (VkDeviceSize i = 0; i < ob.size / 4; ++i) ob.floats()[i] = nan;

        // [B, Hkv, Lk, D] views of the interleaved layout: strides (Lk*2*Hkv*D, D, 2*Hkv*D, 1).
        const Strides kv_strides = {Lk * 2 * Hkv * D, D, 2 * Hkv * D, 1};
        Tensor qt = wrap_buffer(ctx, qb.app(), q_offset, {B, Hq, Lq, D}, DType::f32);
        Tensor kt = wrap_buffer(ctx, kvb.app(), 0, {B, Hkv, Lk, D}, DType::f32, kv_strides);
        Tensor vt = wrap_buffer(ctx, kvb.app(), Hkv * D * 4, {B, Hkv, Lk, D}, DType::f32, kv_strides);
        Tensor ot = wrap_buffer(ctx, ob.app(), out_offset, {B, Hq, Lq, D}, DType::f32);
        AttentionOptions options;
        options.out = ot;
        options.causal = Causal::bottom_right;
        const AttentionResult result = attention_full(ctx, qt, kt, vt, options);
        EXPECT_EQ(result.out.offset(), ot.offset());

        HostAttentionProblem hp;
        hp.B = B, hp.Hq = Hq, hp.Hkv = Hkv, hp.Lq = Lq, hp.Lk = Lk, hp.D = D, hp.Dv = D;
        hp.q = q, hp.k = k, hp.v = v;
        hp.causal = Causal::bottom_right;
        const std::vector<float> ref = reference_attention(hp).out;
        const std::vector<float> naive = naive_attention(hp, DType::f32).out;
        std::vector<float> got(ref.size());
        std::memcpy(got.data(), static_cast<char*>(ob.mapped) + out_offset, got.size() * 4);
        EXPECT_EQ(test::nonfinite_mismatch("out", got, ref), "");
        EXPECT_LE(test::max_abs_diff_finite(got, ref), 2 * test::max_abs_diff_finite(naive, ref) + 1e-6);
        // Nothing outside the output's bytes was written.
        for (VkDeviceSize i = 0; i < out_offset / 4; ++i) EXPECT_TRUE(std::isnan(ob.floats()[i])) << "before the output, float " << i;
        for (VkDeviceSize i = out_offset / 4 + got.size(); i < ob.size / 4; ++i) EXPECT_TRUE(std::isnan(ob.floats()[i])) << "after, float " << i;
        // The same problem on vkattn's own tensors gives the same bits; the wrapped output downloads too.
        AttentionOptions own;
        own.causal = Causal::bottom_right;
        const std::vector<float> mine =
            attention(ctx, ctx.upload(q, {B, Hq, Lq, D}), ctx.upload(k, {B, Hkv, Lk, D}), ctx.upload(v, {B, Hkv, Lk, D}), own)
                .download<float>();
        EXPECT_EQ(std::memcmp(mine.data(), got.data(), got.size() * 4), 0);
        EXPECT_EQ(result.out.download<float>(), got);
    }
    // vkattn's objects are gone; the application's device is intact and still its own. Destroying it
    // now makes the validation layer report any object of vkattn's left on it.
    EXPECT_EQ(vkDeviceWaitIdle(app.device), VK_SUCCESS);
    app.destroy_device();
    EXPECT_EQ(app.messages, 0) << "the application's validation layer reported messages";
}

// f16 on a device whose application did not enable shaderFloat16: the kernels compute in f32 and the
// context says so; with it enabled, fp16 arithmetic is on. Both match the reference; the f16 output
// goes into an application buffer at a 4-byte offset.
TEST(Embedding, PlansFromTheFeaturesTheApplicationEnabled) {
    for (bool float16 : {false, true}) {
        SCOPED_TRACE(float16 ? "shaderFloat16 enabled" : "shaderFloat16 not enabled");
        Application app(float16);
        {
            Context ctx(app.adopted());
            EXPECT_EQ(ctx.device().fp16_arithmetic, float16 && ctx.probed_device().fp16_arithmetic);
            if (!float16) EXPECT_FALSE(ctx.device().fp16_arithmetic);
            const int64_t B = 1, Hq = 2, Hkv = 1, Lq = 3, Lk = 20, D = 8;
            std::vector<float> q = random_values(B * Hq * Lq * D, 4), k = random_values(B * Hkv * Lk * D, 5),
                               v = random_values(B * Hkv * Lk * D, 6);
            for (auto* x : {&q, &k, &v})
                for (float& e : *x) e = half_to_float(float_to_half(e));
            AppBuffer ob;
            app.make_buffer(ob, 4 + B * Hq * Lq * D * 2, kAll);
            std::memset(ob.mapped, 0xFF, ob.size);  // f16 NaN bit patterns
            AttentionOptions options;
            options.out = wrap_buffer(ctx, ob.app(), 4, {B, Hq, Lq, D}, DType::f16);
            attention(ctx, ctx.upload(q, {B, Hq, Lq, D}, DType::f16), ctx.upload(k, {B, Hkv, Lk, D}, DType::f16),
                      ctx.upload(v, {B, Hkv, Lk, D}, DType::f16), options);
            HostAttentionProblem hp;
            hp.B = B, hp.Hq = Hq, hp.Hkv = Hkv, hp.Lq = Lq, hp.Lk = Lk, hp.D = D, hp.Dv = D;
            hp.q = q, hp.k = k, hp.v = v;
            const std::vector<float> ref = reference_attention(hp).out;
            const std::vector<float> naive = naive_attention(hp, DType::f16).out;
            std::vector<float> got(ref.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                uint16_t h;
                std::memcpy(&h, static_cast<char*>(ob.mapped) + 4 + i * 2, 2);
                got[i] = half_to_float(h);
            }
            EXPECT_EQ(test::nonfinite_mismatch("out", got, ref), "");
            EXPECT_LE(test::max_abs_diff_finite(got, ref), 2 * test::max_abs_diff_finite(naive, ref) + 1e-6);
        }
        EXPECT_EQ(app.messages, 0);
    }
}

// Every bad wrapping and every bad `out` is one invalid_argument naming the argument, and the context
// keeps working after each.
TEST(Embedding, BadWrappingsAndOutputsNameTheArgument) {
    Application app(false);
    {
        Context ctx(app.adopted());
        AppBuffer b, storage_only;
        app.make_buffer(b, 1024, kAll);
        app.make_buffer(storage_only, 1024, kStorage);
        AppBuffer transfer_only;
        app.make_buffer(transfer_only, 1024, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
        const auto wrap = [&](ApplicationBuffer a, VkDeviceSize offset, Shape shape, DType dtype, Strides strides = {}) {
            return error_of([&] { wrap_buffer(ctx, a, offset, shape, dtype, strides); });
        };
        ApplicationBuffer null = b.app();
        null.buffer = VK_NULL_HANDLE;
        ApplicationBuffer too_big = b.app();
        too_big.size = 1 << 20;
        ApplicationBuffer empty = b.app();
        empty.size = 0;
        const std::vector<std::pair<std::string, std::string>> cases = {
            {wrap(null, 0, {4}, DType::f32), "buffer.buffer is VK_NULL_HANDLE"},
            {wrap(transfer_only.app(), 0, {4}, DType::f32), "buffer.usage lacks VK_BUFFER_USAGE_STORAGE_BUFFER_BIT"},
            {wrap(too_big, 0, {4}, DType::f32), "buffer.size 1048576 is larger than the buffer can be"},
            {wrap(empty, 0, {4}, DType::f32), "buffer.size is 0"},
            {wrap(b.app(), 2, {4}, DType::f32), "byte_offset 2 is not a multiple of the f32 element size 4"},
            {wrap(b.app(), 1024, {4}, DType::f32), "byte_offset 1024 is at or past the end"},
            {wrap(b.app(), 0, {257}, DType::f32), "needs bytes [0, 1028) but buffer.size is 1024"},
            {wrap(b.app(), 16, {2, 128}, DType::f32), "needs bytes [16, 1040) but buffer.size is 1024"},
            {wrap(b.app(), 0, {2, 2}, DType::f32, {-1, 1}), "stride 0 is negative"},
            {wrap(b.app(), 0, {2, 2}, DType::f32, {1}), "strides have 1 entries for a shape of rank 2"},
            {wrap(b.app(), 0, {2, 0}, DType::f32), "dimension 1 of shape [2, 0] must be positive"},
            {wrap(b.app(), 0, {}, DType::f32), "shape must have at least one dimension"},
        };
        for (const auto& [got, want] : cases) {
            EXPECT_NE(got.find("invalid_argument: wrap_buffer: "), std::string::npos) << got;
            EXPECT_NE(got.find(want), std::string::npos) << got << "\nwanted: " << want;
        }
        // A tensor over a storage-only buffer works in kernels; reading it back needs TRANSFER_SRC.
        Tensor x = wrap_buffer(ctx, storage_only.app(), 0, {1, 1, 4, 8}, DType::f32);
        EXPECT_NE(error_of([&] { x.download<float>(); }).find("VK_BUFFER_USAGE_TRANSFER_SRC_BIT"), std::string::npos);

        // `out`: shape, dtype, overlap, f16 layout.
        const int64_t B = 1, H = 1, L = 4, D = 8;
        Tensor q = wrap_buffer(ctx, b.app(), 0, {B, H, L, D}, DType::f32);
        Tensor k = ctx.upload(random_values(L * D, 7), {B, H, L, D});
        const auto with_out = [&](Tensor out) {
            AttentionOptions o;
            o.out = out;
            return error_of([&] { attention(ctx, q, k, k, o); });
        };
        const std::vector<std::pair<std::string, std::string>> outs = {
            {with_out(wrap_buffer(ctx, b.app(), 512, {B, H, L, 4}, DType::f32)), "out: shape [1, 1, 4, 4] must be [B, Hq, Lq, Dv] = [1, 1, 4, 8]"},
            {with_out(wrap_buffer(ctx, b.app(), 512, {B, H, L, D}, DType::f16)), "out: dtype f16 is not the output dtype f32"},
            {with_out(wrap_buffer(ctx, b.app(), 64, {B, H, L, D}, DType::f32)), "out: overlaps q in the same buffer"},
            {with_out(wrap_buffer(ctx, b.app(), 512, {B, H, L, D}, DType::f32, {0, 0, 0, 1})), "out: stride 2 is 0"},
            {with_out(Tensor()), "out: tensor is empty"},
        };
        for (const auto& [got, want] : outs) {
            EXPECT_NE(got.find("invalid_argument: "), std::string::npos) << got;
            EXPECT_NE(got.find(want), std::string::npos) << got << "\nwanted: " << want;
        }
        AttentionOptions f16;
        f16.out_dtype = DType::f16;
        f16.out = wrap_buffer(ctx, b.app(), 514, {B, H, L, D}, DType::f16);
        EXPECT_NE(error_of([&] { attention(ctx, q, k, k, f16); }).find("out: an f16 output must start at a 4-byte boundary"), std::string::npos);
        f16.out = wrap_buffer(ctx, b.app(), 512, {B, H, L, D}, DType::f16, {64, 64, 1, 4});
        EXPECT_NE(error_of([&] { attention(ctx, q, k, k, f16); }).find("out: an f16 output must be contiguous"), std::string::npos);

        // After all of that, a correct call into the application's buffer works.
        AttentionOptions ok;
        ok.out = wrap_buffer(ctx, b.app(), 512, {B, H, L, D}, DType::f32);
        EXPECT_EQ(error_of([&] { attention(ctx, q, k, k, ok); }), "no error");
    }
    EXPECT_EQ(app.messages, 0);
}

// What the application gives is checked, each rule naming the field; vkattn's own options that cannot
// apply to someone else's device are refused rather than ignored.
TEST(Embedding, BadAdoptionsNameTheField) {
    Application app(false);
    const auto adopt = [&](AdoptedDevice a, ContextOptions o = {}) { return error_of([&] { Context ctx(a, o); }); };
    AdoptedDevice a = app.adopted();
    a.device = VK_NULL_HANDLE;
    EXPECT_NE(adopt(a).find("invalid_argument: adopted device: device is VK_NULL_HANDLE"), std::string::npos);
    a = app.adopted();
    a.queue = VK_NULL_HANDLE;
    EXPECT_NE(adopt(a).find("adopted device: queue is VK_NULL_HANDLE"), std::string::npos);
    a = app.adopted();
    a.queue_family = 99;
    EXPECT_NE(adopt(a).find("adopted device: queue_family 99 does not exist"), std::string::npos);
    a = app.adopted();
    a.api_version = VK_API_VERSION_1_0;
    EXPECT_NE(adopt(a).find("unsupported: adopted device: api_version 1.0 is below Vulkan 1.1"), std::string::npos);
    ContextOptions validation;
    validation.validation = true;
    EXPECT_NE(adopt(app.adopted(), validation).find("invalid_argument: options.validation"), std::string::npos);
    ContextOptions selector;
    selector.device.index = 0;
    EXPECT_NE(adopt(app.adopted(), selector).find("invalid_argument: options.device"), std::string::npos);
    ContextOptions subgroup;
    subgroup.subgroup_size = 8;
    EXPECT_NE(adopt(app.adopted(), subgroup).find("unsupported: subgroup_size: 8: the application did not enable subgroupSizeControl"),
              std::string::npos);
    EXPECT_EQ(app.messages, 0);
}

// A KV cache whose storage is the application's memory, used after the Context it was made with has
// been moved: appends land in the application's buffer at the rows the cache says, and attention over
// it matches the reference. Bad storage is refused, naming the argument.
TEST(Embedding, KvCacheOverApplicationMemorySurvivesAMovedContext) {
    Application app(false);
    {
        Context first(app.adopted());
        const int64_t B = 1, Hkv = 2, Hq = 4, cap = 24, D = 8, n = 13, Lq = 2;
        KvCacheOptions co;
        co.batch = B, co.kv_heads = Hkv, co.capacity = cap, co.head_dim = D, co.dtype = DType::f32;
        AppBuffer storage;
        const VkDeviceSize half = B * Hkv * cap * D * 4;
        app.make_buffer(storage, 2 * half, kAll);
        for (VkDeviceSize i = 0; i < storage.size / 4; ++i) storage.floats()[i] = std::nanf("");
        Tensor ks = wrap_buffer(first, storage.app(), 0, {B, Hkv, cap, D}, DType::f32);
        Tensor vs = wrap_buffer(first, storage.app(), half, {B, Hkv, cap, D}, DType::f32);
        EXPECT_NE(error_of([&] { KvCache(first, co, vs, vs); }).find("value_storage: overlaps key_storage"), std::string::npos);
        EXPECT_NE(error_of([&] { KvCache(first, co, wrap_buffer(first, storage.app(), 0, {B, Hkv, cap - 1, D}, DType::f32), vs); })
                      .find("key_storage: shape [1, 2, 23, 8] must be [1, 2, 24, 8]"),
                  std::string::npos);
        AppBuffer no_transfer;
        app.make_buffer(no_transfer, half, kStorage);
        EXPECT_NE(error_of([&] { KvCache(first, co, ks, wrap_buffer(first, no_transfer.app(), 0, {B, Hkv, cap, D}, DType::f32)); })
                      .find("value_storage: the application's buffer lacks VK_BUFFER_USAGE_TRANSFER_DST_BIT"),
                  std::string::npos);

        KvCache cache(first, co, ks, vs);
        Context ctx = std::move(first);  // the cache must not depend on where the Context object lives
        const std::vector<float> k = random_values(B * Hkv * n * D, 8), v = random_values(B * Hkv * n * D, 9),
                                 q = random_values(B * Hq * Lq * D, 10);
        cache.append(ctx.upload(k, {B, Hkv, n, D}), ctx.upload(v, {B, Hkv, n, D}));
        // Row j of head h sits at [h][j] in the application's memory; rows past the length stay untouched.
        for (int64_t h = 0; h < Hkv; ++h)
            for (int64_t j = 0; j < cap; ++j)
                for (int64_t d = 0; d < D; ++d) {
                    const float got = storage.floats()[(h * cap + j) * D + d];
                    if (j < n)
                        EXPECT_EQ(got, k[(h * n + j) * D + d]) << "key row " << j << " of head " << h;
                    else
                        EXPECT_TRUE(std::isnan(got)) << "row " << j << " past the length was written";
                }
        const std::vector<float> out = attend(ctx, ctx.upload(q, {B, Hq, Lq, D}), cache).out.download<float>();
        HostAttentionProblem hp;
        hp.B = B, hp.Hq = Hq, hp.Hkv = Hkv, hp.Lq = Lq, hp.Lk = n, hp.D = D, hp.Dv = D;
        hp.q = q, hp.k = k, hp.v = v;
        hp.causal = Causal::bottom_right;
        const std::vector<float> ref = reference_attention(hp).out;
        EXPECT_EQ(test::nonfinite_mismatch("out", out, ref), "");
        EXPECT_LE(test::max_abs_diff_finite(out, ref), 2 * test::max_abs_diff_finite(naive_attention(hp, DType::f32).out, ref) + 1e-6);
    }
    app.destroy_device();
    EXPECT_EQ(app.messages, 0);
}

// Recorded into the application's command buffer, every kernel family gives the same bits as the
// synchronous call: the fused kernel (f32, GQA, causal, key lengths), the staged f16 output (working rows
// and the convert pass from the workspace), split-KV decoding (scratch, ALiBi slopes among the host
// words) and the explicit path (per-row scratch). All four go into one command buffer with one
// workspace, sized by attention_workspace_size, then a KV cache append and attend recorded after them.
// Each output is poisoned first and must be fully written; the application's validation layer (with
// synchronization validation under ctest) must stay silent.
TEST(Embedding, RecordedEqualsSynchronousBitwise) {
    Application app(/*enable_float16=*/true);
    {
        Context ctx(app.adopted());
        struct Case {
            const char* name;
            int64_t B, Hq, Hkv, Lq, Lk, D;
            DType dtype;
            AttentionOptions options;
        };
        std::vector<Case> cases(4);
        cases[0] = {"fused f32 GQA causal key lengths", 2, 4, 2, 5, 37, 16, DType::f32, {}};
        cases[0].options.causal = Causal::bottom_right;
        cases[0].options.key_lengths = {37, 21};
        cases[1] = {"f16 staged output", 1, 2, 1, 33, 40, 16, DType::f16, {}};
        cases[2] = {"split-KV decode f16 ALiBi", 2, 8, 2, 1, 300, 64, DType::f16, {}};
        cases[2].options.alibi_slopes = {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f};
        cases[3] = {"explicit f32 padding mask", 1, 2, 2, 7, 29, 8, DType::f32, {}};
        cases[3].options.path = Path::explicit_;
        cases[3].options.key_lengths = {23};

        std::vector<Tensor> q, k, v;
        std::vector<std::vector<float>> sync_out;
        std::vector<std::unique_ptr<AppBuffer>> outs;
        VkDeviceSize workspace_bytes = 0;
        uint32_t seed = 20;
        for (const Case& c : cases) {
            q.push_back(ctx.upload(random_values(c.B * c.Hq * c.Lq * c.D, seed++), {c.B, c.Hq, c.Lq, c.D}, c.dtype));
            k.push_back(ctx.upload(random_values(c.B * c.Hkv * c.Lk * c.D, seed++), {c.B, c.Hkv, c.Lk, c.D}, c.dtype));
            v.push_back(ctx.upload(random_values(c.B * c.Hkv * c.Lk * c.D, seed++), {c.B, c.Hkv, c.Lk, c.D}, c.dtype));
            const Tensor out = attention(ctx, q.back(), k.back(), v.back(), c.options);
            sync_out.push_back(c.dtype == DType::f32 ? out.download<float>() : std::vector<float>());
            if (c.dtype == DType::f16) {
                const std::vector<uint16_t> h = out.download<uint16_t>();
                sync_out.back().assign(h.size(), 0);
                std::memcpy(sync_out.back().data(), h.data(), h.size() * 2);  // bits, compared as bytes below
            }
            outs.push_back(std::make_unique<AppBuffer>());
            app.make_buffer(*outs.back(), 64 + out.numel() * dtype_size(c.dtype), kAll);
            std::memset(outs.back()->mapped, 0xFF, outs.back()->size);  // NaN in f32 and f16
            const VkDeviceSize bytes = attention_workspace_size(ctx, q.back(), k.back(), v.back(), c.options);
            EXPECT_EQ(attention_workspace_size(ctx, q.back().shape(), k.back().shape(), v.back().shape(), c.dtype, c.options), bytes)
                << c.name << ": the size from shapes differs from the size from tensors";
            workspace_bytes = std::max(workspace_bytes, bytes);
        }
        EXPECT_GT(workspace_bytes, 0u) << "the staged, decode and explicit paths all need temporaries";
        EXPECT_NE(error_of([&] { attention_workspace_size(ctx, {1, 2, 3}, {1, 2, 3, 4}, {1, 2, 3, 4}, DType::f32); }).find("q: shape [1, 2, 3]"),
                  std::string::npos);

        // Too small a workspace: refused before anything is recorded, naming the workspace.
        Workspace tiny(ctx, 16);
        VkCommandBuffer cmd = app.begin();
        AttentionOptions o2 = cases[2].options;
        o2.out = wrap_buffer(ctx, outs[2]->app(), 64, {2, 8, 1, 64}, DType::f16);
        EXPECT_NE(error_of([&] { record_attention(ctx, cmd, tiny, q[2], k[2], v[2], o2); }).find("invalid_argument: workspace: holds 16 bytes"),
                  std::string::npos);
        AttentionOptions no_out = cases[0].options;
        EXPECT_NE(error_of([&] { record_attention(ctx, cmd, tiny, q[0], k[0], v[0], no_out); }).find("out: record_attention writes into options.out"),
                  std::string::npos);
        AttentionOptions lse = o2;
        lse.return_lse = true;
        EXPECT_NE(error_of([&] { record_attention(ctx, cmd, tiny, q[2], k[2], v[2], lse); }).find("return_lse: record_attention returns no lse"),
                  std::string::npos);
        EXPECT_NE(error_of([&] { record_attention(ctx, VK_NULL_HANDLE, tiny, q[2], k[2], v[2], o2); }).find("cmd: "), std::string::npos);

        Workspace workspace(ctx, workspace_bytes);
        const ContextStats before = ctx.stats();
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const Case& c = cases[i];
            AttentionOptions o = c.options;
            o.out = wrap_buffer(ctx, outs[i]->app(), 64, {c.B, c.Hq, c.Lq, c.D}, c.dtype);
            const AttentionResult r = record_attention(ctx, cmd, workspace, q[i], k[i], v[i], o);
            EXPECT_GT(r.dispatches, 0u) << c.name;
            EXPECT_LT(r.gpu_milliseconds, 0) << c.name;
        }
        const ContextStats recorded = ctx.stats();
        EXPECT_EQ(recorded.submissions, before.submissions) << "recording submits nothing";
        EXPECT_EQ(recorded.waits, before.waits) << "recording waits for nothing";
        EXPECT_EQ(recorded.pipelines, before.pipelines) << "the synchronous calls built every pipeline";
        app.submit_and_wait(cmd);
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const std::size_t bytes = sync_out[i].size() * (cases[i].dtype == DType::f32 ? 4 : 2);
            EXPECT_EQ(std::memcmp(static_cast<char*>(outs[i]->mapped) + 64, sync_out[i].data(), bytes), 0)
                << cases[i].name << ": recorded and synchronous results differ";
            for (int b = 0; b < 64; ++b) EXPECT_EQ(static_cast<unsigned char*>(outs[i]->mapped)[b], 0xFF) << cases[i].name;
        }

        // A KV cache: two appends and an attend recorded into one command buffer, against the same on a
        // synchronous cache.
        const int64_t B = 2, Hkv = 2, Hq = 8, cap = 64, D = 64, n1 = 19, n2 = 1;
        KvCacheOptions co;
        co.batch = B, co.kv_heads = Hkv, co.capacity = cap, co.head_dim = D, co.dtype = DType::f16;
        KvCache sync_cache(ctx, co), recorded_cache(ctx, co);
        const Tensor k1 = ctx.upload(random_values(B * Hkv * n1 * D, 40), {B, Hkv, n1, D}, DType::f16);
        const Tensor v1 = ctx.upload(random_values(B * Hkv * n1 * D, 41), {B, Hkv, n1, D}, DType::f16);
        const Tensor k2 = ctx.upload(random_values(B * Hkv * n2 * D, 42), {B, Hkv, n2, D}, DType::f16);
        const Tensor v2 = ctx.upload(random_values(B * Hkv * n2 * D, 43), {B, Hkv, n2, D}, DType::f16);
        const Tensor qd = ctx.upload(random_values(B * Hq * n2 * D, 44), {B, Hq, n2, D}, DType::f16);
        const std::vector<int32_t> uneven = {n1, 11};
        sync_cache.append(k1, v1, uneven);
        sync_cache.append(k2, v2);
        const std::vector<uint16_t> want = attend(ctx, qd, sync_cache).out.download<uint16_t>();
        AppBuffer cache_out;
        app.make_buffer(cache_out, want.size() * 2, kAll);
        std::memset(cache_out.mapped, 0xFF, cache_out.size);
        cmd = app.begin();
        record_append(ctx, cmd, recorded_cache, k1, v1, uneven);
        record_append(ctx, cmd, recorded_cache, k2, v2);
        EXPECT_EQ(recorded_cache.lengths(), sync_cache.lengths()) << "record_append advances the lengths when it records";
        AttentionOptions ao;
        ao.out = wrap_buffer(ctx, cache_out.app(), 0, {B, Hq, n2, D}, DType::f16);
        Workspace cache_ws(ctx, attend_workspace_size(ctx, qd, recorded_cache, ao));
        record_attend(ctx, cmd, cache_ws, qd, recorded_cache, ao);
        app.submit_and_wait(cmd);
        EXPECT_EQ(std::memcmp(cache_out.mapped, want.data(), want.size() * 2), 0) << "recorded KV cache attention differs";
    }
    EXPECT_EQ(vkDeviceWaitIdle(app.device), VK_SUCCESS);
    app.destroy_device();
    EXPECT_EQ(app.messages, 0) << "the application's validation layer reported messages";
}

}  // namespace
