#pragma once
/// \file dtype.hpp
/// Element types of tensors and the host-side fp16 / bf16 conversions and q8_0 / q4_0 block (de)quantisation.
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
    bf16, ///< bfloat16: the top 16 bits of a binary32 (stored; kernels compute in f32)
    /// K/V only: blocks of 32 values along the last dim, ggml's q8_0 layout {f16 d; int8 qs[32]} (34 bytes),
    /// value = d * qs[j]. The last dim must be a multiple of 32 and contiguous (stride 1); see dtype_block_bytes.
    q8_0,
    /// K/V only: blocks of 32 values, ggml's q4_0 layout {f16 d; uint8 qs[16]} (18 bytes); element j < 16 is the
    /// low nibble of qs[j], element j + 16 its high nibble; value = d * (nibble - 8).
    q4_0,
};

/// Size of one element in bytes; 0 for the block formats (q8_0, q4_0: see dtype_block_bytes).
std::size_t dtype_size(DType t) noexcept;
/// True for q8_0 and q4_0.
bool dtype_is_quantized(DType t) noexcept;
/// Elements per block: 32 for q8_0 and q4_0, else 1.
int64_t dtype_block_elements(DType t) noexcept;
/// Bytes per block: 34 (q8_0), 18 (q4_0), else dtype_size.
std::size_t dtype_block_bytes(DType t) noexcept;
/// Bytes `elements` values take (for block formats `elements` must be a multiple of 32).
std::size_t dtype_storage_bytes(DType t, int64_t elements) noexcept;
/// "f32", "f16", "i32", "u8", "bf16", "q8_0", "q4_0".
std::string_view dtype_name(DType t) noexcept;
/// Parses a dtype name; throws Error(invalid_argument) naming `argument` otherwise.
DType parse_dtype(std::string_view name, std::string_view argument = "dtype");

/// Converts a float to IEEE half bits, rounding to nearest even (overflow gives ±inf, NaN stays NaN).
uint16_t float_to_half(float f) noexcept;
/// Converts IEEE half bits to float exactly.
float half_to_float(uint16_t h) noexcept;
/// Rounds a float to the nearest half and back: what storing it as f16 does to it.
inline float round_to_half(float f) noexcept { return half_to_float(float_to_half(f)); }

/// Converts a float to bfloat16 bits (its top 16 bits), rounding to nearest even; NaN stays NaN.
uint16_t float_to_bf16(float f) noexcept;
/// Converts bfloat16 bits to float exactly (a shift).
float bf16_to_float(uint16_t b) noexcept;
/// What storing a float as bf16 does to it.
inline float round_to_bf16(float f) noexcept { return bf16_to_float(float_to_bf16(f)); }

/// Quantises `n` floats (a multiple of 32) into q8_0 or q4_0 blocks (`out`: dtype_storage_bytes(t, n) bytes),
/// with ggml's rounding: q8_0 d = max|x| / 127, q = round(x / d); q4_0 d = m / -8 where m is the value of
/// largest magnitude, q = min(15, floor(x / d + 8.5)). Non-finite inputs give non-finite scales.
void quantize_blocks(DType t, const float* x, int64_t n, uint8_t* out);
/// The inverse: `n` values from q8_0 / q4_0 blocks.
void dequantize_blocks(DType t, const uint8_t* blocks, int64_t n, float* out);

}  // namespace vkattn
