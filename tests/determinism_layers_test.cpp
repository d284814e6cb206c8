// Same inputs, same device, same options -> bitwise identical outputs, run to run, on every path added
// beside softmax attention (tests/determinism_test.cpp has those): linear attention (non-causal and
// causal chunked, f32 and f16), additive (Bahdanau) attention with lse and weights, Luong's general
// score, matmul (f32 batched with bias, f16), the multi-head layer loaded from a .safetensors file, and
// KV-cache appends + attend (split-KV decode and several new queries). Each path runs twice on the
// shared context on inputs uploaded twice (fresh, NaN-poisoned outputs), then once more on a second,
// fresh context; every output is compared byte for byte. Shapes are those of the layers' own tests,
// so no pipeline is compiled only for this test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <utility>
#include <unistd.h>

#include "layers_support.hpp"
#include "test_support.hpp"

namespace vkattn::test {
namespace {

struct Outputs {
    std::vector<std::vector<uint8_t>> tensors;  // out first, then lse / weights where the path has them
    std::string variant;
    Outputs() = default;
    Outputs(const Tensor& out, std::string v) : variant(std::move(v)) { add(out); }  // out alone
    void add(const Tensor& t) { tensors.push_back(tensor_bytes(t)); }
};

struct LayerPath {
    std::string name;
    std::string variant_prefix;
    std::size_t outputs;  // how many tensors the path returns
    std::function<Outputs(Context&, uint64_t)> run;
};

Tensor up(Context& ctx, std::mt19937_64& gen, const Shape& s, DType dt, float lo = -1.0f, float hi = 1.0f) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return ctx.upload(random_values(gen, n, lo, hi), s, dt);
}

LayerPath linear_path(const std::string& name, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, DType dt,
                      Causal causal) {
    return {name, "linear." + std::string(dtype_name(dt)), 1, [=](Context& ctx, uint64_t seed) {
                std::mt19937_64 gen(seed);
                const Tensor q = up(ctx, gen, {B, Hq, Lq, D}, dt), k = up(ctx, gen, {B, Hkv, Lk, D}, dt), v = up(ctx, gen, {B, Hkv, Lk, Dv}, dt);
                LinearAttentionOptions o;
                o.causal = causal;
                const LinearAttentionResult r = linear_attention_full(ctx, q, k, v, o);
                return Outputs(r.out, r.variant);
            }};
}

LayerPath additive_path(const std::string& name, DType dt, bool weights) {
    // The additive tests' default shape: B 2, H 2 x 1, Lq 9, Lk 13, Dq 12, Dk 10, Dv 16, A 24.
    return {name, "additive", weights ? 3u : 2u, [=](Context& ctx, uint64_t seed) {
                std::mt19937_64 gen(seed);
                const Tensor q = up(ctx, gen, {2, 2, 9, 12}, dt), k = up(ctx, gen, {2, 1, 13, 10}, dt), v = up(ctx, gen, {2, 1, 13, 16}, dt);
                AdditiveWeights w;
                w.w_q = up(ctx, gen, {24, 12}, dt, -0.5f, 0.5f);
                w.w_k = up(ctx, gen, {24, 10}, dt, -0.5f, 0.5f);
                w.bias = up(ctx, gen, {24}, dt, -0.5f, 0.5f);
                w.v_a = up(ctx, gen, {24}, dt);
                AdditiveOptions o;
                o.return_lse = true;
                o.return_weights = weights;
                const AttentionResult r = additive_attention(ctx, q, k, v, w, o);
                Outputs out;
                out.add(r.out);
                out.add(*r.lse);
                if (weights) out.add(*r.weights);
                out.variant = r.variant;
                return out;
            }};
}

std::vector<LayerPath> paths() {
    std::vector<LayerPath> list;
    list.push_back(linear_path("linear f32", 1, 3, 1, 77, 201, 33, 7, DType::f32, Causal::none));
    list.push_back(linear_path("linear f16", 1, 3, 1, 77, 201, 33, 7, DType::f16, Causal::none));
    list.push_back(linear_path("linear causal f32", 2, 4, 2, 130, 130, 20, 13, DType::f32, Causal::top_left));
    list.push_back(linear_path("linear causal f16", 2, 4, 2, 130, 130, 20, 13, DType::f16, Causal::top_left));
    list.push_back(additive_path("additive f32 lse", DType::f32, false));
    list.push_back(additive_path("additive f16 weights", DType::f16, true));
    list.push_back({"luong general", "", 1, [](Context& ctx, uint64_t seed) {
                        std::mt19937_64 gen(seed);
                        const Tensor q = up(ctx, gen, {2, 2, 11, 24}, DType::f32), k = up(ctx, gen, {2, 2, 17, 20}, DType::f32),
                                     v = up(ctx, gen, {2, 2, 17, 8}, DType::f32), w = up(ctx, gen, {24, 20}, DType::f32, -0.3f, 0.3f);
                        AttentionOptions o;
                        o.causal = Causal::bottom_right;
                        const AttentionResult r = luong_general_attention(ctx, q, k, v, w, o);
                        return Outputs(r.out, r.variant);
                    }});
    list.push_back({"matmul f32 batched", "matmul.f32", 1, [](Context& ctx, uint64_t seed) {
                        std::mt19937_64 gen(seed);
                        // [2, 3, 130, 200] x [200, 67] + bias: K spans several K blocks.
                        const Tensor a = up(ctx, gen, {2, 3, 130, 200}, DType::f32), w = up(ctx, gen, {200, 67}, DType::f32);
                        MatmulOptions o;
                        o.transpose_w = false;
                        const MatmulResult r = matmul_full(ctx, a, w, up(ctx, gen, {67}, DType::f32), o);
                        return Outputs(r.out, r.variant);
                    }});
    list.push_back({"matmul f16", "matmul.f16", 1, [](Context& ctx, uint64_t seed) {
                        std::mt19937_64 gen(seed);
                        const Tensor a = up(ctx, gen, {65, 63}, DType::f16), w = up(ctx, gen, {129, 63}, DType::f16);
                        const MatmulResult r = matmul_full(ctx, a, w, up(ctx, gen, {129}, DType::f16));
                        return Outputs(r.out, r.variant);
                    }});
    list.push_back({"mha packed self", "matmul.f32", 2, [](Context& ctx, uint64_t seed) {
                        // The layer tests' default: B 2, L 9, E 32, H 4, packed in_proj with biases.
                        std::mt19937_64 gen(seed);
                        const int64_t E = 32;
                        std::map<std::string, std::pair<Shape, std::vector<float>>> dict;
                        dict["in_proj_weight"] = {{3 * E, E}, random_values(gen, 3 * E * E, -0.18f, 0.18f)};
                        dict["in_proj_bias"] = {{3 * E}, random_values(gen, 3 * E, -0.1f, 0.1f)};
                        dict["out_proj.weight"] = {{E, E}, random_values(gen, E * E, -0.18f, 0.18f)};
                        dict["out_proj.bias"] = {{E}, random_values(gen, E, -0.1f, 0.1f)};
                        const std::string path = (std::filesystem::temp_directory_path() /
                                                  ("vkattn_determinism_" + std::to_string(::getpid()) + ".safetensors")).string();
                        write_safetensors(path, dict);
                        const MhaWeights w = load_mha_weights(ctx, path, {.heads = 4});
                        std::filesystem::remove(path);
                        MhaOptions o;
                        o.need_weights = true;
                        o.average_weights = false;
                        const MhaResult r = multi_head_attention(ctx, w, up(ctx, gen, {2, 9, E}, DType::f32), std::nullopt, std::nullopt, o);
                        Outputs out;
                        out.add(r.out);
                        out.add(*r.weights);
                        out.variant = r.variant;
                        return out;
                    }});
    // KV cache: the kv-cache tests' shapes (capacity 600, appends of up to 300 rows, uneven counts).
    const auto kv_path = [](std::string name, std::string prefix, DType dt, int64_t Hq, int64_t Hkv, int64_t D, int64_t Lq,
                            std::vector<std::vector<int32_t>> steps) {
        return LayerPath{name, prefix, 2, [=](Context& ctx, uint64_t seed) {
                             std::mt19937_64 gen(seed);
                             const int64_t B = static_cast<int64_t>(steps.front().size()), n = 300;
                             KvCache cache(ctx, {B, Hkv, 600, D, 0, dt});
                             for (const auto& counts : steps)
                                 cache.append(up(ctx, gen, {B, Hkv, n, D}, dt), up(ctx, gen, {B, Hkv, n, D}, dt), counts);
                             AttentionOptions o;
                             o.return_lse = true;
                             const AttentionResult r = attend(ctx, up(ctx, gen, {B, Hq, Lq, D}, dt), cache, o);
                             Outputs out;
                             out.add(r.out);
                             out.add(*r.lse);
                             out.variant = r.variant;
                             return out;
                         }};
    };
    list.push_back(kv_path("kv cache decode f16", "decode_split.", DType::f16, 8, 2, 64, 1, {{200, 37, 1}, {1, 1, 0}, {90, 250, 3}}));
    list.push_back(kv_path("kv cache 4 queries f32", "", DType::f32, 4, 4, 40, 4, {{120, 300, 7}, {4, 4, 4}}));
    return list;
}

void expect_identical(const Outputs& a, const Outputs& b, const std::string& what) {
    EXPECT_EQ(a.variant, b.variant) << what;
    ASSERT_EQ(a.tensors.size(), b.tensors.size()) << what;
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {
        ASSERT_EQ(a.tensors[i].size(), b.tensors[i].size()) << what << ": output " << i;
        EXPECT_EQ(std::memcmp(a.tensors[i].data(), b.tensors[i].data(), a.tensors[i].size()), 0)
            << what << ": output " << i << " differs (" << a.variant << ")";
    }
}

TEST(Determinism, EveryLayerPathIsBitwiseIdenticalRunToRunAndAcrossContexts) {
    const bool cpu = context().device().type == DeviceType::cpu;
    Context fresh(test_context_options());
    const auto list = paths();
    EXPECT_EQ(list.size(), 12u);
    for (const LayerPath& p : list) {
        SCOPED_TRACE(p.name);
        const uint64_t seed = fresh_seed();
        const Outputs a = p.run(context(), seed), b = p.run(context(), seed), c = p.run(fresh, seed);
        if (cpu) EXPECT_EQ(a.variant.rfind(p.variant_prefix, 0), 0u) << "ran " << a.variant << ", expected " << p.variant_prefix;
        ASSERT_EQ(a.tensors.size(), p.outputs);
        expect_identical(a, b, "run to run");
        expect_identical(a, c, "fresh context");
        std::size_t bytes = 0;
        for (const auto& t : a.tensors) bytes += t.size();
        std::printf("determinism: %-24s %s, %zu outputs, %zu bytes identical (3 runs, 2 contexts)\n", p.name.c_str(), a.variant.c_str(),
                    a.tensors.size(), bytes);
        // Poisoned outputs: a NaN left in out would mean an element was never written.
        if (a.tensors[0].size() % 4 == 0 && p.name.find("f16") == std::string::npos) {
            std::vector<float> o(a.tensors[0].size() / 4);
            std::memcpy(o.data(), a.tensors[0].data(), a.tensors[0].size());
            for (float x : o) ASSERT_FALSE(std::isnan(x)) << "unwritten output element (" << a.variant << ")";
        }
    }
}

}  // namespace
}  // namespace vkattn::test
