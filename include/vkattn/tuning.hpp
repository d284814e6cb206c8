#pragma once
/// \file tuning.hpp
/// On-device tuning of the fused kernel's tiles: time every candidate configuration on a
/// representative problem, keep the fastest per (dtype, head-dim class) and cache it per device UUID
/// and driver version; every later Context on that device and driver plans with it.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vkattn/context.hpp"

namespace vkattn {

struct TuneOptions {
    std::vector<int> head_dims = {64, 128};              ///< head dims to tune (each picks its class 64/128/256/512)
    std::vector<DType> dtypes = {DType::f32, DType::f16};
    int64_t heads = 8;                                   ///< the tuning problem: B = 1, H heads,
    int64_t seq = 2048;                                  ///< N queries and N keys, non-causal
    int repeats = 5;                                     ///< timed runs per candidate (median), after one warm-up
    std::size_t max_candidates = 0;                      ///< time only the default and the first n - 1 others (0: all)
    bool save = true;                                    ///< also write the winners to the cache file (this Context uses them either way)
    std::function<void(const std::string&)> progress;   ///< one line per candidate
};

struct TuneCandidate {
    std::string variant;        ///< e.g. "fused_rowwise.f32.d64[rows128,bc64]"
    double median_ms = 0, min_ms = 0, max_ms = 0;
    double gflops = 0;
    double max_abs_diff = 0;    ///< against the default configuration's output
    bool is_default = false;    ///< what the planner picks without tuning
    std::string error;          ///< non-empty: the candidate failed (error, or its output differed) and was not timed
};

struct TuneResult {
    std::string key;                      ///< "fused.rowwise.f32.d64"
    std::string problem;                  ///< "B1 H8 N2048 D64"
    std::vector<TuneCandidate> candidates;
    std::size_t winner = 0;               ///< index into candidates
    double speedup_over_default = 1;      ///< default median / winner median
};

struct TuneReport {
    std::vector<TuneResult> results;
    std::string cache_file;               ///< where the winners were saved; empty when not saved
};

/// Times the candidates on `ctx`'s device. Needs GPU timestamps (Error(unsupported) otherwise).
TuneReport tune(Context& ctx, const TuneOptions& options = {});

/// The winners cached for a device (lines "fused.rowwise.f32.d64 -> rows 256, keys 128 (12.3 ms, B1 H8 N2048 D64)"),
/// empty when it was never tuned; what `vkattn devices` lists.
std::vector<std::string> tuned_variants(const DeviceInfo& device, const std::string& cache_dir = "");

/// The kernel variants the planner would use on `device`, one line each (head-dim class -> tiles),
/// or the reason a class is unsupported there. Used by `vkattn devices`.
std::vector<std::string> kernel_variants(const DeviceInfo& device);

}  // namespace vkattn
