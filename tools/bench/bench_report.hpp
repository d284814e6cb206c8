#pragma once
// What `vkattn bench` reports: each row's place on the measured roofline, the console table, and the
// JSON and CSV files (`bench compare` and `bench plot` read the JSON back: bench_files.hpp).
#include <iosfwd>
#include <string>
#include <vector>

#include "bench/bench_measure.hpp"
#include "vkattn/roofline.hpp"

namespace vkattn::cli {

/// A row against the roofline. Every figure is NaN ("n/a") when a figure it needs was not measured.
struct RowMetrics {
    double intensity = BenchRow::nan();  ///< flops per byte moved (bytes: Q, K, V read once, O written once)
    std::string peak_kind = "fp32";      ///< which peak the kernel is held to: its arithmetic precision
    double peak_gflops = BenchRow::nan();
    double ridge = BenchRow::nan();      ///< peak / copy bandwidth
    double pct_peak = BenchRow::nan();   ///< GFLOP/s as % of the peak
    double pct_bandwidth = BenchRow::nan();  ///< GB/s as % of the copy bandwidth
    double pct_roofline = BenchRow::nan();   ///< GFLOP/s as % of min(peak, intensity x bandwidth)
    std::string bound = "n/a";           ///< "memory" (intensity below the ridge) or "compute"
};
RowMetrics row_metrics(const BenchRow& row, const RooflineFigures& roofline);

/// Everything one `vkattn bench` run produced.
struct BenchReport {
    DeviceInfo device;
    RooflineFigures roofline;
    std::string shapes;
    std::vector<std::string> filters;
    std::string date;                 ///< UTC, ISO 8601
    double max_seconds_per_case = 0;  ///< 0: no budget
    std::vector<BenchRow> rows;
};

/// "2 x 64 MiB ..." lines describing the device and its roofline, for the top of the console output.
void print_roofline(std::ostream& out, const RooflineFigures& r);
/// The table, one line per case (skipped and failed cases included, with the reason).
void print_bench_table(std::ostream& out, const BenchReport& report);
/// For each family of local-attention rows (fixed window, growing N): the least-squares slope of the
/// median time against N and how far the time per token drifts from the smallest N to the largest.
void print_scaling_summary(std::ostream& out, const BenchReport& report);

/// The report as `vkattn bench --json` writes it (format "vkattn-bench", version 1).
std::string bench_json_text(const BenchReport& report);
/// For each "... kv q8_0" / "kv q4_0" decode row with its f16 row in the run: both medians and their ratio.
void print_kv_format_summary(std::ostream& out, const BenchReport& report);
/// For each explicit-path row with a fused prefill row of the same shape (dtype, H, D, N, not causal):
/// explicit / fused median time, the cost of reading the weights back.
void print_explicit_summary(std::ostream& out, const BenchReport& report);

/// Throw Error(io_error) naming the path when the file cannot be written.
void write_bench_json(const std::string& path, const BenchReport& report);
void write_bench_csv(const std::string& path, const BenchReport& report);

/// "n/a" for NaN, else fixed-point.
std::string or_na(double value, int decimals);

}  // namespace vkattn::cli
