#pragma once
// The "sequences" bench set: packed variable-length prefill (attention_varlen) beside the padded batch
// that computes the same sequences without it, and decode through a PagedKvCache beside the contiguous
// KvCache at the same sequence lengths.
#include <vector>

#include "bench/bench_measure.hpp"

namespace vkattn::cli {

/// The four rows (varlen / padded prefill, paged / contiguous decode).
void add_sequence_cases(std::vector<BenchCase>& v);
/// Whether a case is one of them (kind "varlen" or "paged").
bool is_sequence_case(const BenchCase& c);
/// Useful flops (the visible pairs of every sequence; the padded row counts the same) and bytes.
double sequence_flops(const BenchCase& c);
double sequence_bytes(const BenchCase& c);
/// measure_case for them: checked first run (head 0 of every sequence against the host reference), warm-up, repeats.
BenchRow measure_sequence_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings);

}  // namespace vkattn::cli
