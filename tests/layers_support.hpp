#pragma once
// Helpers of the layer tests (matmul, multi-head attention, additive attention): random host data,
// rounding to the storage dtype, and the element-wise comparison with a per-element bound.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace vkattn::test {

inline std::vector<float> random_values(std::mt19937_64& gen, int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = dist(gen);
    return v;
}

/// What storing as `dt` does to the values (the kernels see the rounded ones).
inline std::vector<float> stored(std::vector<float> v, DType dt) {
    if (dt == DType::f16)
        for (float& x : v) x = round_to_half(x);
    return v;
}

/// Compares element-wise: |got - want| <= abs_tol + rel_tol * |want|, no NaN. Returns "" or a message
/// naming the first failing element and the largest error.
inline std::string compare(const std::vector<float>& got, const std::vector<float>& want, double abs_tol, double rel_tol, double* max_err = nullptr) {
    if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    double worst = 0;
    std::string first;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double e = std::abs(double(got[i]) - double(want[i]));
        const bool bad = !std::isfinite(got[i]) && got[i] != want[i];
        if (std::isfinite(e)) worst = std::max(worst, e);
        if ((bad || !(e <= abs_tol + rel_tol * std::abs(double(want[i])))) && first.empty() && !(got[i] == want[i]))
            first = "element " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", want " + std::to_string(want[i]);
    }
    if (max_err) *max_err = worst;
    return first.empty() ? "" : first + " (max error " + std::to_string(worst) + ")";
}

}  // namespace vkattn::test
