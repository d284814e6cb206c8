// Same inputs, same device, same options -> bitwise identical outputs, run to run, on every path:
// fused rowwise, fused tiled (VKATTN_FUSED_KERNEL=tiled), split-KV decode, the tiled kernel GQA-packed
// and split (two dispatches: the combine ran), explicit with weights and lse, explicit without weights, f16 inputs, f16 output, and a problem split into chunks. Each path
// runs twice on inputs uploaded twice (fresh buffers, same values) into fresh (NaN-poisoned) outputs;
// out, lse and weights are compared byte for byte. The variant that ran is checked, so that a
// planner change cannot silently turn one of these into another path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "test_support.hpp"

namespace vkattn::test {
namespace {

struct PathCase {
    std::string name;
    int64_t B, Hq, Hkv, Lq, Lk, D;
    DType dtype = DType::f32;
    AttentionOptions options;
    const char* fused_kernel = nullptr;  // VKATTN_FUSED_KERNEL
    const char* max_binding = nullptr;   // VKATTN_TEST_MAX_BINDING
    std::string variant_prefix;          // expected on a CPU device (lavapipe); empty: any
    uint32_t min_dispatches = 1;
};

std::vector<float> randoms(std::mt19937_64& gen, int64_t n) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = d(gen);
    return x;
}

struct Outputs {
    std::vector<uint8_t> out, lse, weights;
    std::string variant;
    uint32_t dispatches = 0;
};

Outputs run_once(const PathCase& s, uint64_t seed) {
    Context& ctx = context();
    std::mt19937_64 gen(seed);
    const Tensor q = ctx.upload(randoms(gen, s.B * s.Hq * s.Lq * s.D), {s.B, s.Hq, s.Lq, s.D}, s.dtype);
    const Tensor k = ctx.upload(randoms(gen, s.B * s.Hkv * s.Lk * s.D), {s.B, s.Hkv, s.Lk, s.D}, s.dtype);
    const Tensor v = ctx.upload(randoms(gen, s.B * s.Hkv * s.Lk * s.D), {s.B, s.Hkv, s.Lk, s.D}, s.dtype);
    AttentionOptions o = s.options;
    std::vector<float> m = randoms(gen, s.Lq * s.Lk);
    if (o.mask) o.mask = ctx.upload(m, {s.Lq, s.Lk}, s.dtype);
    const AttentionResult r = attention_full(ctx, q, k, v, o);
    Outputs out;
    out.out = tensor_bytes(r.out);
    if (r.lse) out.lse = tensor_bytes(*r.lse);
    if (r.weights) out.weights = tensor_bytes(*r.weights);
    out.variant = r.variant;
    out.dispatches = r.dispatches;
    return out;
}

std::vector<PathCase> setups() {
    std::vector<PathCase> list;
    AttentionOptions fused;
    fused.path = Path::fused;
    fused.return_lse = true;
    fused.causal = Causal::bottom_right;
    fused.mask = Tensor();  // replaced by a random additive [Lq, Lk] mask
    list.push_back({"fused rowwise", 2, 4, 2, 70, 300, 64, DType::f32, fused, "rowwise", nullptr, "fused_rowwise."});
    list.push_back({"fused tiled", 2, 4, 2, 70, 300, 64, DType::f32, fused, "tiled", nullptr, "fused.f32."});
    list.push_back({"fused f16 inputs", 1, 4, 2, 70, 300, 64, DType::f16, fused, nullptr, nullptr, "fused_rowwise.f16"});
    AttentionOptions f16_out = fused;
    f16_out.out_dtype = DType::f16;
    list.push_back({"f16 output", 1, 4, 2, 70, 300, 64, DType::f32, f16_out, nullptr, nullptr, "fused_rowwise.f32"});
    AttentionOptions decode;
    decode.return_lse = true;
    decode.causal = Causal::bottom_right;
    decode.key_lengths = {700, 555};
    list.push_back({"decode split", 2, 8, 2, 1, 700, 64, DType::f32, decode, nullptr, nullptr, "decode_split."});
    AttentionOptions split = decode;  // the GPU decode path: GQA-packed rows, split-KV and the combine pass
    split.kv_splits = 5;
    list.push_back({"tiled gqa-packed split-KV", 2, 8, 2, 3, 700, 64, DType::f32, split, "tiled", nullptr, "fused.f32.", 2});
    AttentionOptions weights;
    weights.path = Path::explicit_;
    weights.return_weights = true;
    weights.return_lse = true;
    weights.causal = Causal::top_left;
    weights.mask = Tensor();
    list.push_back({"explicit weights lse", 2, 4, 2, 40, 90, 64, DType::f32, weights, nullptr, nullptr, "explicit.f32"});
    AttentionOptions expl;
    expl.path = Path::explicit_;
    expl.return_lse = true;
    list.push_back({"explicit no weights", 2, 4, 2, 40, 90, 64, DType::f16, expl, nullptr, nullptr, "explicit.f16"});
    // 128 KiB bindings: K and V (2 x 2 x 300 x 64 f32 = 300 KiB) need several chunks.
    list.push_back({"chunked fused", 2, 4, 2, 150, 300, 64, DType::f32, fused, nullptr, "131072", "fused_rowwise.", 4});
    AttentionOptions chunked_expl = weights;
    list.push_back({"chunked explicit", 2, 4, 2, 150, 300, 64, DType::f32, chunked_expl, nullptr, "131072", "explicit.f32", 6});
    return list;
}

TEST(Determinism, EveryPathIsBitwiseIdenticalRunToRun) {
    const bool cpu = context().device().type == DeviceType::cpu;
    for (const PathCase& s : setups()) {
        SCOPED_TRACE(s.name);
        ScopedEnv kernel("VKATTN_FUSED_KERNEL", s.fused_kernel);
        ScopedEnv binding("VKATTN_TEST_MAX_BINDING", s.max_binding);
        const uint64_t seed = fresh_seed();
        const Outputs a = run_once(s, seed), b = run_once(s, seed);
        if (cpu || s.fused_kernel || s.options.path == Path::explicit_)
            EXPECT_EQ(a.variant.rfind(s.variant_prefix, 0), 0u) << "ran " << a.variant << ", expected " << s.variant_prefix;
        EXPECT_GE(a.dispatches, s.min_dispatches) << a.variant;
        EXPECT_EQ(a.variant, b.variant);
        std::printf("determinism: %-22s %s, %u dispatches, %zu + %zu + %zu bytes identical\n", s.name.c_str(), a.variant.c_str(),
                    a.dispatches, a.out.size(), a.lse.size(), a.weights.size());
        ASSERT_EQ(a.out.size(), b.out.size());
        EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size()), 0) << "out differs between runs (" << a.variant << ")";
        EXPECT_EQ(a.lse.empty(), !s.options.return_lse);
        EXPECT_TRUE(a.lse == b.lse) << "lse differs between runs (" << a.variant << ")";
        EXPECT_EQ(a.weights.empty(), !s.options.return_weights);
        EXPECT_TRUE(a.weights == b.weights) << "weights differ between runs (" << a.variant << ")";
        // Poisoned outputs: a NaN left anywhere would mean an element was never written.
        if (s.options.out_dtype != DType::f16 && s.dtype == DType::f32) {
            std::vector<float> o(a.out.size() / 4);
            std::memcpy(o.data(), a.out.data(), a.out.size());
            for (float x : o) ASSERT_FALSE(std::isnan(x)) << "unwritten output element (" << a.variant << ")";
        }
    }
}

}  // namespace
}  // namespace vkattn::test
