#pragma once
/// \file matmul.hpp
/// Matrix multiply on the device: Y = A · Wᵀ + bias (PyTorch's nn.Linear) or Y = A · W + bias,
/// f32 or f16 storage, f32 accumulation, batched and strided A.
#include <cstdint>
#include <optional>
#include <string>

#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// Options of one matmul call.
struct MatmulOptions {
    /// true: W is [N, K] and Y = A · Wᵀ (nn.Linear's weight layout). false: W is [K, N] and Y = A · W.
    bool transpose_w = true;
    /// Output dtype (f32 or f16); default: A's dtype. Accumulation is always f32.
    std::optional<DType> out_dtype;
    /// Where Y goes: a tensor of shape [..., M, N] (a's shape with K replaced by N) in the output
    /// dtype, e.g. a view of a larger buffer or wrap_buffer of an application's buffer. f32: any
    /// strides; f16: contiguous, from a 4-byte boundary, an even number of elements. It must not
    /// overlap a, w or bias. Absent: a new contiguous tensor. Required by record_matmul.
    std::optional<Tensor> out;
    /// Record GPU timestamps around the kernels (MatmulResult::gpu_milliseconds).
    bool measure_time = false;
};

struct MatmulResult {
    Tensor out;                    ///< [..., M, N], contiguous
    std::string variant;           ///< e.g. "matmul.f32[rows128,n64,k64]"
    double gpu_milliseconds = -1;  ///< when measure_time and timestamps are supported
    uint32_t dispatches = 0;
};

/// Y[..., m, n] = sum_k A[..., m, k] · W(n, k) + bias[n].
/// a: [M, K], [B, M, K] or [B1, B2, M, K], any strides (views such as transposed heads are read in place);
/// w: [N, K] (transpose_w) or [K, N], any strides; bias: [N] or none. a, w and bias share one dtype
/// (f32 or f16). Throws Error(invalid_argument) naming the argument before anything runs, and
/// Error(unsupported) when an operand is larger than the device can bind at once.
MatmulResult matmul_full(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias = std::nullopt,
                         const MatmulOptions& options = {});

/// As matmul_full, returning the output only.
Tensor matmul(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias = std::nullopt,
              const MatmulOptions& options = {});

}  // namespace vkattn
