#include "bench/bench_layers.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>

#include "cli/cli_common.hpp"
#include "vkattn/layers_reference.hpp"

namespace vkattn::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Rows of the output the check compares with the host reference (evenly spaced, first and last included).
constexpr int64_t kCheckedRows = 32;

std::vector<float> uniform_values(std::mt19937_64& gen, int64_t n, float scale) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = d(gen);
    return v;
}

std::vector<int64_t> checked_rows(int64_t rows) {
    const int64_t m = std::min(rows, kCheckedRows);
    std::vector<int64_t> r;
    for (int64_t i = 0; i < m; ++i) r.push_back(m > 1 ? i * (rows - 1) / (m - 1) : 0);
    return r;
}

std::vector<float> gather_rows(const std::vector<float>& x, const std::vector<int64_t>& rows, int64_t width) {
    std::vector<float> out;
    for (int64_t r : rows) out.insert(out.end(), x.begin() + r * width, x.begin() + (r + 1) * width);
    return out;
}

/// got against want: |got - want| <= abs_bound + rel * |want| everywhere, NaN never passes.
void compare_rows(BenchRow& row, const std::vector<float>& got, const std::vector<float>& want, double abs_bound, double rel) {
    double worst = 0, excess = 0;
    int64_t nonfinite = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (!std::isfinite(got[i])) {
            ++nonfinite;
            continue;
        }
        const double e = std::fabs(double(got[i]) - want[i]);
        worst = std::max(worst, e);
        excess = std::max(excess, e - (abs_bound + rel * std::fabs(double(want[i]))));
    }
    const bool pass = got.size() == want.size() && nonfinite == 0 && excess <= 0;
    row.check = std::string(pass ? "pass" : "FAIL") + " (sampled)";
    row.max_abs_err = worst;
    row.check_bound = abs_bound;
    if (!pass)
        row.note = "check failed: " + (nonfinite ? std::to_string(nonfinite) + " non-finite output element(s)"
                                                  : "max abs error " + format_sci(worst) + " over the bound");
}

}  // namespace

// The timed part shared by the layer kinds and the sequence rows: `run` returns (GPU ms, variant) of one call.
void time_runs(BenchRow& row, const MeasureSettings& settings, const std::function<std::pair<double, std::string>()>& run,
               std::chrono::steady_clock::time_point start) {
    const auto t_warm = Clock::now();
    const auto warm = run();
    const double warm_seconds = warm.first >= 0 ? warm.first * 1e-3 : seconds_since(t_warm);
    row.warmup_ms = warm_seconds * 1e3;
    const double expected = (2 + timed_runs_for(warm_seconds, settings.max_repeats)) * warm_seconds;
    if (settings.budget_seconds > 0 && expected > settings.budget_seconds) {
        row.status = "skipped";
        row.note = "warm-up run took " + format_fixed(warm_seconds, 1) + " s: estimated " + format_fixed(expected, 0) + " s > " +
                   format_fixed(settings.budget_seconds, 0) + " s";
        row.wall_seconds = seconds_since(start);
        return;
    }
    const bool gpu_timer = warm.first >= 0;
    row.timer = gpu_timer ? "gpu" : "host";
    std::vector<double> ms;
    double total = 0;
    while (static_cast<int>(ms.size()) < std::max(settings.max_repeats, kBenchMinRepeats)) {
        const auto t0 = Clock::now();
        const auto r = run();
        const double t = gpu_timer ? r.first : seconds_since(t0) * 1e3;
        if (gpu_timer && r.first < 0) throw Error(ErrorCode::vulkan_error, "timestamps stopped working");
        ms.push_back(t);
        total += t;
        if (static_cast<int>(ms.size()) >= kBenchMinRepeats && total >= kBenchTargetMilliseconds) break;
    }
    summarize_runs(ms, row);
    row.wall_seconds = seconds_since(start);
}

namespace {

void measure_matmul(Context& ctx, const BenchCase& c, const MeasureSettings& settings, BenchRow& row, Clock::time_point start) {
    std::mt19937_64 gen(settings.seed);
    const Tensor a = ctx.upload(uniform_values(gen, c.M * c.K, 1.0f), {c.M, c.K}, c.spec.dtype);
    const Tensor w = ctx.upload(uniform_values(gen, c.N * c.K, 1.0f), {c.N, c.K}, c.spec.dtype);
    const Tensor bias = ctx.upload(uniform_values(gen, c.N, 1.0f), {c.N}, c.spec.dtype);
    MatmulOptions o;
    o.measure_time = true;
    const auto run = [&]() {
        const MatmulResult r = matmul_full(ctx, a, w, bias, o);
        return std::pair<double, std::string>{r.gpu_milliseconds, r.variant};
    };
    const MatmulResult first = matmul_full(ctx, a, w, bias, o);
    row.variant = first.variant;
    row.path = "matmul";
    if (settings.check) {
        // The stored values (f16 rounding included) against the double-precision reference on sampled rows.
        const std::vector<int64_t> rows = checked_rows(c.M);
        const std::vector<float> want =
            reference_linear(gather_rows(a.download<float>(), rows, c.K), int64_t(rows.size()), c.K, w.download<float>(), c.N,
                             bias.download<float>());
        // f32 accumulation of K products of |x| <= 1 (the tests' bound); f16 output adds half an ulp.
        compare_rows(row, gather_rows(first.out.download<float>(), rows, c.N), want, 2e-6 * double(c.K) + 1e-5,
                     c.spec.dtype == DType::f16 ? 1.0 / 1024 : 1e-6);
    }
    time_runs(row, settings, run, start);
}

void measure_mha(Context& ctx, const BenchCase& c, const MeasureSettings& settings, BenchRow& row, Clock::time_point start) {
    const ProblemSpec& s = c.spec;
    const int64_t E = s.Hq * s.D, L = s.Lq;
    std::mt19937_64 gen(settings.seed);
    // nn.MultiheadAttention's layout: packed in_proj [3E, E] and bias, out_proj [E, E] and bias;
    // weights scaled as its xavier init so activations stay of order 1.
    const float ws = std::sqrt(3.0f / float(E));
    const Tensor x = ctx.upload(uniform_values(gen, s.B * L * E, 1.0f), {s.B, L, E}, s.dtype);
    const Tensor in_w = ctx.upload(uniform_values(gen, 3 * E * E, ws), {3 * E, E}, s.dtype);
    const Tensor in_b = ctx.upload(uniform_values(gen, 3 * E, 0.1f), {3 * E}, s.dtype);
    const Tensor out_w = ctx.upload(uniform_values(gen, E * E, ws), {E, E}, s.dtype);
    const Tensor out_b = ctx.upload(uniform_values(gen, E, 0.1f), {E}, s.dtype);
    MhaWeights w;
    w.embed_dim = E, w.heads = w.kv_heads = s.Hq, w.head_dim = s.D, w.kdim = w.vdim = E;
    const auto rows_of = [](const Tensor& t, int64_t r0, int64_t n) {
        return t.rank() == 1 ? t.view({n}, {1}, t.offset() + r0) : t.view({n, t.dim(1)}, {t.strides()[0], t.strides()[1]}, t.offset() + r0 * t.strides()[0]);
    };
    w.in_proj = in_w, w.in_proj_bias = in_b;
    w.w_q = rows_of(in_w, 0, E), w.w_k = rows_of(in_w, E, E), w.w_v = rows_of(in_w, 2 * E, E);
    w.b_q = rows_of(in_b, 0, E), w.b_k = rows_of(in_b, E, E), w.b_v = rows_of(in_b, 2 * E, E);
    w.w_o = out_w, w.b_o = out_b;
    validate_mha_weights(ctx, w);
    MhaOptions o;
    o.measure_time = true;
    const auto run = [&]() {
        const MhaResult r = multi_head_attention(ctx, w, x, std::nullopt, std::nullopt, o);
        return std::pair<double, std::string>{r.gpu_milliseconds, r.variant};
    };
    const MhaResult first = multi_head_attention(ctx, w, x, std::nullopt, std::nullopt, o);
    row.variant = first.variant;
    row.path = "mha";
    if (settings.check) {
        // Sampled query rows of batch 0 as the queries of a cross-attention over every token.
        HostMhaWeights hw;
        hw.E = E, hw.H = hw.Hkv = s.Hq, hw.D = s.D, hw.kdim = hw.vdim = E;
        const std::vector<float> iw = in_w.download<float>(), ib = in_b.download<float>();
        const auto part = [](const std::vector<float>& v, int64_t i, int64_t n) { return std::vector<float>(v.begin() + i * n, v.begin() + (i + 1) * n); };
        hw.w_q = part(iw, 0, E * E), hw.w_k = part(iw, 1, E * E), hw.w_v = part(iw, 2, E * E);
        hw.b_q = part(ib, 0, E), hw.b_k = part(ib, 1, E), hw.b_v = part(ib, 2, E);
        hw.w_o = out_w.download<float>(), hw.b_o = out_b.download<float>();
        const std::vector<float> xs = x.download<float>();
        const std::vector<float> x0(xs.begin(), xs.begin() + L * E);
        const std::vector<int64_t> rows = checked_rows(L);
        HostMhaProblem hp;
        hp.B = 1, hp.Lq = int64_t(rows.size()), hp.Lk = L;
        hp.x_q = gather_rows(x0, rows, E), hp.x_k = x0, hp.x_v = x0;
        const HostMhaResult want = reference_mha(hw, hp);
        const std::vector<float> got = first.out.download<float>();
        const std::vector<float> got0(got.begin(), got.begin() + L * E);
        // Looser than tests/mha_test.cpp's (2e-5 / 6e-3 at E <= 80): four chained reductions of E = 512 terms.
        const double tol = s.dtype == DType::f16 ? 2e-2 : 1e-4;
        compare_rows(row, gather_rows(got0, rows, E), want.out, tol, tol);
    }
    time_runs(row, settings, run, start);
}

}  // namespace

bool is_layer_case(const BenchCase& c) { return c.kind == "matmul" || c.kind == "mha"; }

double layer_flops(const BenchCase& c) {
    if (c.kind == "matmul") return 2.0 * double(c.M) * double(c.N) * double(c.K);
    const ProblemSpec& s = c.spec;
    const double E = double(s.Hq * s.D), L = double(s.Lq), B = double(s.B);
    return 4 * 2.0 * B * L * E * E + 2 * 2.0 * B * double(s.Hq) * L * L * double(s.D);
}

double layer_bytes(const BenchCase& c) {
    const double es = double(dtype_size(c.spec.dtype));
    if (c.kind == "matmul") return (double(c.M) * double(c.K) + double(c.N) * double(c.K) + double(c.M) * double(c.N)) * es;
    const ProblemSpec& s = c.spec;
    const double E = double(s.Hq * s.D);
    return (2 * double(s.B) * double(s.Lq) * E + 4 * E * E) * es;
}

BenchRow measure_layer_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings) {
    const auto start = Clock::now();
    BenchRow row;
    row.bench = c;
    row.flops = layer_flops(c);
    row.bytes = layer_bytes(c);
    if (c.kind == "matmul")
        measure_matmul(ctx, c, settings, row, start);
    else
        measure_mha(ctx, c, settings, row, start);
    return row;
}

}  // namespace vkattn::cli
