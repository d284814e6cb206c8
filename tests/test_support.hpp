#pragma once
// Shared test machinery: one Context per process (pipelines are built once), random problems,
// and the pass rule of FlashAttention's tests.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace vkattn::test {

/// The options of the tests' contexts: validation layer on, allocations poisoned, no tuned tiles, the
/// pipeline cache in $VKATTN_TEST_CACHE_DIR (else in memory).
ContextOptions test_context_options();
/// The process-wide context, made with test_context_options(): pipelines are built once.
Context& context();
/// A tensor's bytes as stored (f16 as its 16-bit words), for bitwise comparisons.
std::vector<uint8_t> tensor_bytes(const Tensor& t);

enum class MaskKind { none, additive_2d, additive_4d, bool_2d, bool_4d };
const char* to_string(MaskKind m);

/// One attention problem and how to run it.
struct Case {
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 16, Dv = 0;  // Dv 0: same as D
    DType dtype = DType::f32;
    Path path = Path::fused;
    Causal causal = Causal::none;
    MaskKind mask = MaskKind::none;
    bool key_lengths = false;       // random per-batch lengths, including 0 for one batch when B > 1
    bool blhd = false;              // inputs stored as [B, L, H, D] and viewed through strides
    float input_scale = 1.0f;       // multiplies q and k (100 gives logits near +-1e4)
    bool fully_masked_rows = false; // force some rows to see no key at all (bool mask rows of false)
    bool check_relative = true;     // f32: also require relative error <= 1e-5
    Window window;                  // sliding window (left, right; -1 unbounded)
    bool alibi = false;             // the standard ALiBi slopes for Hq heads
    float softcap = 0;              // logit soft-capping (0: off)
    bool sinks = false;             // random attention-sink logits per query head, in [-2, 4]
    int kv_splits = 0;              // AttentionOptions::kv_splits (0: the engine's choice)
    std::optional<DType> kv_dtype;  // k and v in a block format (q8_0, q4_0); the reference sees the dequantised values
    std::string name() const;
};

/// gtest prints a parameter with this (instead of its bytes).
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name(); }

/// Errors of one run against the reference; `message` explains a failure.
struct Outcome {
    bool passed = false;
    double max_abs = 0, bound = 0, relative = 0;
    std::string message;
    std::string variant;
    uint32_t dispatches = 0;
};

/// Runs `c` on the GPU with fresh random inputs from `seed` and compares out, lse and (explicit path)
/// weights with the double-precision reference.
Outcome run_case(const Case& c, uint64_t seed);
/// As run_case, on `ctx` instead of the shared context.
Outcome run_case(Context& ctx, const Case& c, uint64_t seed);

/// A fresh seed, printed so a failure can be replayed with VKATTN_TEST_SEED.
uint64_t fresh_seed();

/// Sets an environment variable (VKATTN_FUSED_KERNEL, a test hook, ...) for one scope; unset after.
struct ScopedEnv {
    const char* name;
    ScopedEnv(const char* n, const char* value) : name(n) {
        if (value) setenv(n, value, 1);
    }
    ~ScopedEnv() { unsetenv(name); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace vkattn::test
