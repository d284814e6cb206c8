#pragma once
// The "linear" bench set's own pieces: running and checking linear-attention cases, and the summary
// that compares them with softmax attention at the same shapes (growth in N, crossover N).
#include <iosfwd>
#include <vector>

#include "bench/bench_report.hpp"
#include "cli/problem.hpp"

namespace vkattn::cli {

/// One GPU-timed linear-attention run of a case's inputs: elu + 1, the case's causal mask and key lengths.
LinearAttentionResult run_linear_case(Context& ctx, const DeviceProblem& d);

/// A linear case's output against reference_linear_attention (the tests' rule: f32 within 1e-5 of
/// max|ref|, f16 within twice naive_linear_attention's error). `sampled`: only 32 query rows of the
/// last (batch 0) head, as the softmax cases' sampled check.
Comparison compare_linear_output(const std::vector<float>& gpu, const GeneratedProblem& g, DType precision, bool sampled);

/// For each linear family with a softmax prefill family of the same dtype, causality, heads and D in
/// the report: each one's growth in N (least-squares slope of log time against log N: 1 = linear,
/// 2 = quadratic), and the N from which linear attention is faster on this device (interpolated in
/// log-log between the measured N on either side).
void print_linear_summary(std::ostream& out, const BenchReport& report);

}  // namespace vkattn::cli
