#pragma once
/// \file dtype.hpp
/// Element types of tensors and the host-side fp16 conversions.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vkattn {

/// Element type of a tensor.
enum class DType : uint8_t {
    f32,  ///< IEEE binary32
    f16,  ///< IEEE binary16 (stored; kernels accumulate in f32)
    i32,  ///< 32-bit signed integer (key lengths)
    u8,   ///< one byte; as a boolean mask, non-zero means "attend"
};

/// Size of one element in bytes.
std::size_t dtype_size(DType t) noexcept;
/// "f32", "f16", "i32", "u8".
std::string_view dtype_name(DType t) noexcept;
/// Parses a dtype name; throws Error(invalid_argument) naming `argument` otherwise.
DType parse_dtype(std::string_view name, std::string_view argument = "dtype");

/// Converts a float to IEEE half bits, rounding to nearest even (overflow gives ±inf, NaN stays NaN).
uint16_t float_to_half(float f) noexcept;
/// Converts IEEE half bits to float exactly.
float half_to_float(uint16_t h) noexcept;
/// Rounds a float to the nearest half and back: what storing it as f16 does to it.
inline float round_to_half(float f) noexcept { return half_to_float(float_to_half(f)); }

}  // namespace vkattn
