// Bad input to the APIs added beside softmax attention -- linear attention, additive and Luong
// attention, matmul, the multi-head layer and its .safetensors loader, the KV cache -- tabled in
// docs/bad_inputs.md (the API rows after the attention ones). Each call must throw vkattn::Error with
// the tabled code and a message naming the argument; after each one the same context computes a
// correct softmax attention and a correct linear attention or matmul (checked against the references).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <unistd.h>

#include "bad_inputs.hpp"
#include "layers_support.hpp"
#include "test_support.hpp"
#include "vkattn/linear_reference.hpp"
#include "vkattn/layers_reference.hpp"

namespace vkattn::test {
namespace {

Tensor zeros(const Shape& s, DType dt = DType::f32, float value = 0.25f) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return context().upload(std::vector<float>(static_cast<std::size_t>(n), value), s, dt);
}

std::string temp_file(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("vkattn_layer_errors_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A .safetensors file of F32 tensors with the given shapes (values 0.1), written once per call.
std::string st_file(const std::string& name, const std::map<std::string, Shape>& shapes) {
    std::map<std::string, std::pair<Shape, std::vector<float>>> d;
    for (const auto& [n, s] : shapes) {
        int64_t e = 1;
        for (int64_t x : s) e *= x;
        d[n] = {s, std::vector<float>(static_cast<std::size_t>(e), 0.1f)};
    }
    const std::string path = temp_file(name);
    write_safetensors(path, d);
    return path;
}

// Raw file bytes: the 8-byte little-endian header length, the header, `data` zero bytes.
std::vector<uint8_t> st_bytes(const std::string& json, std::size_t data) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(uint64_t{json.size()} >> (8 * i));
    s += json;
    s.append(data, '\0');
    return {s.begin(), s.end()};
}

// nn.MultiheadAttention state dict, E = 8, packed in_proj: 3 E rows.
std::map<std::string, Shape> mha_dict() {
    return {{"in_proj_weight", {24, 8}}, {"in_proj_bias", {24}}, {"out_proj.weight", {8, 8}}, {"out_proj.bias", {8}}};
}

MhaWeights good_mha() { return load_mha_weights(context(), st_file("good_mha.safetensors", mha_dict()), {.heads = 2}); }

AdditiveWeights additive_weights(int64_t A = 24, int64_t Dq = 12, int64_t Dk = 10, DType dt = DType::f32) {
    AdditiveWeights w;
    w.w_q = zeros({A, Dq}, dt);
    w.w_k = zeros({A, Dk}, dt);
    w.v_a = zeros({A}, dt);
    w.bias = zeros({A}, dt);
    return w;
}

KvCache small_cache() {
    KvCache c(context(), {2, 2, 8, 16, 0, DType::f32});
    c.append(zeros({2, 2, 5, 16}), zeros({2, 2, 5, 16}));
    return c;
}

}  // namespace

std::vector<BadInput> layer_bad_inputs() {
    Context& ctx = context();
    std::vector<BadInput> list;
    const auto add = [&](std::string name, std::function<void()> f, std::string part, ErrorCode code = ErrorCode::invalid_argument) {
        list.push_back({std::move(name), std::move(f), code, std::move(part)});
    };
    // ---- linear attention: q [2, 4, 5, 8], k and v [2, 2, 5, 8] ----
    const auto lq = [] { return zeros({2, 4, 5, 8}); };
    const auto lkv = [] { return zeros({2, 2, 5, 8}); };
    add("linear feature map", [&] {
        LinearAttentionOptions o;
        o.feature_map = static_cast<FeatureMap>(7);
        linear_attention(ctx, lq(), lkv(), lkv(), o);
    }, "feature_map: 7 is not a FeatureMap");
    add("linear causal value", [&] {
        LinearAttentionOptions o;
        o.causal = static_cast<Causal>(9);
        linear_attention(ctx, lq(), lkv(), lkv(), o);
    }, "causal: 9 is not a Causal value");
    add("linear rank 3 q", [&] { linear_attention(ctx, zeros({4, 5, 8}), lkv(), lkv()); },
        "q: expected rank 4 [B, Hq, Lq, D], got shape [4, 5, 8]");
    add("linear k dtype", [&] { linear_attention(ctx, lq(), zeros({2, 2, 5, 8}, DType::f16), lkv()); }, "k: dtype f16 does not match q's f32");
    add("linear v keys", [&] { linear_attention(ctx, lq(), lkv(), zeros({2, 2, 6, 8})); }, "v: 6 keys do not match k's 5");
    add("linear Hq % Hkv", [&] { linear_attention(ctx, zeros({2, 3, 5, 8}), lkv(), lkv()); },
        "q: 3 query heads are not a multiple of k's 2 key/value heads");
    add("linear k head dim", [&] { linear_attention(ctx, lq(), zeros({2, 2, 5, 6}), lkv()); }, "k: head dim 6 does not match q's 8");
    add("linear key_lengths range", [&] {
        LinearAttentionOptions o;
        o.key_lengths = {2, 6};
        linear_attention(ctx, lq(), lkv(), lkv(), o);
    }, "key_lengths[1]: 6 is outside [0, Lk = 5]");
    add("linear out dtype", [&] {
        LinearAttentionOptions o;
        o.out_dtype = DType::u8;
        linear_attention(ctx, lq(), lkv(), lkv(), o);
    }, "out_dtype: u8 is not supported");

    // ---- additive attention: q [2, 2, 9, 12], k [2, 1, 13, 10], v [2, 1, 13, 16], A = 24 ----
    const auto aq = [] { return zeros({2, 2, 9, 12}); };
    const auto ak = [] { return zeros({2, 1, 13, 10}); };
    const auto av = [] { return zeros({2, 1, 13, 16}); };
    add("additive w_q columns", [&] {
        AdditiveWeights w = additive_weights();
        w.w_q = zeros({24, 11});
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "w_q: shape [24, 11] must be [24, 12]");
    add("additive w_k rows", [&] {
        AdditiveWeights w = additive_weights();
        w.w_k = zeros({23, 10});
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "w_k: shape [23, 10] must be [24, 10]");
    add("additive v_a shape", [&] {
        AdditiveWeights w = additive_weights();
        w.v_a = zeros({24, 1});
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "v_a: shape [24, 1] must be [24]");
    add("additive bias shape", [&] {
        AdditiveWeights w = additive_weights();
        w.bias = zeros({12});
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "bias: shape [12] must be [24]");
    add("additive weight dtype", [&] {
        AdditiveWeights w = additive_weights();
        w.w_k = zeros({24, 10}, DType::f16);
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "w_k: dtype f16 does not match q's f32");
    add("additive empty w_q", [&] {
        AdditiveWeights w = additive_weights();
        w.w_q = Tensor();
        additive_attention(ctx, aq(), ak(), av(), w);
    }, "w_q: expected rank 2 [A, Dq], got an empty tensor");
    add("additive A over 512", [&] {
        additive_attention(ctx, aq(), ak(), av(), additive_weights(520));
    }, "w_q: attention width A = 520 exceeds the supported maximum 512", ErrorCode::unsupported);
    add("additive Dv over 512", [&] {
        additive_attention(ctx, aq(), ak(), zeros({2, 1, 13, 520}), additive_weights());
    }, "v: value width Dv = 520 exceeds the supported maximum 512", ErrorCode::unsupported);
    add("additive mask shape", [&] {
        AdditiveOptions o;
        o.mask = zeros({9, 12});
        additive_attention(ctx, aq(), ak(), av(), additive_weights(), o);
    }, "mask: shape [9, 12] must be [Lq, Lk] = [9, 13]");
    add("additive mask dtype", [&] {
        AdditiveOptions o;
        std::vector<int32_t> raw(9 * 13);
        o.mask = ctx.upload_raw(raw.data(), raw.size() * 4, {9, 13}, DType::i32);
        additive_attention(ctx, aq(), ak(), av(), additive_weights(), o);
    }, "mask: dtype i32 is not supported");
    add("additive weights on fused", [&] {
        AdditiveOptions o;
        o.path = Path::fused;
        o.return_weights = true;
        additive_attention(ctx, aq(), ak(), av(), additive_weights(), o);
    }, "return_weights: additive attention returns weights from its second pass");
    add("luong w shape", [&] { luong_general_attention(ctx, aq(), ak(), zeros({2, 1, 13, 8}), zeros({12, 11})); },
        "w: shape [12, 11] must be [12, 10]");

    // ---- matmul: a [7, 13], w [5, 13] ----
    add("matmul inner dim", [&] { matmul(ctx, zeros({7, 13}), zeros({5, 12})); },
        "w: shape [5, 12] does not match a's K = 13 (w is [N, K]; set transpose_w = false for [K, N])");
    add("matmul inner dim untransposed", [&] {
        MatmulOptions o;
        o.transpose_w = false;
        matmul(ctx, zeros({7, 13}), zeros({5, 12}), std::nullopt, o);
    }, "w: shape [5, 12] does not match a's K = 13 (w is [K, N])");
    add("matmul bias shape", [&] { matmul(ctx, zeros({7, 13}), zeros({5, 13}), zeros({7})); }, "bias: shape [7] must be [N] = [5]");
    add("matmul bias dtype", [&] { matmul(ctx, zeros({7, 13}), zeros({5, 13}), zeros({5}, DType::f16)); }, "bias: dtype f16 does not match a's f32");
    add("matmul w dtype", [&] { matmul(ctx, zeros({7, 13}), zeros({5, 13}, DType::f16)); }, "w: dtype f16 does not match a's f32");
    add("matmul rank 5 a", [&] { matmul(ctx, zeros({1, 1, 1, 7, 13}), zeros({5, 13})); },
        "a: expected rank 2, 3 or 4 ([M, K], [B, M, K], [B1, B2, M, K]), got shape [1, 1, 1, 7, 13]");
    add("matmul rank 3 w", [&] { matmul(ctx, zeros({7, 13}), zeros({1, 5, 13})); }, "w: expected rank 2 ([N, K]), got shape [1, 5, 13]");
    add("matmul out dtype", [&] {
        MatmulOptions o;
        o.out_dtype = DType::i32;
        matmul(ctx, zeros({7, 13}), zeros({5, 13}), std::nullopt, o);
    }, "out_dtype: i32 is not supported (f32 or f16)");

    // ---- multi-head attention: loader and layer ----
    add("mha missing file", [&] { load_mha_weights(ctx, std::string("/nonexistent/vkattn/mha.safetensors"), {.heads = 2}); },
        "/nonexistent/vkattn/mha.safetensors: cannot open", ErrorCode::io_error);
    add("mha missing out_proj.weight", [&] {
        auto d = mha_dict();
        d.erase("out_proj.weight");
        load_mha_weights(ctx, st_file("no_out.safetensors", d), {.heads = 2});
    }, "no tensor named 'out_proj.weight' (has: in_proj_bias, in_proj_weight, out_proj.bias)");
    add("mha missing in_proj_weight", [&] {
        auto d = mha_dict();
        d.erase("in_proj_weight");
        load_mha_weights(ctx, st_file("no_in.safetensors", d), {.heads = 2});
    }, "neither 'in_proj_weight' nor 'q_proj_weight' is present");
    add("mha missing k_proj_weight", [&] {
        load_mha_weights(ctx, st_file("no_k.safetensors", {{"q_proj_weight", {8, 8}}, {"v_proj_weight", {8, 8}}, {"out_proj.weight", {8, 8}}}),
                         {.heads = 2});
    }, "no tensor named 'k_proj_weight'");
    add("mha wrong prefix", [&] { load_mha_weights(ctx, st_file("prefix.safetensors", mha_dict()), {.heads = 2, .prefix = "layer0."}); },
        "no tensor named 'layer0.out_proj.weight'");
    add("mha in_proj rows", [&] {
        auto d = mha_dict();
        d["in_proj_weight"] = {25, 8};
        load_mha_weights(ctx, st_file("rows.safetensors", d), {.heads = 2});
    }, "tensor 'in_proj_weight' has 25 rows, not a multiple of heads + 2 kv_heads = 6");
    add("mha embed dim not divisible by heads", [&] {
        load_mha_weights(ctx, st_file("sep.safetensors", {{"q_proj_weight", {8, 8}}, {"k_proj_weight", {8, 8}}, {"v_proj_weight", {8, 8}},
                                                          {"out_proj.weight", {8, 8}}}),
                         {.heads = 3});
    }, "tensor 'q_proj_weight' has 8 rows, not a multiple of heads = 3");
    add("mha in_proj columns", [&] {
        auto d = mha_dict();
        d["in_proj_weight"] = {24, 6};
        load_mha_weights(ctx, st_file("cols.safetensors", d), {.heads = 2});
    }, "tensor 'in_proj_weight' has 6 columns; embed_dim (out_proj.weight rows) is 8");
    add("mha out_proj shape", [&] {
        auto d = mha_dict();
        d["out_proj.weight"] = {8, 6};
        load_mha_weights(ctx, st_file("out.safetensors", d), {.heads = 2});
    }, "tensor 'out_proj.weight' must be [embed_dim, heads * head_dim] = [8, 8], has shape [8, 6]");
    add("mha in_proj_bias shape", [&] {
        auto d = mha_dict();
        d["in_proj_bias"] = {8};
        load_mha_weights(ctx, st_file("bias.safetensors", d), {.heads = 2});
    }, "tensor 'in_proj_bias' must be [24], has shape [8]");
    add("mha out_proj rank 1", [&] {
        auto d = mha_dict();
        d["out_proj.weight"] = {64};
        load_mha_weights(ctx, st_file("rank.safetensors", d), {.heads = 2});
    }, "tensor 'out_proj.weight' must have rank 2, has shape [64]");
    add("mha kv_heads", [&] { load_mha_weights(ctx, st_file("kv.safetensors", mha_dict()), {.heads = 4, .kv_heads = 3}); },
        "kv_heads: 3 must be >= 1 and divide heads = 4");
    add("mha zero heads", [&] { load_mha_weights(ctx, st_file("h0.safetensors", mha_dict()), {.heads = 0}); }, "heads: must be >= 1, got 0");
    add("mha integer weights", [&] {
        const std::string json = R"({"in_proj_weight":{"dtype":"I8","shape":[24,8],"data_offsets":[0,192]},)"
                                 R"("out_proj.weight":{"dtype":"I8","shape":[8,8],"data_offsets":[192,256]}})";
        load_mha_weights(ctx, SafeTensors::parse(st_bytes(json, 256), "int8.safetensors"), {.heads = 2});
    }, "int8.safetensors: tensor 'out_proj.weight' has dtype I8; only F32, F16 and BF16 are supported");
    add("mha x_q width", [&] { multi_head_attention(ctx, good_mha(), zeros({1, 3, 6})); }, "x_q: expected [B, Lq, E] with width 8, got shape [1, 3, 6]");
    add("mha x_q dtype", [&] { multi_head_attention(ctx, good_mha(), zeros({1, 3, 8}, DType::f16)); },
        "x_q: dtype f16 does not match the weights' f32");
    add("mha x_k batch", [&] { multi_head_attention(ctx, good_mha(), zeros({2, 3, 8}), zeros({1, 4, 8})); }, "x_k: batch 1 does not match x_q's 2");
    add("mha x_v without x_k", [&] { multi_head_attention(ctx, good_mha(), zeros({2, 3, 8}), std::nullopt, zeros({2, 3, 8})); },
        "x_v: given without x_k");
    add("mha key_lengths", [&] {
        MhaOptions o;
        o.key_lengths = {3, 4};
        multi_head_attention(ctx, good_mha(), zeros({2, 3, 8}), std::nullopt, std::nullopt, o);
    }, "key_lengths[1]: 4 is outside [0, Lk = 3]");

    // ---- .safetensors files ----
    add("safetensors missing file", [] { SafeTensors::open("/nonexistent/vkattn/w.safetensors"); }, "/nonexistent/vkattn/w.safetensors: cannot open",
        ErrorCode::io_error);
    add("safetensors truncated", [] {
        std::vector<uint8_t> b = st_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
        b.resize(b.size() - 6);
        SafeTensors::parse(b, "short.safetensors");
    }, "short.safetensors: tensor 'a': truncated: data_offsets end 16 is past the 10 bytes of data", ErrorCode::io_error);
    add("safetensors short header length", [] { SafeTensors::parse({1, 2, 3}, "tiny.safetensors"); },
        "tiny.safetensors: truncated: 3 bytes, less than the 8-byte header length", ErrorCode::io_error);
    add("safetensors bad JSON", [] { SafeTensors::parse(st_bytes(R"({"a": {"dtype": )", 0), "json.safetensors"); },
        "json.safetensors: header is not valid JSON", ErrorCode::io_error);
    add("safetensors unknown dtype", [] { SafeTensors::parse(st_bytes(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", 1), "q4.safetensors"); },
        "q4.safetensors: tensor 'a': unknown dtype 'Q4'", ErrorCode::io_error);
    add("safetensors dtype size", [] {
        SafeTensors::parse(st_bytes(R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,12]}})", 12), "size.safetensors");
    }, "size.safetensors: tensor 'a': data_offsets cover 12 bytes but shape [3] of F16 needs 6", ErrorCode::io_error);
    add("safetensors overlapping", [] {
        SafeTensors::parse(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                           "overlap.safetensors");
    }, "overlap.safetensors: tensors 'a' and 'b' have overlapping data_offsets", ErrorCode::io_error);
    add("safetensors shape overflow", [] {
        SafeTensors::parse(st_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", 16), "huge.safetensors");
    }, "huge.safetensors: tensor 'a': shape is too large", ErrorCode::io_error);
    add("safetensors unsupported dtype read", [] {
        SafeTensors::parse(st_bytes(R"({"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "i64.safetensors").floats("i");
    }, "i64.safetensors: tensor 'i' has dtype I64; only F32, F16 and BF16 are supported");

    // ---- KV cache: [B 2, Hkv 2, capacity 8, D 16] f32, 5 tokens appended ----
    add("kv zero capacity", [&] { KvCache(ctx, {1, 1, 0, 16}); }, "capacity: must be in [1, 2^31), got 0");
    add("kv dtype option", [&] { KvCache(ctx, {1, 1, 8, 16, 0, DType::u8}); }, "dtype: must be f32, f16, bf16, q8_0 or q4_0, got u8");
    add("kv q8_0 head dim", [&] { KvCache(ctx, {1, 1, 8, 16, 0, DType::q8_0}); },
        "dtype: a q8_0 cache needs head_dim and value_dim multiples of 32 (its block), got 16 and 16");
    add("kv q4_0 append blocks", [&] {
        KvCache c(ctx, {1, 1, 8, 32, 0, DType::q4_0});
        const Tensor rows = ctx.upload(std::vector<float>(32, 0.f), {1, 1, 1, 32}, DType::q4_0);
        c.append(rows, rows);
    }, "k_new: dtype q4_0 cannot be appended to a q4_0 cache (new rows are f32, f16 or bf16; append quantises them)");
    add("kv q8_0 batch append", [&] {
        KvCache c(ctx, {1, 1, 8, 32, 0, DType::q8_0});
        const Tensor rows = ctx.upload(std::vector<float>(32, 0.f), {1, 1, 1, 32});
        Batch b(ctx);
        b.append(c, rows, rows);
    }, "cache: Batch::append copies rows; a q8_0 cache quantises them on the device in KvCache::append only", ErrorCode::unsupported);
    add("kv append beyond capacity", [&] {
        KvCache c = small_cache();
        c.append(zeros({2, 2, 5, 16}), zeros({2, 2, 5, 16}));
    }, "k_new: appending 5 tokens to batch 0 (length 5) exceeds the cache capacity 8");
    add("kv append batch", [&] { small_cache().append(zeros({3, 2, 1, 16}), zeros({3, 2, 1, 16})); },
        "k_new: shape [3, 2, 1, 16] does not match the cache's [2, 2, n, 16]");
    add("kv append heads", [&] { small_cache().append(zeros({2, 2, 1, 16}), zeros({2, 1, 1, 16})); },
        "v_new: shape [2, 1, 1, 16] does not match the cache's [2, 2, n, 16]");
    add("kv append head dim", [&] { small_cache().append(zeros({2, 2, 1, 8}), zeros({2, 2, 1, 16})); },
        "k_new: shape [2, 2, 1, 8] does not match the cache's [2, 2, n, 16]");
    add("kv append dtype", [&] { small_cache().append(zeros({2, 2, 1, 16}, DType::f16), zeros({2, 2, 1, 16})); },
        "k_new: dtype f16 does not match the cache's f32");
    add("kv append rows", [&] { small_cache().append(zeros({2, 2, 2, 16}), zeros({2, 2, 1, 16})); }, "v_new: 1 new rows, but k_new has 2");
    add("kv counts range", [&] {
        const std::vector<int32_t> counts = {1, 3};
        small_cache().append(zeros({2, 2, 2, 16}), zeros({2, 2, 2, 16}), counts);
    }, "counts[1]: 3 is outside [0, n = 2]");
    add("kv set_length range", [&] { small_cache().set_length(1, 6); }, "length: 6 is outside [0, current length 5");
    add("kv set_length batch", [&] { small_cache().set_length(2, 1); }, "batch: 2 is outside [0, 2)");
    add("kv attend q batch", [&] { attend(ctx, zeros({1, 2, 1, 16}), small_cache()); }, "q: batch 1 does not match the cache's 2");
    add("kv attend head dim", [&] { attend(ctx, zeros({2, 2, 1, 8}), small_cache()); }, "k: head dim 16 does not match q's 8");
    add("kv attend Hq % Hkv", [&] { attend(ctx, zeros({2, 3, 1, 16}), small_cache()); }, "q: 3 query heads are not a multiple of k's 2 key/value heads");
    add("kv attend causal", [&] {
        AttentionOptions o;
        o.causal = Causal::top_left;
        attend(ctx, zeros({2, 2, 1, 16}), small_cache(), o);
    }, "causal: attend() is always causal with bottom-right alignment");
    add("kv attend key_lengths", [&] {
        AttentionOptions o;
        o.key_lengths = {1, 1};
        attend(ctx, zeros({2, 2, 1, 16}), small_cache(), o);
    }, "key_lengths: attend() takes them from the cache");
    return list;
}

namespace {

// A correct linear attention (random inputs, against the double reference) on the shared context.
void expect_linear_still_works(std::mt19937_64& gen) {
    HostLinearProblem h;
    h.B = 1, h.Hq = 2, h.Hkv = 1, h.Lq = 10, h.Lk = 10, h.D = 8, h.Dv = 8;
    h.q = random_values(gen, 2 * 10 * 8), h.k = random_values(gen, 10 * 8), h.v = random_values(gen, 10 * 8);
    h.causal = Causal::top_left;
    LinearAttentionOptions o;
    o.causal = h.causal;
    Context& ctx = context();
    const Tensor out = linear_attention(ctx, ctx.upload(h.q, {1, 2, 10, 8}), ctx.upload(h.k, {1, 1, 10, 8}), ctx.upload(h.v, {1, 1, 10, 8}), o);
    const std::vector<float> ref = reference_linear_attention(h);
    const std::string err = compare(out.download<float>(), ref, 1e-5, 1e-5);
    EXPECT_TRUE(err.empty()) << "linear attention after the bad input: " << err;
}

// A correct matmul with bias (the projections of additive, Luong and MHA) on the shared context.
void expect_matmul_still_works(std::mt19937_64& gen) {
    const std::vector<float> a = random_values(gen, 7 * 13), w = random_values(gen, 5 * 13), b = random_values(gen, 5);
    Context& ctx = context();
    const Tensor y = matmul(ctx, ctx.upload(a, {7, 13}), ctx.upload(w, {5, 13}), ctx.upload(b, {5}));
    const std::string err = compare(y.download<float>(), reference_linear(a, 7, 13, w, 5, b), 1e-5, 1e-5);
    EXPECT_TRUE(err.empty()) << "matmul after the bad input: " << err;
}

TEST(Errors, EveryLayerRuleHasAClearMessageAndTheContextStaysUsable) {
    const auto list = layer_bad_inputs();
    EXPECT_GE(list.size(), 60u);
    std::mt19937_64 gen(fresh_seed());
    for (const BadInput& bad : list) {
        SCOPED_TRACE(bad.name);
        expect_bad_input(bad);
        Case c;
        c.B = 1, c.Hq = 2, c.Hkv = 1, c.Lq = 9, c.Lk = 13, c.D = 16;
        const Outcome r = run_case(c, gen());
        EXPECT_TRUE(r.passed) << r.message;
        if (bad.name.rfind("linear", 0) == 0) expect_linear_still_works(gen);
        else expect_matmul_still_works(gen);
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec))
        if (e.path().filename().string().rfind("vkattn_layer_errors_" + std::to_string(::getpid()) + "_", 0) == 0) std::filesystem::remove(e.path(), ec);
}

}  // namespace
}  // namespace vkattn::test
