// vkattn::matmul against the double-precision host reference: odd and tile-multiple sizes, batched
// and strided A (transposed views, concatenated-head views), W as [N, K] or [K, N], with and without
// bias, f32 / f16 storage and output. Outputs are NaN-poisoned (the shared context poisons every
// allocation), so an element a kernel fails to write fails the comparison.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>

#include "layers_support.hpp"
#include "test_support.hpp"
#include "vkattn/layers_reference.hpp"

namespace vkattn::test {
namespace {

struct MatmulCase {
    int64_t B1 = 0, B2 = 0, M = 1, K = 1, N = 1;  // B1 / B2 = 0: that batch dim is absent
    DType dtype = DType::f32;
    std::optional<DType> out_dtype;
    bool transpose_w = true;
    bool bias = true;
    bool a_transposed = false;  // A stored as [.., K, M] and viewed as [.., M, K]
    std::string name() const {
        std::ostringstream s;
        if (B1) s << "B" << B1 << "_";
        if (B2) s << "b" << B2 << "_";
        s << "M" << M << "_K" << K << "_N" << N << "_" << dtype_name(dtype);
        if (out_dtype) s << "_to" << dtype_name(*out_dtype);
        s << (transpose_w ? "_wNK" : "_wKN") << (bias ? "_bias" : "_nobias") << (a_transposed ? "_aT" : "");
        return s.str();
    }
};
void PrintTo(const MatmulCase& c, std::ostream* os) { *os << c.name(); }

void run_matmul_case(const MatmulCase& c) {
    Context& ctx = context();
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    const int64_t batches = std::max<int64_t>(c.B1, 1) * std::max<int64_t>(c.B2, 1);
    const std::vector<float> a = stored(random_values(gen, batches * c.M * c.K), c.dtype);  // logical [batches, M, K]
    const std::vector<float> w = stored(random_values(gen, c.N * c.K), c.dtype);            // logical [N, K]
    const std::vector<float> bias = c.bias ? stored(random_values(gen, c.N), c.dtype) : std::vector<float>{};

    Shape lead;
    if (c.B1) lead.push_back(c.B1);
    if (c.B2) lead.push_back(c.B2);
    Tensor ta;
    if (c.a_transposed) {
        std::vector<float> at(a.size());
        for (int64_t b = 0; b < batches; ++b)
            for (int64_t m = 0; m < c.M; ++m)
                for (int64_t k = 0; k < c.K; ++k) at[static_cast<std::size_t>((b * c.K + k) * c.M + m)] = a[static_cast<std::size_t>((b * c.M + m) * c.K + k)];
        Shape s = lead;
        s.push_back(c.K), s.push_back(c.M);
        ta = ctx.upload(at, s, c.dtype).transposed(-1, -2);
    } else {
        Shape s = lead;
        s.push_back(c.M), s.push_back(c.K);
        ta = ctx.upload(a, s, c.dtype);
    }
    Tensor tw;
    if (c.transpose_w) {
        tw = ctx.upload(w, {c.N, c.K}, c.dtype);
    } else {
        std::vector<float> wt(w.size());
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t k = 0; k < c.K; ++k) wt[static_cast<std::size_t>(k * c.N + n)] = w[static_cast<std::size_t>(n * c.K + k)];
        tw = ctx.upload(wt, {c.K, c.N}, c.dtype);
    }
    std::optional<Tensor> tb;
    if (c.bias) tb = ctx.upload(bias, {c.N}, c.dtype);
    MatmulOptions o;
    o.transpose_w = c.transpose_w;
    o.out_dtype = c.out_dtype;
    const MatmulResult r = matmul_full(ctx, ta, tw, tb, o);
    Shape want_shape = lead;
    want_shape.push_back(c.M), want_shape.push_back(c.N);
    ASSERT_EQ(r.out.shape(), want_shape);
    ASSERT_EQ(r.out.dtype(), c.out_dtype.value_or(c.dtype));
    const std::vector<float> want = reference_linear(a, batches * c.M, c.K, w, c.N, bias);
    const bool f16_out = r.out.dtype() == DType::f16;
    // f32 accumulation of K products of |x| <= 1; f16 output adds half an ulp of half precision.
    const std::string err = compare(r.out.download<float>(), want, 2e-6 * c.K + 1e-5, f16_out ? 1.0 / 1024 : 1e-6);
    EXPECT_TRUE(err.empty()) << c.name() << " seed " << seed << ": " << err << " (" << r.variant << ")";
}

class MatmulSweep : public ::testing::TestWithParam<MatmulCase> {};
TEST_P(MatmulSweep, MatchesReference) { run_matmul_case(GetParam()); }

std::vector<MatmulCase> matmul_cases() {
    std::vector<MatmulCase> cases;
    // (M, K, N): single elements, odd sizes around the 64-wide tiles, K spanning several K blocks;
    // 531 rows: three workgroups of 256 rows on CPU devices, the last partly past M; N = 70 and 129: the
    // second of a workgroup's two W blocks partial or absent; K = 300: two full 128-value K blocks and
    // a partial one.
    const std::vector<std::array<int64_t, 3>> sizes = {{1, 1, 1},    {7, 13, 5},   {64, 64, 64},  {65, 63, 129}, {130, 200, 67},
                                                       {129, 16, 8}, {3, 257, 96}, {200, 96, 33}, {31, 130, 130}, {531, 300, 70}};
    int idx = 0;
    for (auto [m, k, n] : sizes) {
        MatmulCase c;
        c.M = m, c.K = k, c.N = n;
        c.dtype = idx % 2 ? DType::f16 : DType::f32;
        c.transpose_w = idx % 3 != 1;
        c.bias = idx % 4 != 2;
        c.a_transposed = idx % 3 == 2;
        if (idx % 2 == 0) c.B2 = 1 + idx % 3;
        if (idx == 4) c.B1 = 2, c.B2 = 3;
        if (idx == 5) c.out_dtype = DType::f32;
        if (idx == 6) c.out_dtype = DType::f16;
        cases.push_back(c);
        ++idx;
    }
    return cases;
}
INSTANTIATE_TEST_SUITE_P(Shapes, MatmulSweep, ::testing::ValuesIn(matmul_cases()),
                         [](const ::testing::TestParamInfo<MatmulCase>& i) { return i.param.name(); });

TEST(Matmul, BadArgumentsNameTheArgument) {
    Context& ctx = context();
    const Tensor a = ctx.upload(std::vector<float>(12, 1.0f), {3, 4});
    const Tensor w = ctx.upload(std::vector<float>(20, 1.0f), {5, 4});
    const Tensor w16 = ctx.upload(std::vector<float>(20, 1.0f), {5, 4}, DType::f16);
    const Tensor b = ctx.upload(std::vector<float>(5, 1.0f), {5});
    const Tensor b_bad = ctx.upload(std::vector<float>(4, 1.0f), {4});
    const Tensor i32 = ctx.upload_raw(std::vector<int32_t>(12, 1).data(), 48, {3, 4}, DType::i32);
    const auto expect = [&](const std::function<void()>& f, const std::string& part) {
        try {
            f();
            ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
            EXPECT_NE(e.message().find(part), std::string::npos) << e.message();
        }
    };
    expect([&] { matmul(ctx, Tensor(), w); }, "a: tensor is empty");
    const Tensor w_kn = ctx.upload(std::vector<float>(20, 1.0f), {4, 5});
    expect([&] { matmul(ctx, a, w_kn); }, "w: shape [4, 5] does not match a's K = 4");
    expect([&] { matmul(ctx, a, w, std::nullopt, {.transpose_w = false}); }, "w: shape [5, 4] does not match a's K = 4");
    expect([&] { matmul(ctx, a, w16); }, "w: dtype f16 does not match a's f32");
    expect([&] { matmul(ctx, a, w, b_bad); }, "bias: shape [4] must be [N] = [5]");
    expect([&] { matmul(ctx, i32, w); }, "a: dtype i32 is not supported");
    expect([&] { matmul(ctx, b, w); }, "a: expected rank 2, 3 or 4");
    expect([&] { matmul(ctx, a, b); }, "w: expected rank 2");
    // The context still computes correctly afterwards.
    const std::vector<float> y = matmul(ctx, a, w, b).download<float>();
    for (float v : y) EXPECT_EQ(v, 5.0f);
}

}  // namespace
}  // namespace vkattn::test
