#pragma once
// One benchmark run over a set of cases, shared by `vkattn bench` (cmd_bench.cpp) and the Python module's
// vkattn.bench (tools/python): the report's header (device, roofline, budget) and the case loop (time
// estimate, skip over budget, measure, stop after a lost device), with progress lines to a callback.
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_report.hpp"

namespace vkattn::cli {

/// Per-case budget on CPU devices when none is given (GPUs: none).
constexpr double kDefaultCpuBudgetSeconds = 20;

struct BenchRunOptions {
    std::string shapes = "quick";
    std::vector<std::string> filters;
    MeasureSettings settings;           ///< max_repeats and check; seed and budget are set per case
    double max_seconds_per_case = -1;   ///< < 0: the default (kDefaultCpuBudgetSeconds on CPUs, none on GPUs)
    bool remeasure = false;             ///< measure the roofline again instead of reading its cache
    std::function<void(const std::string&)> progress;  ///< one line at a time; may be empty
    /// Called with the report after each case's row was added (may be empty): `vkattn bench --json`
    /// rewrites its file there, so a run stopped part-way (a time limit) leaves the rows done so far.
    std::function<void(const BenchReport&)> after_case;
};

/// Throws UsageError naming --filter when no case of the set matches (before any device work).
void check_bench_selection(const std::string& shapes, const std::vector<std::string>& filters);

/// The report's header for ctx: device, date, shapes, filters, budget and the (cached) roofline.
BenchReport new_bench_report(Context& ctx, const BenchRunOptions& options);

/// The cases of the report's set on ctx's device, after the filters.
std::vector<BenchCase> bench_report_cases(const BenchReport& report);

/// Measures every case into report.rows (errors become "error" rows; after a lost device the rest are
/// "not run"). Returns true when a case failed its check or raised an error.
bool measure_bench_cases(Context& ctx, BenchReport& report, const std::vector<BenchCase>& cases, const BenchRunOptions& options);

/// "12.3 s" / "123 s".
std::string seconds_text(double s);

}  // namespace vkattn::cli
