// Additive (Bahdanau) attention and Luong's general score against the double-precision host reference:
// batches, heads (with grouped key/value heads), odd lengths and widths, every mask kind of the
// foundation, f32 and f16, weights from the second pass; and the argument errors.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>

#include "layers_support.hpp"
#include "test_support.hpp"
#include "vkattn/reference.hpp"
#include "vkattn/layers_reference.hpp"

namespace vkattn::test {
namespace {

struct AddCase {
    int64_t B = 2, H = 2, Hkv = 1, Lq = 9, Lk = 13, Dq = 12, Dk = 10, Dv = 16, A = 24;
    DType dtype = DType::f32;
    Causal causal = Causal::none;
    MaskKind mask = MaskKind::none;
    bool key_lengths = false, weights = false, bias = true;
    std::string name() const {
        std::ostringstream s;
        s << "B" << B << "_H" << H << "x" << Hkv << "_L" << Lq << "x" << Lk << "_D" << Dq << "_" << Dk << "_" << Dv << "_A" << A << "_"
          << dtype_name(dtype) << "_" << to_string(causal) << "_" << to_string(mask) << (key_lengths ? "_keylen" : "")
          << (weights ? "_weights" : "") << (bias ? "" : "_nobias");
        std::string n = s.str();
        for (char& c : n)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    }
};
void PrintTo(const AddCase& c, std::ostream* os) { *os << c.name(); }

void run_additive_case(const AddCase& c) {
    Context& ctx = context();
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    HostAdditiveProblem hp;
    HostAttentionProblem& s = hp.shape;
    s.B = c.B, s.Hq = c.H, s.Hkv = c.Hkv, s.Lq = c.Lq, s.Lk = c.Lk, s.D = c.A, s.Dv = c.Dv, s.causal = c.causal;
    hp.Dq = c.Dq, hp.Dk = c.Dk, hp.A = c.A;
    hp.q = stored(random_values(gen, c.B * c.H * c.Lq * c.Dq), c.dtype);
    hp.k = stored(random_values(gen, c.B * c.Hkv * c.Lk * c.Dk), c.dtype);
    hp.v = stored(random_values(gen, c.B * c.Hkv * c.Lk * c.Dv), c.dtype);
    hp.w_q = stored(random_values(gen, c.A * c.Dq, -0.5f, 0.5f), c.dtype);
    hp.w_k = stored(random_values(gen, c.A * c.Dk, -0.5f, 0.5f), c.dtype);
    if (c.bias) hp.bias = stored(random_values(gen, c.A, -0.5f, 0.5f), c.dtype);
    hp.v_a = stored(random_values(gen, c.A), c.dtype);
    AdditiveOptions o;
    o.causal = c.causal;
    o.return_weights = c.weights;
    o.return_lse = true;
    if (c.key_lengths) {
        for (int64_t b = 0; b < c.B; ++b) s.key_lengths.push_back(static_cast<int32_t>(b == 0 ? 0 : (b * 7) % (c.Lk + 1)));
        o.key_lengths = s.key_lengths;
    }
    if (c.mask != MaskKind::none) {
        const bool four = c.mask == MaskKind::additive_4d || c.mask == MaskKind::bool_4d;
        const bool boolean = c.mask == MaskKind::bool_2d || c.mask == MaskKind::bool_4d;
        s.mask_shape = four ? Shape{c.B, 1, c.Lq, c.Lk} : Shape{c.Lq, c.Lk};
        const int64_t n = (four ? c.B : 1) * c.Lq * c.Lk;
        s.mask_is_bool = boolean;
        s.mask = random_values(gen, n, -2.0f, 2.0f);
        for (std::size_t i = 0; i < s.mask.size(); ++i) {
            if (boolean) s.mask[i] = (i % 3 != 0) ? 1.0f : 0.0f;
            else if (i % 4 == 0) s.mask[i] = -INFINITY;
        }
        if (boolean) {
            std::vector<uint8_t> bytes(s.mask.begin(), s.mask.end());
            o.mask = ctx.upload_raw(bytes.data(), bytes.size(), s.mask_shape, DType::u8);
        } else {
            o.mask = ctx.upload(s.mask, s.mask_shape, c.dtype);
            s.mask = stored(s.mask, c.dtype);
        }
    }
    AdditiveWeights w;
    w.w_q = ctx.upload(hp.w_q, {c.A, c.Dq}, c.dtype);
    w.w_k = ctx.upload(hp.w_k, {c.A, c.Dk}, c.dtype);
    if (c.bias) w.bias = ctx.upload(hp.bias, {c.A}, c.dtype);
    w.v_a = ctx.upload(hp.v_a, {c.A}, c.dtype);
    const AttentionResult r = additive_attention(ctx, ctx.upload(hp.q, {c.B, c.H, c.Lq, c.Dq}, c.dtype),
                                                 ctx.upload(hp.k, {c.B, c.Hkv, c.Lk, c.Dk}, c.dtype),
                                                 ctx.upload(hp.v, {c.B, c.Hkv, c.Lk, c.Dv}, c.dtype), w, o);
    // The kernel sees the projections rounded to the storage dtype: f16 adds ~1e-3 relative to each
    // tanh argument, which the sum over A carries into the scores.
    const HostAttentionResult want = reference_additive(hp, c.weights);
    const double tol = c.dtype == DType::f16 ? 2e-2 : 2e-5;
    std::string err = compare(r.out.download<float>(), want.out, tol, c.dtype == DType::f16 ? 1e-2 : 1e-5);
    EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": out " << err << " (" << r.variant << ")";
    err = compare(r.lse->download<float>(), want.lse, tol, 1e-5);
    EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": lse " << err;
    if (c.weights) {
        err = compare(r.weights->download<float>(), want.weights, c.dtype == DType::f16 ? 1e-2 : 2e-6, 1e-4);
        EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": weights " << err;
    }
}

class AdditiveSweep : public ::testing::TestWithParam<AddCase> {};
TEST_P(AdditiveSweep, MatchesReference) { run_additive_case(GetParam()); }

std::vector<AddCase> additive_cases() {
    std::vector<AddCase> v;
    AddCase c;
    v.push_back(c);
    c.dtype = DType::f16, c.weights = true;
    v.push_back(c);
    c = {};
    c.B = 1, c.H = 1, c.Hkv = 1, c.Lq = 1, c.Lk = 1, c.Dq = 1, c.Dk = 1, c.Dv = 1, c.A = 1;
    v.push_back(c);
    c = {};
    c.Lq = 70, c.Lk = 67, c.causal = Causal::top_left, c.weights = true, c.A = 40, c.Dv = 33;
    v.push_back(c);
    c = {};
    c.Lq = 5, c.Lk = 100, c.causal = Causal::bottom_right, c.key_lengths = true, c.mask = MaskKind::additive_2d, c.bias = false;
    v.push_back(c);
    c = {};
    c.H = 4, c.Hkv = 2, c.mask = MaskKind::bool_4d, c.weights = true, c.key_lengths = true;
    v.push_back(c);
    c = {};
    c.mask = MaskKind::additive_4d, c.dtype = DType::f16, c.A = 64, c.Dv = 64, c.Lk = 41;
    v.push_back(c);
    c = {};
    c.mask = MaskKind::bool_2d, c.Lq = 130, c.Lk = 33, c.H = 3, c.Hkv = 3;
    v.push_back(c);
    // Wide rows (the kernel walks A and Dv in chunks of 64 at run time): widths that are and are not
    // multiples of the chunk and of 4, odd lengths that leave partial key blocks (32) and partial row
    // groups (256 rows on CPU devices, 64 elsewhere), every mask kind, f32 and f16, weights.
    c = {};
    c.Lq = 37, c.Lk = 70, c.A = 96, c.Dv = 80, c.mask = MaskKind::bool_2d, c.weights = true;
    v.push_back(c);
    c = {};
    c.Lq = 33, c.Lk = 41, c.A = 128, c.Dv = 128, c.dtype = DType::f16, c.mask = MaskKind::additive_4d, c.causal = Causal::bottom_right,
    c.key_lengths = true;
    v.push_back(c);
    c = {};
    c.B = 1, c.H = 2, c.Hkv = 2, c.Lq = 29, c.Lk = 97, c.A = 256, c.Dv = 256, c.causal = Causal::top_left, c.weights = true, c.Dq = 40, c.Dk = 36;
    v.push_back(c);
    c = {};
    c.Lq = 21, c.Lk = 35, c.A = 256, c.Dv = 80, c.dtype = DType::f16, c.mask = MaskKind::bool_4d, c.weights = true, c.bias = false;
    v.push_back(c);
    c = {};
    c.B = 1, c.Lq = 300, c.Lk = 45, c.A = 128, c.Dv = 256, c.mask = MaskKind::additive_2d, c.key_lengths = true, c.H = 2, c.Hkv = 2;
    v.push_back(c);
    c = {};
    c.Lq = 19, c.Lk = 66, c.A = 200, c.Dv = 130, c.dtype = DType::f16, c.causal = Causal::bottom_right;
    v.push_back(c);
    c = {};
    c.B = 1, c.H = 1, c.Hkv = 1, c.Lq = 11, c.Lk = 37, c.A = 512, c.Dv = 512, c.Dq = 6, c.Dk = 7, c.weights = true;  // the maximum
    v.push_back(c);
    return v;
}
INSTANTIATE_TEST_SUITE_P(Shapes, AdditiveSweep, ::testing::ValuesIn(additive_cases()),
                         [](const ::testing::TestParamInfo<AddCase>& i) { return i.param.name(); });

TEST(Additive, LuongGeneralMatchesDotProductOfProjectedKeys) {
    Context& ctx = context();
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    const int64_t B = 2, H = 2, Lq = 11, Lk = 17, Dq = 24, Dk = 20, Dv = 8;
    const std::vector<float> q = random_values(gen, B * H * Lq * Dq), k = random_values(gen, B * H * Lk * Dk),
                             v = random_values(gen, B * H * Lk * Dv), w = random_values(gen, Dq * Dk, -0.3f, 0.3f);
    AttentionOptions o;
    o.causal = Causal::bottom_right;
    const AttentionResult r = luong_general_attention(ctx, ctx.upload(q, {B, H, Lq, Dq}), ctx.upload(k, {B, H, Lk, Dk}),
                                                      ctx.upload(v, {B, H, Lk, Dv}), ctx.upload(w, {Dq, Dk}), o);
    HostAttentionProblem p;
    p.B = B, p.Hq = H, p.Hkv = H, p.Lq = Lq, p.Lk = Lk, p.D = Dq, p.Dv = Dv, p.scale = 1.0f, p.causal = o.causal;
    p.q = q, p.k = reference_linear(k, B * H * Lk, Dk, w, Dq, {}), p.v = v;
    const std::string err = compare(r.out.download<float>(), reference_attention(p).out, 3e-5, 1e-5);
    EXPECT_TRUE(err.empty()) << "seed " << seed << ": " << err << " (" << r.variant << ")";
}

// v_a as a view that starts mid-buffer (element 3: mid-word in f16) is read from its first element,
// in place: bitwise the result of a contiguous copy, and the output written into `out` when given.
TEST(Additive, VaViewFromAnyElementEqualsContiguousAndOutIsWritten) {
    Context& ctx = context();
    std::mt19937_64 gen(77);
    for (DType dt : {DType::f32, DType::f16}) {
        const auto t = [&](const Shape& s, float scale = 1.0f) {
            int64_t n = 1;
            for (int64_t d : s) n *= d;
            std::vector<float> h = random_values(gen, n);
            for (float& x : h) x *= scale;
            return ctx.upload(h, s, dt);
        };
        const Tensor q = t({1, 2, 6, 8}), k = t({1, 2, 11, 8}), v = t({1, 2, 11, 5});
        std::vector<float> va = random_values(gen, 3 + 12);
        const Tensor va_storage = ctx.upload(va, {15}, dt);
        AdditiveWeights view{t({12, 8}, 0.3f), t({12, 8}, 0.3f), va_storage.view({12}, {1}, 3), std::nullopt};
        AdditiveWeights copy = view;
        copy.v_a = ctx.upload(std::vector<float>(va.begin() + 3, va.end()), {12}, dt);
        const std::vector<float> want = additive_attention(ctx, q, k, v, copy).out.download<float>();
        EXPECT_EQ(additive_attention(ctx, q, k, v, view).out.download<float>(), want) << dtype_name(dt) << ": v_a view from element 3";
        AdditiveOptions o;
        o.out = ctx.empty({1, 2, 6, 5}, dt);
        additive_attention(ctx, q, k, v, view, o);
        EXPECT_EQ(o.out->download<float>(), want) << dtype_name(dt) << ": options.out";
    }
}

TEST(Additive, BadArgumentsNameTheArgument) {
    Context& ctx = context();
    const auto t = [&](const Shape& s, DType dt = DType::f32) {
        int64_t n = 1;
        for (int64_t d : s) n *= d;
        return ctx.upload(std::vector<float>(static_cast<std::size_t>(n), 0.1f), s, dt);
    };
    const Tensor q = t({2, 2, 3, 4}), k = t({2, 1, 5, 6}), v = t({2, 1, 5, 7});
    AdditiveWeights w{t({8, 4}), t({8, 6}), t({8}), std::nullopt};
    const auto expect = [&](const std::function<void()>& f, const std::string& part) {
        try {
            f();
            ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
            EXPECT_NE(e.message().find(part), std::string::npos) << e.message();
        }
    };
    AdditiveWeights bad = w;
    bad.w_k = t({8, 5});
    expect([&] { additive_attention(ctx, q, k, v, bad); }, "w_k: shape [8, 5] must be [8, 6]");
    bad = w, bad.v_a = t({7});
    expect([&] { additive_attention(ctx, q, k, v, bad); }, "v_a: shape [7] must be [8]");
    bad = w, bad.bias = t({8}, DType::f16);
    expect([&] { additive_attention(ctx, q, k, v, bad); }, "bias: dtype f16 does not match q's f32");
    expect([&] { additive_attention(ctx, t({2, 3, 4}), k, v, w); }, "q: expected rank 4");
    expect([&] { additive_attention(ctx, q, k, t({2, 1, 4, 7}), w); }, "v: 4 keys do not match k's 5");
    AdditiveOptions o;
    o.key_lengths = {1, 9};
    expect([&] { additive_attention(ctx, q, k, v, w, o); }, "key_lengths[1]: 9 is outside [0, Lk = 5]");
    o = {};
    o.mask = t({3, 4});
    expect([&] { additive_attention(ctx, q, k, v, w, o); }, "mask: shape [3, 4] must be");
    expect([&] { luong_general_attention(ctx, q, k, v, t({4, 5})); }, "w: shape [4, 5] must be [4, 6]");
    // Widths past the supported maximum (512) are refused, naming the argument.
    const auto expect_unsupported = [&](const std::function<void()>& f, const std::string& part) {
        try {
            f();
            ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::unsupported);
            EXPECT_NE(e.message().find(part), std::string::npos) << e.message();
        }
    };
    const AdditiveWeights wide{t({513, 4}), t({513, 6}), t({513}), std::nullopt};
    expect_unsupported([&] { additive_attention(ctx, q, k, v, wide); }, "w_q: attention width A = 513 exceeds the supported maximum 512");
    expect_unsupported([&] { additive_attention(ctx, q, k, t({2, 1, 5, 513}), w); }, "v: value width Dv = 513 exceeds the supported maximum 512");
    const AttentionResult r = additive_attention(ctx, q, k, v, w);  // the context still works
    for (float x : r.out.download<float>()) EXPECT_NEAR(x, 0.1f, 1e-6);
}

}  // namespace
}  // namespace vkattn::test
