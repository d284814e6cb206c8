#pragma once
// `vkattn bench --shapes overhead`: the host time each attention operation costs beyond its kernels,
// for small decode and prefill shapes, in three modes side by side in one run (bench_overhead.cpp).
#include <string>
#include <vector>

#include "cli/cli_common.hpp"

namespace vkattn::cli {

struct OverheadArgs {
    CommonOptions common;
    int repeats = 7;        ///< runs per (shape, mode); medians are reported
    int ops_per_run = 256;  ///< operations per run (a multiple of 32)
    std::string json;       ///< rows with host_us_per_op
    std::vector<std::string> filters;  ///< shapes whose name contains any of these (empty: all)
};

/// Runs the overhead set; returns the process exit code.
int run_overhead_bench(const OverheadArgs& args);

}  // namespace vkattn::cli
