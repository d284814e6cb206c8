// Multi-head attention layer against the double-precision host reference (projections, per-head
// attention with the foundation's masks, Concat(heads) W_O), loaded from .safetensors files in both
// of nn.MultiheadAttention's layouts, plus the fixture produced by PyTorch itself
// (tests/fixtures/make_mha_fixture.py) and the loader's error messages.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <sstream>

#include "layers_support.hpp"
#include "test_support.hpp"
#include "vkattn/layers_reference.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::test {
namespace {

struct MhaCase {
    int64_t B = 2, Lq = 9, Lk = 9, E = 32, H = 4, Hkv = 4, kdim = 0, vdim = 0;  // kdim/vdim 0: = E
    bool cross = false, packed = true, bias = true, need_weights = false;
    DType dtype = DType::f32;
    Causal causal = Causal::none;
    bool key_lengths = false, mask = false;
    std::string prefix;
    std::string name() const {
        std::ostringstream s;
        s << "B" << B << "_L" << Lq << "x" << (cross ? Lk : Lq) << "_E" << E << "_H" << H << "x" << Hkv << (cross ? "_cross" : "_self")
          << (packed ? "_packed" : "_separate") << (bias ? "" : "_nobias") << "_" << dtype_name(dtype) << "_" << to_string(causal);
        if (kdim) s << "_kdim" << kdim;
        if (key_lengths) s << "_keylen";
        if (mask) s << "_mask";
        if (need_weights) s << "_weights";
        if (!prefix.empty()) s << "_prefix";
        std::string n = s.str();
        for (char& c : n)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    }
};
void PrintTo(const MhaCase& c, std::ostream* os) { *os << c.name(); }

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("vkattn_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

void run_mha_case(const MhaCase& c) {
    Context& ctx = context();
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    HostMhaWeights hw;
    hw.E = c.E, hw.H = c.H, hw.Hkv = c.Hkv, hw.D = c.E / c.H;
    hw.kdim = c.kdim ? c.kdim : c.E, hw.vdim = c.vdim ? c.vdim : c.E;
    const int64_t HD = hw.H * hw.D, KD = hw.Hkv * hw.D;
    const float ws = 1.0f / std::sqrt(static_cast<float>(c.E));
    hw.w_q = stored(random_values(gen, HD * c.E, -ws, ws), c.dtype);
    hw.w_k = stored(random_values(gen, KD * hw.kdim, -ws, ws), c.dtype);
    hw.w_v = stored(random_values(gen, KD * hw.vdim, -ws, ws), c.dtype);
    hw.w_o = stored(random_values(gen, c.E * HD, -ws, ws), c.dtype);
    if (c.bias) {
        hw.b_q = stored(random_values(gen, HD, -0.1f, 0.1f), c.dtype);
        hw.b_k = stored(random_values(gen, KD, -0.1f, 0.1f), c.dtype);
        hw.b_v = stored(random_values(gen, KD, -0.1f, 0.1f), c.dtype);
        hw.b_o = stored(random_values(gen, c.E, -0.1f, 0.1f), c.dtype);
    }
    std::map<std::string, std::pair<Shape, std::vector<float>>> dict;
    const std::string& P = c.prefix;
    if (c.packed) {
        std::vector<float> in = hw.w_q;
        in.insert(in.end(), hw.w_k.begin(), hw.w_k.end());
        in.insert(in.end(), hw.w_v.begin(), hw.w_v.end());
        dict[P + "in_proj_weight"] = {{HD + 2 * KD, c.E}, in};
    } else {
        dict[P + "q_proj_weight"] = {{HD, c.E}, hw.w_q};
        dict[P + "k_proj_weight"] = {{KD, hw.kdim}, hw.w_k};
        dict[P + "v_proj_weight"] = {{KD, hw.vdim}, hw.w_v};
    }
    if (c.bias) {
        std::vector<float> b = hw.b_q;
        b.insert(b.end(), hw.b_k.begin(), hw.b_k.end());
        b.insert(b.end(), hw.b_v.begin(), hw.b_v.end());
        dict[P + "in_proj_bias"] = {{HD + 2 * KD}, b};
        dict[P + "out_proj.bias"] = {{c.E}, hw.b_o};
    }
    dict[P + "out_proj.weight"] = {{c.E, HD}, hw.w_o};
    const std::string path = temp_path(c.name() + ".safetensors");
    write_safetensors(path, dict);
    const MhaWeights w = load_mha_weights(ctx, path, {.heads = c.H, .kv_heads = c.Hkv, .prefix = c.prefix, .dtype = c.dtype});
    std::filesystem::remove(path);

    HostMhaProblem hp;
    hp.B = c.B, hp.Lq = c.Lq, hp.Lk = c.cross ? c.Lk : c.Lq;
    hp.x_q = stored(random_values(gen, c.B * c.Lq * c.E), c.dtype);
    hp.x_k = c.cross ? stored(random_values(gen, c.B * hp.Lk * hw.kdim), c.dtype) : hp.x_q;
    hp.x_v = c.cross && (hw.vdim != hw.kdim || !c.packed) ? stored(random_values(gen, c.B * hp.Lk * hw.vdim), c.dtype) : hp.x_k;
    hp.causal = c.causal;
    MhaOptions o;
    o.causal = c.causal;
    o.need_weights = c.need_weights;
    o.average_weights = false;
    if (c.key_lengths) {
        for (int64_t b = 0; b < c.B; ++b) hp.key_lengths.push_back(static_cast<int32_t>((b * 5 + 3) % (hp.Lk + 1)));
        o.key_lengths = hp.key_lengths;
    }
    if (c.mask) {
        hp.mask_shape = {c.Lq, hp.Lk};
        hp.mask = random_values(gen, c.Lq * hp.Lk, -2.0f, 2.0f);
        for (std::size_t i = 0; i < hp.mask.size(); i += 5) hp.mask[i] = -INFINITY;
        o.mask = ctx.upload(hp.mask, hp.mask_shape);
    }
    const Tensor xq = ctx.upload(hp.x_q, {c.B, c.Lq, c.E}, c.dtype);
    std::optional<Tensor> xk, xv;
    if (c.cross) {
        xk = ctx.upload(hp.x_k, {c.B, hp.Lk, hw.kdim}, c.dtype);
        if (&hp.x_v != &hp.x_k && hp.x_v != hp.x_k) xv = ctx.upload(hp.x_v, {c.B, hp.Lk, hw.vdim}, c.dtype);
    }
    const MhaResult r = multi_head_attention(ctx, w, xq, xk, xv, o);
    const HostMhaResult want = reference_mha(hw, hp, c.need_weights);
    ASSERT_EQ(r.out.shape(), (Shape{c.B, c.Lq, c.E}));
    // f16 rounds the projections, the attention output and the result to half: ~1e-3 relative each.
    const double tol = c.dtype == DType::f16 ? 6e-3 : 2e-5;
    std::string err = compare(r.out.download<float>(), want.out, tol, c.dtype == DType::f16 ? 4e-3 : 1e-5);
    EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": out " << err << " (" << r.variant << ")";
    if (c.need_weights) {
        ASSERT_TRUE(r.weights.has_value());
        err = compare(r.weights->download<float>(), want.weights, c.dtype == DType::f16 ? 4e-3 : 2e-6, 1e-4);
        EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": weights " << err;
    }
}

class MhaSweep : public ::testing::TestWithParam<MhaCase> {};
TEST_P(MhaSweep, MatchesReference) { run_mha_case(GetParam()); }

std::vector<MhaCase> mha_cases() {
    std::vector<MhaCase> v;
    MhaCase c;
    v.push_back(c);  // packed self-attention
    c.dtype = DType::f16;
    v.push_back(c);
    c = {};
    c.causal = Causal::top_left, c.need_weights = true, c.B = 1, c.Lq = 33, c.E = 48, c.H = 3, c.Hkv = 3;
    v.push_back(c);
    c = {};
    c.cross = true, c.Lq = 7, c.Lk = 19, c.key_lengths = true, c.mask = true;
    v.push_back(c);  // packed cross-attention: K and V in one matmul
    c = {};
    c.cross = true, c.packed = false, c.kdim = 24, c.vdim = 40, c.Lq = 5, c.Lk = 70, c.H = 8, c.Hkv = 2, c.E = 64, c.bias = false;
    v.push_back(c);  // separate projections, kdim != vdim != E, grouped kv heads
    c = {};
    c.packed = false, c.H = 4, c.Hkv = 1, c.E = 80, c.Lq = 130, c.causal = Causal::bottom_right, c.dtype = DType::f16, c.prefix = "layer.0.attn.";
    v.push_back(c);
    c = {};
    c.H = 2, c.Hkv = 1, c.E = 20, c.Lq = 3, c.need_weights = true, c.mask = true, c.dtype = DType::f16;
    v.push_back(c);
    return v;
}
INSTANTIATE_TEST_SUITE_P(Layers, MhaSweep, ::testing::ValuesIn(mha_cases()),
                         [](const ::testing::TestParamInfo<MhaCase>& i) { return i.param.name(); });

// The fixture written by tests/fixtures/make_mha_fixture.py with torch.nn.MultiheadAttention.
TEST(Mha, MatchesPyTorchFixture) {
    Context& ctx = context();
    const std::string dir = VKATTN_FIXTURE_DIR;
    for (const std::string& name : {std::string("mha_self"), std::string("mha_cross")}) {
        const NpyArray meta = read_npy(dir + "/" + name + "_meta.npy");  // [heads, causal]
        const std::vector<float> m = meta.to_floats();
        MhaLoadOptions lo;
        lo.heads = static_cast<int64_t>(m.at(0));
        const MhaWeights w = load_mha_weights(ctx, dir + "/" + name + ".safetensors", lo);
        const NpyArray x = read_npy(dir + "/" + name + "_x.npy");
        const Tensor xq = ctx.upload(x.to_floats(), x.shape);
        std::optional<Tensor> xkv;
        if (std::filesystem::exists(dir + "/" + name + "_xkv.npy")) {
            const NpyArray a = read_npy(dir + "/" + name + "_xkv.npy");
            xkv = ctx.upload(a.to_floats(), a.shape);
        }
        MhaOptions o;
        o.causal = m.at(1) != 0 ? Causal::top_left : Causal::none;
        o.need_weights = true;
        const MhaResult r = multi_head_attention(ctx, w, xq, xkv, std::nullopt, o);
        double max_err = 0, max_w = 0;
        const std::string err = compare(r.out.download<float>(), read_npy(dir + "/" + name + "_y.npy").to_floats(), 2e-5, 1e-5, &max_err);
        EXPECT_TRUE(err.empty()) << name << ": " << err;
        const std::string werr = compare(r.weights->download<float>(), read_npy(dir + "/" + name + "_w.npy").to_floats(), 2e-6, 1e-5, &max_w);
        EXPECT_TRUE(werr.empty()) << name << " weights: " << werr;
        std::printf("%s: max |vkattn - torch| out %.3g, averaged weights %.3g\n", name.c_str(), max_err, max_w);
    }
}

void expect_error(const std::function<void()>& f, ErrorCode code, const std::string& part) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.message();
        EXPECT_NE(e.message().find(part), std::string::npos) << e.message();
    }
}

std::string write_bytes(const std::string& name, const std::string& bytes) {
    const std::string path = temp_path(name);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return path;
}

// A file with header `json` (length prefix computed unless `length` is given) and `data` bytes.
std::string st_file(const std::string& json, std::size_t data, int64_t length = -1) {
    std::string s(8, '\0');
    const uint64_t n = length >= 0 ? static_cast<uint64_t>(length) : json.size();
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
    return s + json + std::string(data, '\0');
}

TEST(SafeTensors, MalformedFilesNameTheProblem) {
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    struct Bad {
        std::string bytes, part;
    };
    const std::vector<Bad> bad = {
        {"abc", "truncated: 3 bytes"},
        {st_file(ok, 8, 1000), "truncated: header length 1000"},
        {st_file(ok, 8, int64_t{200} << 20), "exceeds the 100 MiB limit"},
        {st_file("{not json", 0), "header is not valid JSON"},
        {st_file("[1,2]", 0), "header is not a JSON object"},
        {st_file(ok, 4), "tensor 'a': truncated: data_offsets end 8"},
        {st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 12), "tensor 'a': data_offsets cover 8 bytes but shape [3]"},
        {st_file(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8), "tensor 'a': unknown dtype 'Q4'"},
        {st_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "tensor 'a': shape entries must be non-negative"},
        {st_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "tensor 'a': 'data_offsets' must be an array"},
        {st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "tensor 'a': data_offsets [8, 0] are reversed"},
        {st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
         "tensors 'a' and 'b' have overlapping data_offsets"},
    };
    for (const Bad& b : bad) expect_error([&] { SafeTensors::parse({b.bytes.begin(), b.bytes.end()}, "x.safetensors"); }, ErrorCode::io_error, b.part);
    expect_error([&] { SafeTensors::open("/nonexistent/w.safetensors"); }, ErrorCode::io_error, "/nonexistent/w.safetensors: cannot open");

    // F16 and BF16 are widened exactly; unsupported dtypes are listed but not readable.
    std::string json = R"({"__metadata__":{"format":"pt"},"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})";
    std::string bytes = st_file(json, 16);
    const std::size_t d = 8 + json.size();
    bytes[d] = '\x00', bytes[d + 1] = '\x3c';      // f16 1.0
    bytes[d + 2] = '\xc0', bytes[d + 3] = '\x3f';  // bf16 1.5
    const SafeTensors st = SafeTensors::parse({bytes.begin(), bytes.end()}, "y.safetensors");
    EXPECT_EQ(st.floats("h"), std::vector<float>{1.0f});
    EXPECT_EQ(st.floats("b"), std::vector<float>{1.5f});
    EXPECT_EQ(st.metadata().at("format"), "pt");
    expect_error([&] { st.floats("i"); }, ErrorCode::invalid_argument, "tensor 'i' has dtype I64");
    expect_error([&] { st.info("nope"); }, ErrorCode::invalid_argument, "no tensor named 'nope' (has: b, h, i)");
}

TEST(Mha, LoaderAndLayerErrorsNameTheTensor) {
    Context& ctx = context();
    const auto file = [&](const std::map<std::string, std::pair<Shape, std::vector<float>>>& d) {
        const std::string path = temp_path("bad.safetensors");
        write_safetensors(path, d);
        return SafeTensors::open(path);
    };
    const auto zeros = [](int64_t n) { return std::vector<float>(static_cast<std::size_t>(n), 0.01f); };
    const SafeTensors no_out = file({{"in_proj_weight", {{24, 8}, zeros(192)}}});
    expect_error([&] { load_mha_weights(ctx, no_out, {.heads = 2}); }, ErrorCode::invalid_argument, "no tensor named 'out_proj.weight'");
    const SafeTensors no_in = file({{"out_proj.weight", {{8, 8}, zeros(64)}}});
    expect_error([&] { load_mha_weights(ctx, no_in, {.heads = 2}); }, ErrorCode::invalid_argument, "neither 'in_proj_weight' nor 'q_proj_weight'");
    const SafeTensors bad_rows = file({{"in_proj_weight", {{25, 8}, zeros(200)}}, {"out_proj.weight", {{8, 8}, zeros(64)}}});
    expect_error([&] { load_mha_weights(ctx, bad_rows, {.heads = 2}); }, ErrorCode::invalid_argument, "'in_proj_weight' has 25 rows");
    const SafeTensors good = file({{"in_proj_weight", {{24, 8}, zeros(192)}}, {"in_proj_bias", {{23}, zeros(23)}}, {"out_proj.weight", {{8, 8}, zeros(64)}}});
    expect_error([&] { load_mha_weights(ctx, good, {.heads = 2}); }, ErrorCode::invalid_argument, "'in_proj_bias' must be [24]");
    expect_error([&] { load_mha_weights(ctx, good, {.heads = 2, .kv_heads = 3}); }, ErrorCode::invalid_argument, "kv_heads: 3");
    const SafeTensors sep = file({{"q_proj_weight", {{8, 8}, zeros(64)}}, {"k_proj_weight", {{6, 5}, zeros(30)}}, {"v_proj_weight", {{8, 5}, zeros(40)}},
                                  {"out_proj.weight", {{8, 8}, zeros(64)}}});
    expect_error([&] { load_mha_weights(ctx, sep, {.heads = 2}); }, ErrorCode::invalid_argument, "'k_proj_weight' must have kv_heads * head_dim = 8 rows");
    const SafeTensors ok = file({{"in_proj_weight", {{24, 8}, zeros(192)}}, {"out_proj.weight", {{8, 8}, zeros(64)}}});
    const MhaWeights w = load_mha_weights(ctx, ok, {.heads = 2});
    const Tensor x = ctx.upload(zeros(2 * 3 * 8), {2, 3, 8});
    const Tensor x_bad = ctx.upload(zeros(2 * 3 * 7), {2, 3, 7});
    const Tensor x16 = ctx.upload(zeros(2 * 3 * 8), {2, 3, 8}, DType::f16);
    expect_error([&] { multi_head_attention(ctx, w, x_bad); }, ErrorCode::invalid_argument, "x_q: expected [B, Lq, E] with width 8");
    expect_error([&] { multi_head_attention(ctx, w, x16); }, ErrorCode::invalid_argument, "x_q: dtype f16 does not match the weights' f32");
    expect_error([&] { multi_head_attention(ctx, w, x, ctx.upload(zeros(3 * 8), {1, 3, 8})); }, ErrorCode::invalid_argument, "x_k: batch 1");
    expect_error([&] { multi_head_attention(ctx, w, x, std::nullopt, std::nullopt, {.key_lengths = {1}}); }, ErrorCode::invalid_argument, "key_lengths");
    const MhaResult r = multi_head_attention(ctx, w, x);  // and the context still works
    for (float v : r.out.download<float>()) EXPECT_NEAR(v, 0.0f, 1e-3);
}

}  // namespace
}  // namespace vkattn::test
