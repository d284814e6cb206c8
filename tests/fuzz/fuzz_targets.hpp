#pragma once
// The fuzz targets as plain functions, so that the same code runs under libFuzzer (scripts/fuzz.sh,
// scripts/ci/fuzz.sh) and in the normal test suite, which replays the seed corpora and every committed
// regression input (tests/fuzz_replay_test.cpp, built with VKATTN_FUZZ_REPLAY).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <vkattn/context.hpp>

namespace vkattn::fuzz {

/// A broken rule found by a target. Under libFuzzer it aborts (the input is saved as a crash); in the
/// test suite it throws, and the replay test reports the input and the message.
struct Finding : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void finding(const std::string& what) {
#ifdef VKATTN_FUZZ_REPLAY
    throw Finding(what);
#else
    std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
    std::abort();
#endif
}

/// Arbitrary bytes through the .npy parser.
void npy_one_input(const uint8_t* data, size_t size);
/// Arbitrary bytes through the .safetensors reader and the multi-head attention loader's header checks.
void safetensors_one_input(const uint8_t* data, size_t size);
/// Random shapes, strides, dtypes and options through attention_full on `ctx`.
void attention_args_one_input(Context& ctx, const uint8_t* data, size_t size);

}  // namespace vkattn::fuzz
