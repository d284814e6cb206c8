#pragma once
/// \file roofline.hpp
/// The device's measured roofline: arithmetic peaks and memory bandwidth from built-in
/// microbenchmarks, timed with GPU timestamps and cached per device and driver.
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "vkattn/context.hpp"

namespace vkattn {

/// One measured configuration of a microbenchmark (every configuration tried is kept).
struct RooflineSample {
    std::string kernel;  ///< "fma.f32", "fma.f16" or "copy"
    std::string config;  ///< e.g. "8 vec4 chains, 4096 invocations" or "2 x 64 MiB"
    double value = 0;    ///< GFLOP/s (fma) or GB/s read + write (copy), median of the repeats
    double median_ms = 0, min_ms = 0, max_ms = 0;
    int repeats = 0;
};

/// The roofline figures. A figure that could not be measured is NaN and `*_note` says why
/// (no timestamps, no fp16 arithmetic, ...); nothing here is an estimate or a datasheet value.
struct RooflineFigures {
    static constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();
    double fp32_gflops = not_measured;  ///< best median over the fp32 FMA configurations
    double fp16_gflops = not_measured;  ///< best median over the f16-arithmetic configurations
    double copy_gbps = not_measured;    ///< bytes read + bytes written per second / 1e9
    std::string fp32_config, fp16_config, copy_config;  ///< the configuration behind each figure
    std::string fp32_note, fp16_note, copy_note;        ///< why a figure is NaN; empty otherwise
    std::vector<RooflineSample> samples;                ///< every configuration measured (empty when cached)

    bool from_cache = false;   ///< read from the cache file instead of measured now
    std::string cache_file;    ///< the cache file read or written; empty when caching is off
    std::string measured_at;   ///< UTC time of the measurement, "2024-05-01T12:00:00Z"

    /// Arithmetic intensity (flop per byte moved) where the fp32 peak meets the copy bandwidth:
    /// kernels below it are memory bound, above it compute bound. NaN when either is unmeasured.
    double ridge_fp32() const { return fp32_gflops / copy_gbps; }
    double ridge_fp16() const { return fp16_gflops / copy_gbps; }
};

/// How measure_roofline runs.
struct RooflineOptions {
    bool remeasure = false;       ///< ignore a cached result and measure again (the cache is rewritten)
    bool use_cache = true;        ///< read and write the cache file at all
    /// Directory of the cache file. Empty: the context's pipeline-cache directory ($XDG_CACHE_HOME/vkattn
    /// or ~/.cache/vkattn); "none" disables the cache.
    std::string cache_dir;
    double min_run_ms = 50;       ///< the work of one timed run grows until it lasts at least this long
    int repeats = 5;              ///< timed runs per configuration; the median is reported
    /// Receives one line per step (for progress output); may be empty.
    std::function<void(const std::string&)> progress;
};

/// Measures (or reads from the per-device cache) the fp32 and fp16 FMA peaks and the copy bandwidth
/// of the context's device. Needs GPU timestamps: without them every figure is NaN with a note.
/// The fp16 figure is measured only where the device reports shaderFloat16.
/// The cache file is "roofline-<pipeline cache UUID>-<driver version>.txt" in the cache directory.
RooflineFigures measure_roofline(Context& ctx, const RooflineOptions& options = {});

}  // namespace vkattn
