#pragma once
// The matmul engine behind vkattn::matmul and the layers built on it (multi-head attention's
// projections, additive attention's projections): tiling per device, operand binding, dispatches.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/context_state.hpp"
#include "vkattn/matmul.hpp"

namespace vkattn::detail {
class CallTarget;
}

namespace vkattn::detail {

/// Tiling of shaders/layers/matmul.comp: specialization constants 0..4.
struct MatmulConfig {
    int rows = 128;   ///< invocations per workgroup
    int cols = 64;    ///< output columns per workgroup (a multiple of 4)
    int kblock = 64;  ///< values of k per dispatch (a multiple of 16)
    int rm = 1;       ///< rows of A per invocation (a workgroup covers rows x rm rows)
    int tiles = 1;    ///< W blocks of cols x kblock per dispatch, one after the other (1 or 2)
};

/// Tiles for `device`, from its shared memory and workgroup limits.
MatmulConfig choose_matmul_config(const DeviceInfo& device);
std::string matmul_variant_name(const MatmulConfig& c, DType dtype);

/// A run of k over which A is uniformly strided: A(.., m, k) at a_offset + k * a_k_stride for
/// k < length, multiplying W's columns w_k0 + k. A plain [.., M, K] operand is one segment; the
/// concatenated heads of an attention output ([B, H, L, D] read as [B, L, H*D]) are one per head.
struct KSegment {
    int64_t a_offset = 0;
    int64_t a_k_stride = 1;
    int64_t w_k0 = 0;
    int64_t length = 0;
};

/// One validated matmul: Y[b1, b2, m, n] = sum over segments and k of A · W(n, k) + bias[n].
struct MatmulProblem {
    Tensor a;                             ///< buffer and dtype of A (its shape is not used)
    int64_t B1 = 1, B2 = 1, M = 0, N = 0;
    std::array<int64_t, 3> a_strides{};   ///< b1, b2, m (elements)
    std::vector<KSegment> segments;
    Tensor w;                             ///< viewed as [N, K]
    std::optional<Tensor> bias;           ///< [N]
    DType out_dtype = DType::f32;
    /// Where Y goes (checked by check_matmul_out): any strides in f32, contiguous in f16. Absent: a
    /// new contiguous [B1, B2, M, N] tensor from the target (a result, or a temporary when `temporary`).
    std::optional<Tensor> out;
    bool temporary = false;
    bool measure_time = false;
};

/// Runs a problem whose shapes were validated through `target` (run, recorded, queued or sized);
/// result.out is `p.out` or the tensor the target gave. Throws Error(unsupported) when an operand's
/// span is larger than one binding.
MatmulResult run_matmul(ContextState& st, Context& ctx, const MatmulProblem& p, CallTarget& target);

/// Checks an output the caller gave for Y of `shape` in `dtype`: Error(invalid_argument) naming `name`.
/// It must not overlap the operands in `reads` (the kernel would read what it writes).
void check_matmul_out(Context& ctx, const Tensor& out, const Shape& shape, DType dtype, const char* name,
                      const std::vector<std::pair<const Tensor*, const char*>>& reads);

/// matmul_full through `target`: checks, plans, binds, then target.finish.
MatmulResult matmul_call(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias, const MatmulOptions& o,
                         CallTarget& target);

/// The range of `buffer` that covers elements [lo, hi] (of `elem_size` bytes), starting at an
/// offset the device accepts; `base` receives the element index at the range's start. Throws
/// Error(unsupported) naming `what` when the range is too large for one binding or int32 indices.
BoundRange bind_elements(const ContextState& st, const DeviceBuffer& buffer, std::size_t elem_size, int64_t lo, int64_t hi,
                         const std::string& what, int64_t& base);

}  // namespace vkattn::detail
