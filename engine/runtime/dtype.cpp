// Element types and the exact host-side binary16 <-> binary32 conversions.
#include "vkattn/dtype.hpp"

#include <bit>
#include <string>

#include "vkattn/error.hpp"

namespace vkattn {

std::size_t dtype_size(DType t) noexcept {
    switch (t) {
        case DType::f32: return 4;
        case DType::f16: return 2;
        case DType::i32: return 4;
        case DType::u8: return 1;
    }
    return 0;
}

std::string_view dtype_name(DType t) noexcept {
    switch (t) {
        case DType::f32: return "f32";
        case DType::f16: return "f16";
        case DType::i32: return "i32";
        case DType::u8: return "u8";
    }
    return "unknown";
}

DType parse_dtype(std::string_view name, std::string_view argument) {
    if (name == "f32" || name == "float32" || name == "float") return DType::f32;
    if (name == "f16" || name == "float16" || name == "half") return DType::f16;
    if (name == "i32" || name == "int32") return DType::i32;
    if (name == "u8" || name == "uint8" || name == "bool") return DType::u8;
    throw Error(ErrorCode::invalid_argument, std::string(argument) + ": unknown dtype '" + std::string(name) +
                                                 "' (expected f32, f16, i32 or u8)");
}

namespace {

constexpr uint32_t kF32ExpMask = 0xffu;
constexpr uint32_t kF32MantMask = 0x7fffffu;
constexpr uint16_t kHalfInf = 0x7c00u;
constexpr uint16_t kHalfQuietBit = 0x0200u;

// Shifts `mantissa` right by `shift` bits, rounding to nearest with ties to even.
// A carry out of the mantissa bumps the exponent field, which is exactly what IEEE rounding wants
// (largest subnormal -> smallest normal, largest finite -> infinity).
uint32_t shift_round_even(uint32_t mantissa, int shift) {
    const uint32_t kept = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    const bool round_up = rest > half || (rest == half && (kept & 1u) != 0);
    return kept + (round_up ? 1u : 0u);
}

}  // namespace

uint16_t float_to_half(float f) noexcept {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t exp_field = (bits >> 23) & kF32ExpMask;
    const uint32_t mantissa = bits & kF32MantMask;

    if (exp_field == kF32ExpMask) {
        if (mantissa == 0) return sign | kHalfInf;
        // NaN: keep the top payload bits and force the quiet bit so the result is never infinity.
        return static_cast<uint16_t>(sign | kHalfInf | kHalfQuietBit | (mantissa >> 13));
    }
    const int exponent = static_cast<int>(exp_field) - 127;
    if (exponent > 15) return sign | kHalfInf;
    if (exponent >= -14) {
        // Normal half: rebias the exponent, round away 13 mantissa bits.
        const uint32_t biased = static_cast<uint32_t>(exponent + 15) << 23;
        return static_cast<uint16_t>(sign | shift_round_even(biased | mantissa, 13));
    }
    // Below 2^-25 everything (float subnormals included) rounds to zero; 2^-25 itself is a tie to 0.
    if (exponent < -25) return sign;
    // Half subnormal: value = m * 2^(exponent - 23) with the implicit bit; the half unit is 2^-24.
    const uint32_t full = mantissa | 0x800000u;
    return static_cast<uint16_t>(sign | shift_round_even(full, -exponent - 1));
}

float half_to_float(uint16_t h) noexcept {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp_field = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;

    if (exp_field == 0) {
        // Zero or subnormal: mantissa * 2^-24 is exact in float.
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return sign != 0 ? -magnitude : magnitude;
    }
    if (exp_field == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
    return std::bit_cast<float>(sign | ((exp_field + 112u) << 23) | (mantissa << 13));
}

}  // namespace vkattn
