#pragma once
// The "matmul" and "mha" bench sets' own pieces: the layer cases' flops and bytes, and one measured row
// of a case (check against the host reference on sampled rows, warm-up, GPU-timestamped repeats).
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include "bench/bench_measure.hpp"

namespace vkattn::cli {

/// Whether a case is a layer ("matmul" or "mha" kind) rather than attention on given Q, K, V.
bool is_layer_case(const BenchCase& c);

/// matmul: 2 M N K. mha: the q, k, v and out projections (4 x 2 B L E^2) and the attention core
/// (2 x 2 B H L^2 D).
double layer_flops(const BenchCase& c);

/// Bytes read and written at least: matmul A, W and Y; mha x, the four weight matrices and the output.
double layer_bytes(const BenchCase& c);

/// The warm-up, the budget rule and the timed repeats of measure_case for a case measured by its own code:
/// `run` returns (GPU ms or -1, variant); fills row's times (or marks it skipped) and wall_seconds from `start`.
void time_runs(BenchRow& row, const MeasureSettings& settings, const std::function<std::pair<double, std::string>()>& run,
               std::chrono::steady_clock::time_point start);

/// measure_case for a layer case (same rules: checked first run, warm-up, budget, repeats to 200 ms).
BenchRow measure_layer_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings);

}  // namespace vkattn::cli
