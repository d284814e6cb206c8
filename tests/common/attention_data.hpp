#pragma once
// Host data and reference comparisons shared by the test suite (tests/test_support.cpp, the layer
// tests) and the reliability tests (tests/reliability/mixed_ops.cpp): one copy of each, so that a fix
// to a comparison rule reaches every test that uses it. No gtest here: the reliability library links
// only vkattn.
#include <cstdint>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace vkattn::test {

/// n standard-normal values from `seed` (the same values on every run and machine with one standard library).
std::vector<float> normal_values(std::size_t n, uint32_t seed);

/// [B, H, L, X] host data -> [B, L, H, X].
std::vector<float> to_blhd(const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t X);

/// Uploads [B, H, L, X] host data as `dtype`: stored that way, or (blhd) stored [B, L, H, X] and viewed
/// as [B, H, L, X] through strides.
Tensor upload_qkv(Context& ctx, const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t X, DType dtype, bool blhd);

/// Where `got` and the reference disagree on non-finite values: "" when they agree, else a message
/// naming the first element (as `what`[i]). A finite reference element needs a finite result; a NaN
/// one needs NaN exactly there, an infinite one the same infinity. Nothing non-finite is skipped.
std::string nonfinite_mismatch(const char* what, const std::vector<float>& got, const std::vector<float>& ref);

/// max |a[i] - b[i]| over the elements where both are finite (the others are nonfinite_mismatch's).
double max_abs_diff_finite(const std::vector<float>& a, const std::vector<float>& b);

/// max |a[i]|.
double max_abs(const std::vector<float>& a);

/// The lse rule: a fully masked row (reference -inf) is -inf; a NaN reference needs NaN; NaN anywhere
/// else fails; otherwise within 2e-5 * (1 + |ref|). "" or why not.
std::string check_lse(const std::vector<float>& got, const std::vector<float>& ref);

}  // namespace vkattn::test
