#include "bench/bench_measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "bench/bench_layers.hpp"
#include "bench/bench_linear.hpp"
#include "bench/bench_sequences.hpp"
#include "cli/cli_common.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Throughput assumed before anything of the kind was measured: low on purpose, so that a slow device
/// skips big cases rather than spending hours on them (the first, smallest cases then set real rates).
constexpr double kPriorRooflineFraction = 0.02;
constexpr double kPriorFlopsPerSecond = 1e9;  // without a measured roofline
constexpr double kPriorCheckFlopsPerSecond = 0.3e9;
constexpr double kGenerateSecondsPerElement = 30e-9;  // normal random numbers + upload

/// Query rows a sampled check compares (evenly spaced, first and last included).
constexpr int64_t kSampledRows = 32;

/// The check of a problem too big for the full host reference: `kSampledRows` query rows of the last
/// head, each against every key (causal visibility carried over as a boolean mask).
Comparison sampled_check(const std::vector<float>& gpu, const GeneratedProblem& g, DType precision) {
    const HostAttentionProblem& p = g.host;
    const int64_t h = p.Hq - 1, kvh = h / (p.Hq / p.Hkv), m = std::min(p.Lq, kSampledRows);
    GeneratedProblem sub;
    HostAttentionProblem& s = sub.host;
    s.B = 1, s.Hq = 1, s.Hkv = 1, s.Lq = m, s.Lk = p.Lk, s.D = p.D, s.Dv = p.Dv;
    s.scale = p.scale;
    const auto slice = [](const std::vector<float>& x, int64_t offset, int64_t count) {
        return std::vector<float>(x.begin() + offset, x.begin() + offset + count);
    };
    s.k = slice(p.k, kvh * p.Lk * p.D, p.Lk * p.D);  // batch 0
    s.v = slice(p.v, kvh * p.Lk * p.Dv, p.Lk * p.Dv);
    std::vector<float> gpu_rows;
    for (int64_t r = 0; r < m; ++r) {
        const int64_t i = m > 1 ? r * (p.Lq - 1) / (m - 1) : 0;
        const std::vector<float> q = slice(p.q, (h * p.Lq + i) * p.D, p.D);
        s.q.insert(s.q.end(), q.begin(), q.end());
        const std::vector<float> o = slice(gpu, (h * p.Lq + i) * p.Dv, p.Dv);
        gpu_rows.insert(gpu_rows.end(), o.begin(), o.end());
        if (p.causal != Causal::none || p.window.active())
            for (int64_t j = 0; j < p.Lk; ++j) s.mask.push_back(reference_key_visible(p, 0, h, i, j, nullptr) ? 1.0f : 0.0f);
    }
    if (p.causal != Causal::none || p.window.active()) {
        s.mask_shape = {m, p.Lk};
        s.mask_is_bool = true;
    }
    return compare_output(gpu_rows, sub, precision);
}

/// One run of a case: softmax attention, or linear attention for the "linear" kind.
struct OneRun {
    Tensor out;
    double gpu_ms = -1;
    std::string variant, path;
    double extra_output_bytes = 0;  ///< lse and weights, when returned
};

OneRun run_once(Context& ctx, const BenchCase& c, const DeviceProblem& d) {
    if (c.spec.linear) {
        const LinearAttentionResult r = run_linear_case(ctx, d);
        return {r.out, r.gpu_milliseconds, r.variant, "linear", 0};
    }
    const AttentionResult r = attention_full(ctx, d.q, d.k, d.v, d.options);
    double extra = 0;
    if (r.lse) extra += static_cast<double>(r.lse->numel()) * 4;
    if (r.weights) extra += static_cast<double>(r.weights->numel()) * 4;
    return {r.out, r.gpu_milliseconds, r.variant, to_string(r.path), extra};
}

}  // namespace

BenchRow measure_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings) {
    if (is_layer_case(c)) return measure_layer_case(ctx, c, settings);
    if (is_sequence_case(c)) return measure_sequence_case(ctx, c, settings);
    const auto start = Clock::now();
    const ProblemSpec& s = c.spec;
    BenchRow row;
    row.bench = c;
    row.flops = attention_flops(s);
    row.bytes = attention_bytes(s);
    const GeneratedProblem g = generate_problem(s, settings.seed);
    const uint64_t held_before = ctx.device_memory_in_use();
    DeviceProblem d = upload_problem(ctx, s, g);
    d.options.measure_time = true;
    const uint64_t inputs = ctx.device_memory_in_use() - held_before;  // q, k, v, mask
    ctx.reset_device_memory_peak();

    // The first call builds the pipelines (when not cached; some drivers compile at the first dispatch,
    // inside the GPU time); its output is the one checked. The second is the warm-up, and its time
    // decides whether the case fits the budget.
    const OneRun first = run_once(ctx, c, d);
    row.variant = first.variant;
    row.path = first.path;
    {
        const double outputs =
            static_cast<double>(first.out.numel()) * static_cast<double>(dtype_size(first.out.dtype())) + first.extra_output_bytes;
        row.peak_memory_bytes = static_cast<double>(ctx.device_memory_peak() - held_before);
        row.in_out_bytes = static_cast<double>(inputs) + outputs;
        row.memory_ratio = row.peak_memory_bytes / row.in_out_bytes;
    }
    const auto t_warm = Clock::now();
    const OneRun warm = run_once(ctx, c, d);
    const double warm_seconds = warm.gpu_ms >= 0 ? warm.gpu_ms * 1e-3 : seconds_since(t_warm);
    row.warmup_ms = warm_seconds * 1e3;
    const double expected = (2 + timed_runs_for(warm_seconds, settings.max_repeats)) * warm_seconds;
    if (settings.budget_seconds > 0 && expected > settings.budget_seconds) {
        row.status = "skipped";
        row.note = "warm-up run took " + format_fixed(warm_seconds, 1) + " s: estimated " + format_fixed(expected, 0) +
                   " s > " + format_fixed(settings.budget_seconds, 0) + " s";
        row.wall_seconds = seconds_since(start);
        return row;
    }
    if (!settings.check) {
        row.check = "off";
    } else {
        // The linear reference follows the definition key by key: as costly as softmax attention's.
        ProblemSpec quadratic = s;
        quadratic.linear = false;
        const bool sampled = attention_flops(quadratic) > kBenchCheckLimitFlops;
        const auto t0 = Clock::now();
        const std::vector<float> out = first.out.download<float>();
        const Comparison cmp = s.linear ? compare_linear_output(out, g, s.dtype, sampled)
                               : sampled ? sampled_check(out, g, s.dtype) : compare_output(out, g, s.dtype);
        if (!sampled) row.check_seconds = seconds_since(t0);
        row.check = std::string(cmp.pass ? "pass" : "FAIL") + (sampled ? " (sampled)" : "");
        row.max_abs_err = cmp.max_abs_err;
        row.check_bound = cmp.bound;
        if (!cmp.pass) row.note = "check failed: " + cmp.why;
    }

    const bool gpu_timer = ctx.device().timestamps && first.gpu_ms >= 0;
    row.timer = gpu_timer ? "gpu" : "host";
    std::vector<double> ms;
    double total = 0;
    while (static_cast<int>(ms.size()) < std::max(settings.max_repeats, kBenchMinRepeats)) {
        const auto t0 = Clock::now();
        const OneRun r = run_once(ctx, c, d);
        const double host_ms = seconds_since(t0) * 1e3;
        if (gpu_timer && r.gpu_ms < 0) throw Error(ErrorCode::vulkan_error, "timestamps stopped working");
        const double t = gpu_timer ? r.gpu_ms : host_ms;
        ms.push_back(t);
        total += t;
        if (static_cast<int>(ms.size()) >= kBenchMinRepeats && total >= kBenchTargetMilliseconds) break;
    }
    summarize_runs(ms, row);
    row.wall_seconds = seconds_since(start);
    return row;
}

void summarize_runs(std::vector<double> ms, BenchRow& row) {
    std::sort(ms.begin(), ms.end());
    const std::size_t n = ms.size();
    row.repeats = static_cast<int>(n);
    row.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    row.min_ms = ms.front();
    row.max_ms = ms.back();
    if (row.median_ms > 0) {
        row.gflops = row.flops / (row.median_ms * 1e6);
        row.gbps = row.bytes / (row.median_ms * 1e6);
    }
}

double timed_runs_for(double run_seconds, int max_repeats) {
    return std::clamp(std::ceil(kBenchTargetMilliseconds * 1e-3 / std::max(run_seconds, 1e-9)), double(kBenchMinRepeats),
                      double(std::max(max_repeats, kBenchMinRepeats)));
}

void BenchEstimator::keep_largest(std::map<std::string, Rate>& m, const std::string& key, Rate r) {
    auto it = m.find(key);
    if (it == m.end() || r.flops >= it->second.flops) m[key] = r;
}

void BenchEstimator::add(const BenchRow& row) {
    const double ms = row.status == "ok" ? row.median_ms : row.warmup_ms;  // stopped after the warm-up: its time
    if (!(ms > 0)) return;
    const Rate r{row.flops, row.flops / (ms * 1e-3)};
    keep_largest(by_family_, row.bench.family, r);
    keep_largest(by_kind_, row.bench.kind, r);
    if (row.check_seconds > 0.05) check_flops_per_second_ = row.flops / row.check_seconds;  // short ones are noise
}

double BenchEstimator::estimate_seconds(const BenchCase& c, const MeasureSettings& settings) const {
    const ProblemSpec& s = c.spec;
    const double flops = case_flops(c);
    const double intensity = flops / case_bytes(c);
    const double roof = std::min(roofline_.fp32_gflops, intensity * roofline_.copy_gbps) * 1e9;
    // Layers (matmul, mha) are dense and compute bound: 10% of the peak (the matmul measured 13-23% on lavapipe).
    const double prior_fraction = is_layer_case(c) ? 0.1 : kPriorRooflineFraction;
    double rate = std::isfinite(roof) && roof > 0 ? prior_fraction * roof : kPriorFlopsPerSecond;
    if (auto f = by_family_.find(c.family); f != by_family_.end())
        rate = f->second.per_second;
    else if (auto k = by_kind_.find(c.kind); k != by_kind_.end())
        rate = k->second.per_second;
    const double run = flops / rate;
    double seconds = (2 + timed_runs_for(run, settings.max_repeats)) * run;  // checked run, warm-up, timed runs
    if (settings.check && is_layer_case(c)) {  // kSampledRows rows (mha: with the full K, V projections)
        const double E = double(s.Hq * s.D), L = double(s.Lq);  // mha: the K and V projections of every token
        seconds += (c.kind == "matmul" ? 2.0 * kSampledRows * double(c.N * c.K) : 4 * L * E * E) /
                   (check_flops_per_second_ > 0 ? check_flops_per_second_ : kPriorCheckFlopsPerSecond);
    } else if (settings.check) {  // the whole problem, or kSampledRows rows of one head
        const double checked = flops <= kBenchCheckLimitFlops
                                   ? flops
                                   : 2.0 * double(std::min(s.Lq, kSampledRows) * s.Lk * (s.D + s.Dv));
        seconds += checked / (check_flops_per_second_ > 0 ? check_flops_per_second_ : kPriorCheckFlopsPerSecond);
    }
    const double elements = double(s.B) * double(s.Hq * s.Lq * (s.D + s.Dv) + s.Hkv * s.Lk * (s.D + s.Dv));
    return seconds + elements * kGenerateSecondsPerElement;
}

}  // namespace vkattn::cli
