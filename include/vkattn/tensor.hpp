#pragma once
/// \file tensor.hpp
/// Device tensors: a shared device buffer plus shape, strides (in elements) and dtype.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vkattn/dtype.hpp"

namespace vkattn {

class Context;

/// Sizes of each dimension, outermost first.
using Shape = std::vector<int64_t>;
/// Distance in elements between neighbours along each dimension (0 broadcasts).
using Strides = std::vector<int64_t>;

/// Contiguous row-major strides for `shape`.
Strides contiguous_strides(const Shape& shape);
/// "[2, 8, 128, 64]".
std::string to_string(const Shape& shape);

/// A view of device memory. Copies share the buffer; `transposed` and `view`
/// make new views without copying. Kernels read views through their strides, so
/// a [B, L, H, D] buffer viewed as [B, H, L, D] is consumed in place.
class Tensor {
public:
    Tensor() = default;

    const Shape& shape() const { return shape_; }
    const Strides& strides() const { return strides_; }
    DType dtype() const { return dtype_; }
    int64_t dim(int i) const { return shape_.at(static_cast<std::size_t>(i < 0 ? i + rank() : i)); }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t numel() const;
    /// Element offset of element [0, 0, ...] inside the buffer.
    int64_t offset() const { return offset_; }
    bool defined() const { return buffer_ != nullptr; }
    bool is_contiguous() const;

    /// The same memory with dimensions a and b swapped (no copy).
    Tensor transposed(int a, int b) const;
    /// The same memory with another shape and strides (no copy); checked to stay inside the buffer.
    Tensor view(const Shape& shape, const Strides& strides, int64_t offset_elements = 0) const;

    /// Copies the tensor to the host in logical (row-major) order, converting to T.
    /// T may be float (any dtype but integers; q8_0 / q4_0 give the dequantised values), uint16_t (f16 or
    /// bf16 bits), int32_t (i32) or uint8_t (u8, or the raw blocks of a contiguous q8_0 / q4_0 tensor).
    template <typename T>
    std::vector<T> download() const;

private:
    friend class Context;
    friend struct TensorAccess;  // the library's own operations reach the buffer through it
    struct Memory;               // the device buffer, defined inside the library
    std::shared_ptr<Memory> buffer_;
    Shape shape_;
    Strides strides_;
    int64_t offset_ = 0;
    DType dtype_ = DType::f32;
};

extern template std::vector<float> Tensor::download<float>() const;
extern template std::vector<uint16_t> Tensor::download<uint16_t>() const;
extern template std::vector<int32_t> Tensor::download<int32_t>() const;
extern template std::vector<uint8_t> Tensor::download<uint8_t>() const;

}  // namespace vkattn
