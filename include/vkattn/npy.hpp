#pragma once
/// \file npy.hpp
/// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0, little-endian, C order).
#include <cstdint>
#include <string>
#include <vector>

#include "vkattn/dtype.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// An array as stored in a .npy file. Supported descriptors: '<f4' (f32), '<f2' (f16),
/// '<i4' (i32), '|u1' and '|b1' (u8). `bytes` holds the elements in C order.
struct NpyArray {
    Shape shape;
    DType dtype = DType::f32;
    std::vector<uint8_t> bytes;

    int64_t numel() const;
    /// Elements converted to float (f16 widened exactly; integers converted).
    std::vector<float> to_floats() const;
    /// Builds an array from floats, stored as `dtype` (f32 or f16).
    static NpyArray from_floats(const std::vector<float>& values, const Shape& shape, DType dtype);
};

/// Reads a .npy file. Throws Error(io_error) with the path and the problem (missing file, bad magic,
/// truncated data, unsupported dtype such as '<f8', Fortran order, ...).
NpyArray read_npy(const std::string& path);
/// Writes a .npy file (format 1.0). Throws Error(io_error) when the file cannot be written.
void write_npy(const std::string& path, const NpyArray& array);
/// Parses .npy bytes already in memory (used by read_npy and the fuzzer); `what` names the source in errors.
NpyArray parse_npy(const uint8_t* data, std::size_t size, const std::string& what);

}  // namespace vkattn
