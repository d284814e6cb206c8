#pragma once
// Synthetic attention problems for `vkattn verify` and `vkattn bench`: a description, random inputs in
// the kernel precision, the device tensors, and the comparison of a GPU result with the host reference.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vkattn/reference.hpp"
#include "vkattn/vkattn.hpp"

namespace vkattn::cli {

enum class MaskKind { none, additive, boolean };

/// One synthetic problem.
struct ProblemSpec {
    std::string name;
    int64_t B = 1, Hq = 1, Hkv = 1, Lq = 1, Lk = 1, D = 64, Dv = 64;
    DType dtype = DType::f32;
    Path path = Path::automatic;
    Causal causal = Causal::none;
    MaskKind mask = MaskKind::none;
    bool mask_per_batch = false;  ///< mask shape [B, 1, Lq, Lk] instead of [Lq, Lk]
    bool key_lengths = false;     ///< per-batch key lengths (batch 2, when present, gets 0: fully masked rows)
    bool strided = false;         ///< q, k, v stored as [B, L, H, D] and passed as transposed views
    Window window;                ///< sliding window (local attention)
    bool linear = false;          ///< linear attention (elu + 1 feature map) instead of softmax (bench set "linear")
    bool sinks = false;           ///< random attention-sink logits per query head (AttentionOptions::sinks)
    std::optional<DType> kv_dtype;  ///< k and v stored as q8_0 / q4_0 blocks (the host problem holds their dequantised values)
};

/// "B2 H8/2 Lq113 Lk203 D80/64" (H shows Hq/Hkv, D shows D/Dv; equal pairs are written once).
std::string shape_text(const ProblemSpec& spec);
/// The options beyond the shape, compactly: "tl" / "br" (causal), "add" / "bool" (mask, "[B]" when per
/// batch), "kl" (key lengths), "win" (window), "sinks", joined by '+'; empty when there are none.
std::string options_text(const ProblemSpec& spec);
/// Number of (query, key) pairs the causal rule (and the window) leaves visible in one (batch, head).
int64_t visible_pairs(int64_t Lq, int64_t Lk, Causal causal, Window window = {});
/// Floating-point operations of the two matrix products over the visible pairs: 2·B·Hq·pairs·(D + Dv);
/// for a linear-attention spec, linear_attention_flops.
double attention_flops(const ProblemSpec& spec);
/// Linear attention's products: the key summaries 2·B·Hkv·Lk·D·(Dv + 1), their application
/// 2·B·Hq·Lq·D·(Dv + 1), and with a causal mask the intra-chunk pairs (64-key chunks) 2·B·Hq·pairs·(D + Dv + 1).
double linear_attention_flops(const ProblemSpec& spec);

/// Random inputs (normal, already rounded to the kernel precision) as a host problem.
struct GeneratedProblem {
    HostAttentionProblem host;
    std::vector<uint8_t> bool_mask;  ///< the u8 mask for the device when the mask is boolean
};
GeneratedProblem generate_problem(const ProblemSpec& spec, uint64_t seed);

/// The device tensors of a generated problem and the options to run it with.
struct DeviceProblem {
    Tensor q, k, v;
    AttentionOptions options;
};
DeviceProblem upload_problem(Context& ctx, const ProblemSpec& spec, const GeneratedProblem& problem);

/// The GPU output against reference_attention, bounded by naive_attention's own error.
struct Comparison {
    double max_abs_err = 0;    ///< max |gpu - ref| over finite elements
    double max_ref = 0;        ///< max |ref|
    double rel_err = 0;        ///< max_abs_err / max(max_ref, 1e-30)
    double naive_err = 0;      ///< max |naive - ref|
    double bound = 0;          ///< 2 · naive_err + 1e-6
    int64_t nonfinite = 0;     ///< GPU elements that are NaN/Inf where the reference is finite
    bool pass = false;
    std::string why;           ///< the failed criterion, empty on pass
};
/// Relative error limit applied to f32 problems in addition to the bound.
constexpr double kF32RelativeLimit = 1e-5;
Comparison compare_output(const std::vector<float>& gpu, const GeneratedProblem& problem, DType precision);

/// A 64-bit mix (splitmix64) to derive per-case seeds from one seed.
uint64_t mix_seed(uint64_t x);
/// The seed of one named case under a run's seed: independent of which other cases run.
uint64_t case_seed(uint64_t seed, const std::string& name);

}  // namespace vkattn::cli
