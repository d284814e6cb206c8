#pragma once
// Attention operations on a caller's Context, checked against the CPU reference: the unit of work of
// the fault-injection, concurrency and soak tests. Shapes are small so the reference is cheap.
#include <cstdint>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace vkattn::reliability {

enum class OpMask { none, additive_2d, bool_2d };

/// One attention call and its inputs' description.
struct Op {
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 16;
    DType dtype = DType::f32;
    Path path = Path::fused;
    Causal causal = Causal::none;
    OpMask mask = OpMask::none;
    bool key_lengths = false;  ///< random per-batch lengths (batch 0 gets 0 keys when B > 1)
    bool lse = false;
    bool weights = false;      ///< explicit path only
    bool out_f16 = false;      ///< f16 output (adds the conversion kernel)
    bool blhd = false;         ///< q, k, v stored [B, L, H, D] and viewed through strides
    /// > 0: run with VKATTN_TEST_MAX_BINDING set to this many bytes, so the problem is chunked.
    /// Sets a process environment variable: single-threaded tests only.
    int64_t max_binding = 0;
    std::string name() const;
};

struct OpOutcome {
    bool passed = false;
    std::string message;  ///< why it failed: names the op, seed, variant and the first bad value
    std::string variant;
};

/// Uploads fresh random inputs from `seed`, runs attention_full on `ctx`, downloads every output and
/// compares with reference_attention (bound: twice the error of naive_attention in the kernel's
/// precision, plus 1e-6; f32 also relative 1e-5; lse to 2e-5 relative). Vulkan failures propagate as
/// vkattn::Error.
OpOutcome run_op(Context& ctx, const Op& op, uint64_t seed);

/// The representative mixed run: fused prefill (causal, lse), explicit path with weights and a bool
/// mask, split-KV decode with GQA and key lengths, f16 with strided [B, L, H, D] inputs, an f16
/// additive mask and f16 output, and a chunked problem (max_binding).
std::vector<Op> mixed_run();

/// A small set of ops without max_binding, safe from several threads; few distinct pipelines.
std::vector<Op> thread_safe_ops();

}  // namespace vkattn::reliability
