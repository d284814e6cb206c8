#pragma once
// Reading `vkattn bench --json` files back for `bench compare` and `bench plot`. Accepts the current
// format ({"format": "vkattn-bench", "device": ..., "roofline": ..., "rows": [...]}) and the first
// one (a bare array of rows). Any problem is one UsageError line naming the file.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace vkattn::cli {

struct BenchFileRow {
    std::string name, kind, status, note, dtype, causal, variant, check, bound;
    int64_t Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0;
    static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    double gflops = kNaN, gbps = kNaN, median_ms = kNaN, pct_peak = kNaN;  ///< NaN when the file has null or nothing
};

struct BenchFile {
    std::string path;
    std::string device, vendor, driver, driver_info, date;
    double fp32_gflops = BenchFileRow::kNaN, fp16_gflops = BenchFileRow::kNaN, copy_gbps = BenchFileRow::kNaN;  ///< NaN when absent
    std::vector<BenchFileRow> rows;

    /// The row named `name`, or nullptr.
    const BenchFileRow* find(const std::string& name) const;
};

/// Loads one file. `command` prefixes the error messages ("compare", "plot").
BenchFile load_bench_file(const std::string& path, const std::string& command);

/// A short device label: the name up to " (" (so "llvmpipe (LLVM 15.0.6, 256 bits)" is "llvmpipe").
std::string short_device_name(const std::string& name);

}  // namespace vkattn::cli
