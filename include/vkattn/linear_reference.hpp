#pragma once
/// \file linear_reference.hpp
/// Linear attention on the host, written to be read: the ground truth for tests, `vkattn linear` checks
/// and the bench.
#include <cstdint>
#include <vector>

#include "vkattn/linear_attention.hpp"

namespace vkattn {

/// Host inputs in the default contiguous layouts: q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv].
struct HostLinearProblem {
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 1, Dv = 1;
    std::vector<float> q, k, v;
    FeatureMap feature_map = FeatureMap::elu_plus_one;
    Causal causal = Causal::none;
    std::vector<int32_t> key_lengths;  ///< empty or B entries
};

/// φ in double.
double linear_feature(FeatureMap f, double x);

/// The definition, in double, key by key: out_i = Σ_j (φq_i·φk_j) v_j / (Σ_j φq_i·φk_j + eps) over the
/// keys row i sees (quadratic in N: the ground truth, not a fast path). `rows`: only these query rows
/// (indices into Lq), the result [B, Hq, rows.size(), Dv]; empty: every row, [B, Hq, Lq, Dv].
std::vector<float> reference_linear_attention(const HostLinearProblem& p, const std::vector<int64_t>& rows = {});

/// The same formula in float arithmetic (float accumulation key by key), the output rounded to half when
/// `round_output_to_half`: what a straightforward framework implementation would produce. Tests bound
/// the kernels' error by twice this implementation's error against the reference.
std::vector<float> naive_linear_attention(const HostLinearProblem& p, bool round_output_to_half,
                                          const std::vector<int64_t>& rows = {});

/// Throws Error(invalid_argument) naming the field when the host problem is inconsistent.
void validate_host_linear_problem(const HostLinearProblem& p);

}  // namespace vkattn
