#pragma once
// The shapes `vkattn bench` times: named cases grouped in sets (quick, standard, prefill, decode, memory, local, linear, weights, gpu), the
// --filter rule, and what one case costs (flops, bytes moved).
#include <string>
#include <vector>

#include "cli/problem.hpp"

namespace vkattn::cli {

/// One benchmark case. The name is stable across devices and runs (`bench compare` joins on it).
struct BenchCase {
    ProblemSpec spec;
    std::string kind;    ///< "prefill", "decode", "cross", "explicit", "local", "linear" (linear attention),
                         ///< "matmul" or "mha" (layers: bench_layers.hpp)
    std::string family;  ///< the name without its length: cases of one family differ only in size
    int64_t M = 0, N = 0, K = 0;  ///< matmul: Y [M, N] = A [M, K] W [N, K]^T (spec.dtype; spec's shape unused).
                                  ///< mha: spec's B, Hq = H, Lq = Lk = L and D = E / H.
};

/// Flops and bytes of one run of a case: attention_flops / attention_bytes, or the layers' own.
double case_flops(const BenchCase& c);
double case_bytes(const BenchCase& c);

/// The shape sets `--shapes` accepts.
const std::vector<std::string>& bench_set_names();

/// The cases of a set, smallest first within each family. `cpu_device`: leave out the shapes that only
/// GPUs run (prefill N = 16384). Throws UsageError for an unknown set.
std::vector<BenchCase> bench_cases(const std::string& set, bool cpu_device);

/// The cases whose name contains any of `filters` (all cases when `filters` is empty).
std::vector<BenchCase> filter_cases(const std::vector<BenchCase>& cases, const std::vector<std::string>& filters);

/// Bytes a kernel must move at least: Q, K and V read once and O written once, in the storage dtype.
double attention_bytes(const ProblemSpec& spec);

/// Whether the kernel variant computes in f16 arithmetic (compared with the fp16 peak) rather than
/// f32. vkattn's fused and explicit kernels store f16 but compute in f32.
bool variant_computes_in_f16(const std::string& variant);

}  // namespace vkattn::cli
