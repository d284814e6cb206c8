#pragma once
// Test seam of vkattn::tune (tune.cpp): lets a test plant a wrong output or other timings in one
// candidate, to check that tune() rejects a candidate whose output differs from the default's and picks
// the fastest of the rest. Null, and so without effect, everywhere but in tests/tuning_test.cpp.
#include <cstddef>
#include <functional>
#include <vector>

namespace vkattn::detail {

struct TuneSeam {
    /// Called with candidate i's output (first run, downloaded) before it is compared with the default's.
    std::function<void(std::size_t i, std::vector<float>& out)> output;
    /// Called with candidate i's timed repeats (ms) before their median, min and max are taken.
    std::function<void(std::size_t i, std::vector<double>& ms)> times;
};

/// Set by a test only while no tune() runs on another thread.
extern TuneSeam* tune_seam;

}  // namespace vkattn::detail
