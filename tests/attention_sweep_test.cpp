// Both paths against the double-precision reference: every value of every axis the foundation issue
// names, and the pairs that interact, rather than the full Cartesian product (which would take hours
// on lavapipe). Fresh random inputs per case; the seed is printed on failure (replay: VKATTN_TEST_SEED).
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace vkattn::test {
namespace {

void expect_passes(const Case& c) {
    const uint64_t seed = fresh_seed();
    const Outcome r = run_case(c, seed);
    EXPECT_TRUE(r.passed) << r.message;
}

class Sweep : public ::testing::TestWithParam<Case> {};
TEST_P(Sweep, MatchesReference) { expect_passes(GetParam()); }

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name(); }

// (Lq, Lk) pairs x head layouts, each with both paths; B, D, dtype and causality rotate through
// their values so that each appears with several shapes.
std::vector<Case> shape_cases() {
    const std::vector<std::pair<int64_t, int64_t>> lengths = {{1, 147}, {3, 799}, {113, 203}, {128, 217}, {1023, 1024}, {1, 1}, {64, 64}};
    const std::vector<std::pair<int64_t, int64_t>> heads = {{1, 1}, {4, 4}, {8, 2}, {6, 1}};
    const std::vector<int64_t> dims = {16, 40, 64, 80, 96, 111, 128, 256};
    const Causal causal[] = {Causal::none, Causal::top_left, Causal::bottom_right};
    std::vector<Case> cases;
    int idx = 0;
    for (auto [lq, lk] : lengths)
        for (auto [hq, hkv] : heads) {
            Case c;
            c.Lq = lq, c.Lk = lk, c.Hq = hq, c.Hkv = hkv;
            c.B = idx % 2 ? 3 : 1;
            c.D = dims[idx % dims.size()];
            c.dtype = (idx / 2) % 2 ? DType::f16 : DType::f32;
            c.causal = causal[idx % 3];
            // The reference runs in double on the host: keep the largest shapes to one head and batch.
            if (lq * lk >= 1000000) c.B = 1, c.Hq = hq / hkv, c.Hkv = 1, c.D = std::min<int64_t>(c.D, 64);
            for (Path path : {Path::fused, Path::explicit_}) {
                c.path = path;
                cases.push_back(c);
            }
            ++idx;
        }
    return cases;
}
INSTANTIATE_TEST_SUITE_P(Shapes, Sweep, ::testing::ValuesIn(shape_cases()), case_name);

}  // namespace
}  // namespace vkattn::test
