#include "attention_data.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace vkattn::test {

std::vector<float> to_blhd(const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t X) {
    std::vector<float> y(x.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t e = 0; e < X; ++e) y[((b * L + l) * H + h) * X + e] = x[((b * H + h) * L + l) * X + e];
    return y;
}

Tensor upload_qkv(Context& ctx, const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t X, DType dtype, bool blhd) {
    if (!blhd) return ctx.upload(x, {B, H, L, X}, dtype);
    return ctx.upload(to_blhd(x, B, H, L, X), {B, L, H, X}, dtype).transposed(1, 2);
}

std::string nonfinite_mismatch(const char* what, const std::vector<float>& got, const std::vector<float>& ref) {
    if (got.size() != ref.size())
        return std::string(what) + ": " + std::to_string(got.size()) + " values, expected " + std::to_string(ref.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const std::string at = std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(got[i]);
        if (std::isfinite(ref[i])) {
            if (!std::isfinite(got[i])) return at + " (unwritten or overflow)";
        } else if (std::isnan(ref[i])) {
            if (!std::isnan(got[i])) return at + " where the reference is NaN";
        } else if (got[i] != ref[i]) {
            return at + " where the reference is " + std::to_string(ref[i]);
        }
    }
    return {};
}

double max_abs_diff_finite(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::isfinite(a[i]) && std::isfinite(b[i])) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
}

double max_abs(const std::vector<float>& a) {
    double m = 0;
    for (float x : a) m = std::max(m, std::fabs(static_cast<double>(x)));
    return m;
}

std::vector<float> normal_values(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist;
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    return x;
}

std::string check_lse(const std::vector<float>& got, const std::vector<float>& ref) {
    if (got.size() != ref.size()) return "lse: " + std::to_string(got.size()) + " values, expected " + std::to_string(ref.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const std::string at = "lse[" + std::to_string(i) + "]";
        if (std::isnan(ref[i])) {
            if (!std::isnan(got[i])) return at + " = " + std::to_string(got[i]) + " where the reference is NaN";
            continue;
        }
        if (std::isnan(got[i])) return at + " is NaN";
        if (std::isinf(ref[i])) {
            if (!(std::isinf(got[i]) && got[i] < 0)) return at + " of a fully masked row is " + std::to_string(got[i]) + ", not -inf";
            continue;
        }
        // The lse is a sum of exponentials of f32 scores: relative f32 accuracy, scaled by its size.
        const double tol = 2e-5 * (1.0 + std::fabs(ref[i]));
        if (!(std::fabs(static_cast<double>(got[i]) - ref[i]) <= tol))
            return at + " = " + std::to_string(got[i]) + ", reference " + std::to_string(ref[i]);
    }
    return {};
}

}  // namespace vkattn::test
