// Element types, the exact host-side binary16 / bfloat16 <-> binary32 conversions, and q8_0 / q4_0 blocks.
#include "vkattn/dtype.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "vkattn/error.hpp"

namespace vkattn {

std::size_t dtype_size(DType t) noexcept {
    switch (t) {
        case DType::f32: return 4;
        case DType::f16: return 2;
        case DType::i32: return 4;
        case DType::u8: return 1;
        case DType::bf16: return 2;
        case DType::q8_0:
        case DType::q4_0: return 0;
    }
    return 0;
}

bool dtype_is_quantized(DType t) noexcept { return t == DType::q8_0 || t == DType::q4_0; }
int64_t dtype_block_elements(DType t) noexcept { return dtype_is_quantized(t) ? 32 : 1; }
std::size_t dtype_block_bytes(DType t) noexcept {
    return t == DType::q8_0 ? 34 : t == DType::q4_0 ? 18 : dtype_size(t);
}
std::size_t dtype_storage_bytes(DType t, int64_t elements) noexcept {
    return static_cast<std::size_t>(elements / dtype_block_elements(t)) * dtype_block_bytes(t);
}

std::string_view dtype_name(DType t) noexcept {
    switch (t) {
        case DType::f32: return "f32";
        case DType::f16: return "f16";
        case DType::i32: return "i32";
        case DType::u8: return "u8";
        case DType::bf16: return "bf16";
        case DType::q8_0: return "q8_0";
        case DType::q4_0: return "q4_0";
    }
    return "unknown";
}

DType parse_dtype(std::string_view name, std::string_view argument) {
    if (name == "f32" || name == "float32" || name == "float") return DType::f32;
    if (name == "f16" || name == "float16" || name == "half") return DType::f16;
    if (name == "i32" || name == "int32") return DType::i32;
    if (name == "u8" || name == "uint8" || name == "bool") return DType::u8;
    if (name == "bf16" || name == "bfloat16") return DType::bf16;
    if (name == "q8_0" || name == "q8") return DType::q8_0;
    if (name == "q4_0" || name == "q4") return DType::q4_0;
    throw Error(ErrorCode::invalid_argument, std::string(argument) + ": unknown dtype '" + std::string(name) +
                                                 "' (expected f32, f16, bf16, i32, u8, q8_0 or q4_0)");
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

uint16_t float_to_bf16(float f) noexcept {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN stays NaN (quiet)
    // Round to nearest even on the 16 dropped bits; a carry into the exponent is IEEE's rounding (max finite -> inf).
    return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float bf16_to_float(uint16_t b) noexcept { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

namespace {

constexpr int64_t kBlock = 32;

void put_scale(uint8_t* block, float d) {
    const uint16_t h = float_to_half(d);
    std::memcpy(block, &h, 2);
}
float get_scale(const uint8_t* block) {
    uint16_t h;
    std::memcpy(&h, block, 2);
    return half_to_float(h);
}

}  // namespace

void quantize_blocks(DType t, const float* x, int64_t n, uint8_t* out) {
    const std::size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, out += bb) {
        if (t == DType::q8_0) {
            float amax = 0;
            for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
            if (std::any_of(x, x + kBlock, [](float v) { return std::isnan(v); })) amax = NAN;
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            put_scale(out, d);
            for (int64_t j = 0; j < kBlock; ++j) {
                const float q = std::isfinite(x[j] * id) ? std::round(x[j] * id) : 0.0f;
                out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f)));
            }
        } else {
            float amax = 0, m = 0;
            bool nan = false;
            for (int64_t j = 0; j < kBlock; ++j) {
                nan = nan || std::isnan(x[j]);
                if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), m = x[j];
            }
            const float d = nan ? NAN : m / -8.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            put_scale(out, d);
            const auto nibble = [&](float v) {
                const float s = v * id + 8.5f;
                return static_cast<uint8_t>(std::isfinite(s) ? std::clamp(std::floor(s), 0.0f, 15.0f) : 8.0f);
            };
            for (int64_t j = 0; j < kBlock / 2; ++j) out[2 + j] = static_cast<uint8_t>(nibble(x[j]) | (nibble(x[j + 16]) << 4));
        }
    }
}

void dequantize_blocks(DType t, const uint8_t* blocks, int64_t n, float* out) {
    const std::size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kBlock; ++b, blocks += bb, out += kBlock) {
        const float d = get_scale(blocks);
        if (t == DType::q8_0) {
            for (int64_t j = 0; j < kBlock; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(blocks[2 + j]));
        } else {
            for (int64_t j = 0; j < kBlock / 2; ++j) {
                out[j] = d * static_cast<float>((blocks[2 + j] & 0x0f) - 8);
                out[j + 16] = d * static_cast<float>((blocks[2 + j] >> 4) - 8);
            }
        }
    }
}

}  // namespace vkattn
