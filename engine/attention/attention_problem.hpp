#pragma once
// The validated description of one attention call, and the planner's choice of kernels for it.
#include <cstdint>
#include <string>
#include <vector>

#include "vkattn/attention.hpp"
#include "vkattn/device.hpp"

namespace vkattn::detail {

/// Shapes and options after validation; everything a kernel launch needs besides buffers.
struct AttentionProblem {
    int64_t B = 0, Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
    DType dtype = DType::f32;      // of q (and of k and v unless kv_dtype is a block format)
    DType kv_dtype = DType::f32;   // of k and v: q's dtype, or q8_0 / q4_0 (dequantised in the kernels' registers)
    DType out_dtype = DType::f32;
    float scale = 1.0f;
    int mask_kind = 0;             // 0 none, 1 f32, 2 f16, 3 u8, 4 bf16 (matches shaders/common/common.glsl)
    Strides mask_strides;          // 4-D (batch, head, row, key), 0 where broadcast
    int64_t window_left = -1, window_right = -1;  // -1: unbounded; otherwise <= Lq + Lk (int32-safe)
    bool alibi = false;            // AttentionOptions::alibi_slopes given
    float softcap = 0;             // 0: off
    bool sinks = false;            // AttentionOptions::sinks given
    bool align_to_key_lengths = false;  // i' = i + key_lengths[b] - Lq instead of i + Lk - Lq
    std::vector<int32_t> key_lengths;   // copied from the options (empty: all Lk keys)
    /// Packed sequences (sequences.hpp): batch entry b is sequence b with q_lengths[b] query rows (Lq is
    /// the longest); empty otherwise.
    std::vector<int32_t> q_lengths;
    bool paged = false;            // keys read through a block table (FEATURE_PAGED)
    /// Query rows of batch entry b.
    int64_t q_length(int64_t b) const { return q_lengths.empty() ? Lq : q_lengths[static_cast<std::size_t>(b)]; }
    /// Row i's aligned key shift for batch b (see shaders/common/common.glsl aligned_shift).
    int64_t aligned_shift(int64_t b) const {
        return (align_to_key_lengths ? key_lengths[static_cast<std::size_t>(b)] : Lk) - q_length(b);
    }
    /// The dtype the planner and the tuning table see: bf16 runs the f16 (16-bit storage) variants.
    DType plan_dtype() const { return dtype == DType::bf16 ? DType::f16 : dtype; }
    /// The suffix of the kernel variant reading q (and 16-bit or f32 K/V): "_f16" for f16 and bf16, else "_f32".
    const char* storage_suffix() const { return plan_dtype() == DType::f16 ? "_f16" : "_f32"; }
    /// FMT_* bits of shaders/common/common.glsl (Params ext2.y): bf16 inputs 1, a bf16 packed output 2.
    int32_t format_bits() const { return (dtype == DType::bf16 ? 1 : 0) | (out_dtype == DType::bf16 ? 2 : 0); }
    /// FEATURE_* bits of shaders/common/rowwise_block.glsl: mask 1, softcap 2, ALiBi 4, q8_0 K/V 8, q4_0 K/V 16,
    /// paged keys 32.
    int features() const {
        return (mask_kind != 0 ? 1 : 0) | (softcap > 0 ? 2 : 0) | (alibi ? 4 : 0) | (kv_dtype == DType::q8_0 ? 8 : 0) |
               (kv_dtype == DType::q4_0 ? 16 : 0) | (paged ? 32 : 0);
    }
};

/// key_end_for_row of shaders/common/common.glsl: keys [0, end) may be visible to query row i of batch b.
int64_t key_end_for_row(const AttentionProblem& p, const AttentionOptions& o, int64_t b, int64_t i);
/// key_start_for_row of shaders/common/common.glsl: keys before it are outside the sliding window.
int64_t key_start_for_row(const AttentionProblem& p, int64_t b, int64_t i);

/// Checks every shape, dtype, stride, mask and option; throws Error(invalid_argument) naming the argument.
AttentionProblem validate_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options);

/// Which fused kernel runs.
enum class FusedKernel {
    tiled,    ///< attention_fused.comp: rows x threads-per-row, key tiles looped in one dispatch (GPUs)
    rowwise,  ///< attention_fused_rowwise.comp: one invocation per row, one dispatch per key block (CPUs)
};

/// Tiling of the fused kernel. tiled: specialization constants 0..4 of attention_fused.comp
/// (workgroup, rows, keys, dcap, threads_per_row). rowwise: constants 0..3 of
/// attention_fused_rowwise.comp (rows = workgroup, keys, dcap, whether a mask is bound).
struct FusedConfig {
    FusedKernel kernel = FusedKernel::tiled;
    int workgroup = 64;   // = rows * threads_per_row
    int rows = 8;         // BR: query rows per workgroup
    int keys = 16;        // BC: keys per tile (rowwise: per dispatch)
    int dcap = 64;        // head-dim capacity class
    int threads_per_row = 8;  // 1 for rowwise
    int storage_bytes = 4;    // tiled: bytes per K/V element in shared memory (4 f32, 2 f16)
    uint32_t shared_bytes = 0;
    bool tuned = false;       // from `vkattn tune`'s cached winner (tuning_table.hpp)
    bool subgroup_reduce = false;  // tiled: row maxima by subgroup shuffles (attention_fused_sg_*)
};

/// The explicit path: the fused kernel (fc, with its log-sum-exp), then the weights pass P = exp(s - lse):
/// attention_weights_rowwise (the fused rowwise kernel's rows and key blocks) where the fused kernel is
/// the rowwise one, else attention_weights (tile x tile workgroups).
struct ExplicitConfig {
    int tile = 16;          // attention_weights: workgroups of tile x tile (row, key) pairs
    // attention_weights_rowwise: rows per workgroup and keys per dispatch, fixed rather than the fused
    // pass's (which follow Lq): one pipeline per dtype, head-dim class and score features. Each is half
    // the fused kernel's unrolled code at 64 keys; on lavapipe every new pipeline costs seconds of LLVM
    // (10-20 s cold), and tiles that followed the fused pass's added ~300 s to a cold test suite.
    int rowwise_rows = 64;
    int rowwise_keys = 64;  // at most the fused pass's keys, whose block fits shared memory
};

/// Head-dim capacity class of a problem: 64, 128, 256 or 512.
int head_dim_class(int64_t d);
/// True on devices that silently end shader loops after 65535 iterations per invocation (lavapipe).
bool has_loop_iteration_limit(const DeviceInfo& dev);
/// Upper bound of the loop iterations one invocation of the tiled fused kernel runs for `key_end` keys.
int64_t tiled_loop_iterations(const FusedConfig& c, int64_t D, int64_t Dv, int64_t key_end);
struct TuningTable;
/// Shared memory of the rowwise kernels (fused_rowwise, decode_split, weights_rowwise) at `keys` x `dcap`:
/// the f32 K/V block, or the raw blocks when K/V are q8_0 / q4_0 (smaller; the key count is still fitted
/// to the f32 block, so quantised K/V run the same BC as f16 ones).
uint32_t rowwise_shared_bytes(int keys, int dcap, DType kv_dtype = DType::f32);
/// The rowwise kernel's tiling on any device (quantised K/V run only there); throws Error(unsupported) when 8 keys do not fit.
FusedConfig choose_rowwise_config(const DeviceInfo& device, int dcap, DType dtype);
/// Fused tiling for head-dim class `dcap` on `device`: the tuned winner in `tuned` when there is one
/// that fits, else the defaults of device_tuning.cpp shrunk to the device. Throws Error(unsupported)
/// when nothing fits.
FusedConfig choose_fused_config(const DeviceInfo& device, int dcap, DType dtype = DType::f32, const TuningTable* tuned = nullptr);
/// The configurations `vkattn tune` times for one head-dim class and kernel kind (all fit the device).
std::vector<FusedConfig> fused_candidates(const DeviceInfo& device, int dcap, FusedKernel kernel, DType dtype = DType::f32);
/// Whether the tiled kernel may reduce a row's TPR lanes with subgroup shuffles on `device`.
bool can_subgroup_reduce(const DeviceInfo& device, int threads_per_row, int workgroup);
/// Which device_tuning.cpp branch picks the defaults.
std::string default_tiles_rule(const DeviceInfo& device, int dcap);
/// The tiled (GPU) kernel's tiling for `dcap` on `device`, whatever VKATTN_FUSED_KERNEL says.
FusedConfig choose_tiled_config(const DeviceInfo& device, int dcap, DType dtype = DType::f32);
/// Shrinks a rowwise config's row tile for a problem of Lq query rows (no-op for the tiled kernel).
void fit_fused_rows(FusedConfig& c, int64_t Lq);
ExplicitConfig choose_explicit_config(const DeviceInfo& device);
/// Invocations per workgroup of the f32 -> f16 output conversion: 256, or the device's limit if lower.
int convert_workgroup(const DeviceInfo& device);
/// The path that runs: the request, or fused unless weights are wanted.
Path choose_path(const AttentionOptions& options);

std::string fused_variant_name(const FusedConfig& c, DType dtype);
/// "explicit.<dt>[<the fused pass's variant>,weights_rowwise]" or "...,weights_tile16]".
std::string explicit_variant_name(const ExplicitConfig& c, const FusedConfig& fused, DType dtype);

}  // namespace vkattn::detail
