#pragma once
// Running one benchmark case: the reference check, warm-up, GPU-timestamped repeats (median, min, max),
// and the time estimate `vkattn bench` uses to skip cases over its per-case budget.
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_cases.hpp"
#include "vkattn/roofline.hpp"

namespace vkattn::cli {

/// Problems above this many flops are checked on a sample (32 query rows of the last head against every
/// key) instead of whole: the host reference is slow. The row says "pass (sampled)".
constexpr double kBenchCheckLimitFlops = 2e9;
/// Timed runs continue until this much time was measured (and at least kBenchMinRepeats ran).
constexpr double kBenchTargetMilliseconds = 200;
constexpr int kBenchMinRepeats = 3;

struct MeasureSettings {
    int max_repeats = 100;
    bool check = true;
    uint64_t seed = 0;
    /// When > 0: after the warm-up run, a case whose runs would take longer than this (judged by that
    /// run's time) stops there and is reported as skipped, with the warm-up's time in the note.
    double budget_seconds = 0;
};

/// Timed runs a case gets when one run takes `run_seconds` (the loop of measure_case).
double timed_runs_for(double run_seconds, int max_repeats);

/// The measured result of one case (or why there is none).
struct BenchRow {
    BenchCase bench;
    std::string status = "ok";  ///< "ok", "skipped" (over budget), "error", "not run" (device lost earlier)
    std::string note;           ///< why skipped / the error message
    std::string variant, path;
    std::string timer;          ///< "gpu" (timestamps) or "host" (wall clock: the device has no timestamps)
    int repeats = 0;
    double median_ms = nan(), min_ms = nan(), max_ms = nan();
    double flops = 0, bytes = 0;          ///< per run (exact visible-pair count for causal)
    double gflops = nan(), gbps = nan();  ///< at the median time
    std::string check = "off";            ///< "pass", "FAIL", "pass (sampled)", "FAIL (sampled)" or "off"
    double max_abs_err = nan(), check_bound = nan();
    double estimated_seconds = nan();     ///< the estimate made before running (or skipping) it
    double wall_seconds = nan();          ///< what the case took, checks and pipeline builds included
    double check_seconds = nan();         ///< host time of the reference check, when it ran
    double warmup_ms = nan();             ///< the warm-up run; only feeds the time estimates
    double peak_memory_bytes = nan();     ///< most device memory held during the first run (inputs included)
    double in_out_bytes = nan();          ///< the inputs' and outputs' device memory
    double memory_ratio = nan();          ///< peak_memory_bytes / in_out_bytes

    static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
};

/// Fills repeats, median, min and max (ms) of the timed runs `ms` (at least one), and GFLOP/s and GB/s at the median.
void summarize_runs(std::vector<double> ms, BenchRow& row);

/// Runs once (the checked output), warms up, checks, then times runs until kBenchTargetMilliseconds were measured.
/// Engine errors propagate (the caller turns them into an "error" row).
BenchRow measure_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings);

/// Predicts how long a case will take from the cases already measured: the throughput of the largest
/// measured case of its family, else of its kind, else a prior of 2% of the measured roofline at the
/// case's arithmetic intensity (1 GFLOP/s without a roofline).
class BenchEstimator {
public:
    explicit BenchEstimator(const RooflineFigures& roofline) : roofline_(roofline) {}
    /// Records a measured case.
    void add(const BenchRow& row);
    /// Seconds the case would take: check (when it applies), warm-up and timed runs.
    double estimate_seconds(const BenchCase& c, const MeasureSettings& settings) const;

private:
    struct Rate {
        double flops = 0;     ///< size of the case it comes from
        double per_second = 0;
    };
    static void keep_largest(std::map<std::string, Rate>& m, const std::string& key, Rate r);
    RooflineFigures roofline_;
    std::map<std::string, Rate> by_family_, by_kind_;
    double check_flops_per_second_ = 0;  ///< host reference + naive, measured; 0 until one ran
};

}  // namespace vkattn::cli
