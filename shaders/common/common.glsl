// Shared by every attention kernel: the parameter block, the buffer bindings and typed loads.
// Mirrors engine/runtime/kernel_params.hpp (KernelParams); keep the two in step.
#ifndef VKATTN_COMMON_GLSL
#define VKATTN_COMMON_GLSL

#ifndef IN_F16
#define IN_F16 0
#endif

// Element indices are int32: the engine never binds more than 2^31 bytes at once and splits larger
// problems into chunks of (batch, head) slices, so every index below fits.
layout(std140, set = 0, binding = 0) uniform Params {
    ivec4 dims0;      // B, Hq, Hkv, Lq
    ivec4 dims1;      // Lk, D, Dv, group = Hq / Hkv
    ivec4 q_stride;   // batch, head, row, dim (elements)
    ivec4 k_stride;
    ivec4 v_stride;
    ivec4 o_stride;
    ivec4 m_stride;   // mask strides (0 broadcasts)
    ivec4 offsets0;   // q, k, v, o element offsets of this chunk's first slice inside the bound ranges
    ivec4 offsets1;   // mask, lse, p offsets; w: a kernel's own (rowwise: work-list index, split-KV: first key, additive: v_a's offset)
    ivec4 chunk;      // first flattened b*Hq+h of the chunk, its b, its h, first row tile
    ivec4 flags;      // causal (0 none, 1 top-left, 2 bottom-right), mask kind (0 none, 1 f32, 2 f16, 3 u8, 4 bf16), FLAG_* bits, element count (convert)
    vec4 scalars;     // scale * log2(e), log2(e), scale, unused
    ivec4 ext;        // window left (-1: none), window right (-1: none), ALiBi slopes' word offset in binding 6 (-1: none), first key block (decode)
    vec4 ext_f;       // softcap (0: off), unused, unused, unused
    ivec4 ext2;       // attention sinks' word offset in binding 6 (-1: none), FMT_* storage bits, unused, unused
    ivec4 seq;        // sequence table's word offset in binding 6 (-1: none), block table's (-1: not paged), log2(page size), pages per table row (sequence_rows.glsl)
} P;

layout(std430, set = 0, binding = 1) readonly buffer QBuf { uint q_words[]; };
layout(std430, set = 0, binding = 2) readonly buffer KBuf { uint k_words[]; };
layout(std430, set = 0, binding = 3) readonly buffer VBuf { uint v_words[]; };
#ifdef O_BUFFER_AS_WORDS
layout(std430, set = 0, binding = 4) buffer OBuf { uint o_words[]; };  // raw words (packed f16 output)
#else
layout(std430, set = 0, binding = 4) buffer OBuf { float o_data[]; };
#endif
layout(std430, set = 0, binding = 5) readonly buffer MBuf { uint m_words[]; };
layout(std430, set = 0, binding = 6) readonly buffer LBuf { int key_lengths[]; };
layout(std430, set = 0, binding = 7) buffer LseBuf { float lse_data[]; };
#ifdef P_BUFFER_AS_WORDS
layout(std430, set = 0, binding = 8) buffer PBuf { uint p_words[]; };  // raw words (packed f16 output)
#else
layout(std430, set = 0, binding = 8) buffer PBuf { float p_data[]; };
#endif

const int CAUSAL_NONE = 0;
const int CAUSAL_TOP_LEFT = 1;
const int CAUSAL_BOTTOM_RIGHT = 2;
const int FLAG_KEY_LENGTHS = 1;  // flags.z: key_lengths is bound
const int FLAG_LSE = 2;          // flags.z: lse is bound and wanted
const int FLAG_ALIGN_KEY_LENGTHS = 4;  // flags.z: bottom-right causality, the window and ALiBi align to key_lengths[b], not Lk
const int FLAG_PACK_GROUP = 8;   // flags.z (tiled kernel): a workgroup's rows are the GQA group's heads x query rows
const int FLAG_ROW_STATE = 16;   // flags.z (fused kernels, explicit path): also write each row's final (m, l) to binding 8
                                 // at P.offsets1.z + 2 * (local slice * Lq + row), for the weights pass
const int MASK_NONE = 0;
const int MASK_F32 = 1;
const int MASK_F16 = 2;
const int MASK_U8 = 3;
const int MASK_BF16 = 4;
// P.ext2.y: storage formats chosen at run time (one pipeline serves f16 and bf16: the 16-bit variants).
const int FMT_IN_BF16 = 1;   // the 16-bit words of Q/K/V (the IN_F16 variants) hold bfloat16, not binary16
const int FMT_OUT_BF16 = 2;  // packed 16-bit outputs (O_BUFFER_AS_WORDS, the convert pass) are bfloat16

// Scores at or below this (after adding an additive mask) count as masked out; also the running
// maximum's start value: large, finite and negative, so m_old - m_new never sees inf - inf.
const float MASKED_SCORE = -1.0e30;

int B_() { return P.dims0.x; }
int HQ() { return P.dims0.y; }
int LQ() { return P.dims0.w; }
int LK() { return P.dims1.x; }
int HEAD_D() { return P.dims1.y; }
int HEAD_DV() { return P.dims1.z; }
int GROUP() { return P.dims1.w; }

float negative_infinity() { return uintBitsToFloat(0xff800000u); }

// Two 16-bit floats of one word, low half first: bfloat16 is the top half of a binary32 (a shift), binary16
// the hardware conversion. `bf16` is uniform (a Params bit), so the choice costs a select, not a pipeline.
vec2 unpack16x2(uint w, bool bf16) {
    return bf16 ? vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u)) : unpackHalf2x16(w);
}
bool in_bf16() { return (P.ext2.y & FMT_IN_BF16) != 0; }
// Packs two values that came from 16-bit storage (exact in either format).
uint pack16x2_exact(vec2 x, bool bf16) {
    return bf16 ? (floatBitsToUint(x.x) >> 16) | (floatBitsToUint(x.y) & 0xffff0000u) : packHalf2x16(x);
}
// bfloat16 bits of x rounded to nearest even by integer ops (NaN stays NaN, quiet).
uint bf16_bits(float x) {
    const uint b = floatBitsToUint(x);
    return (b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}
// Packs two results for a 16-bit output: f16 or, with FMT_OUT_BF16, bf16 (both round to nearest even).
uint pack_out16x2(vec2 x) {
    return (P.ext2.y & FMT_OUT_BF16) != 0 ? bf16_bits(x.x) | (bf16_bits(x.y) << 16) : packHalf2x16(x);
}

// Q/K/V are bound as raw 32-bit words; 16-bit storage (f16 or bf16) packs two elements a word.
float load_elem(uint word, int elem) {
#if IN_F16
    return unpack16x2(word, in_bf16())[elem & 1];
#else
    return uintBitsToFloat(word);
#endif
}
#if IN_F16
#define LOAD_Q(i) load_elem(q_words[(i) >> 1], (i))
#define LOAD_K(i) load_elem(k_words[(i) >> 1], (i))
#define LOAD_V(i) load_elem(v_words[(i) >> 1], (i))
#else
#define LOAD_Q(i) uintBitsToFloat(q_words[(i)])
#define LOAD_K(i) uintBitsToFloat(k_words[(i)])
#define LOAD_V(i) uintBitsToFloat(v_words[(i)])
#endif

// The slice of one (batch, head) pair relative to the chunk's bound ranges.
struct Slice {
    int bh;      // flattened b * Hq + h
    int b, h, hkv;
    int q_base, k_base, v_base, o_base, m_base;
};

#include "common/sequence_rows.glsl"  // packed sequences and paged keys: seq_q_len, key_row, apply_sequence_rows

Slice make_slice(int local_bh) {
    Slice s;
    s.bh = P.chunk.x + local_bh;
    s.b = s.bh / HQ();
    s.h = s.bh - s.b * HQ();
    s.hkv = s.h / GROUP();
    int db = s.b - P.chunk.y;
    int dh = s.h - P.chunk.z;
    int dhkv = s.hkv - P.chunk.z / GROUP();
    s.q_base = P.offsets0.x + db * P.q_stride.x + dh * P.q_stride.y;
    s.k_base = P.offsets0.y + db * P.k_stride.x + dhkv * P.k_stride.y;
    s.v_base = P.offsets0.z + db * P.v_stride.x + dhkv * P.v_stride.y;
    s.o_base = P.offsets0.w + db * P.o_stride.x + dh * P.o_stride.y;
    s.m_base = P.offsets1.x + db * P.m_stride.x + dh * P.m_stride.y;
    apply_sequence_rows(s);
    return s;
}

// Row i's aligned key i' = i + shift: shift = Lk - Lq (the last query meets the last key, as
// FlashAttention's bottom-right causality and window), or key_lengths[b] - Lq when aligned to the
// key lengths (a KV cache: the last new query meets the batch's last cached key); Lq is the sequence's
// own query count for packed sequences (sequence_rows.glsl).
int aligned_shift(int b) { return ((P.flags.z & FLAG_ALIGN_KEY_LENGTHS) != 0 ? key_lengths[b] : LK()) - seq_q_len(b); }

// Keys [key_start, key_end) may be visible to query row i; the others are masked by causality,
// padding or the sliding window.
int key_end_for_row(int b, int i) {
    int end = LK();
    if (P.flags.x == CAUSAL_TOP_LEFT) end = min(end, i + 1);
    if (P.flags.x == CAUSAL_BOTTOM_RIGHT) end = min(end, i + aligned_shift(b) + 1);
    if ((P.flags.z & FLAG_KEY_LENGTHS) != 0) end = min(end, key_lengths[b]);
    if (P.ext.y >= 0) end = min(end, i + aligned_shift(b) + P.ext.y + 1);
    return max(end, 0);
}
int key_start_for_row(int b, int i) { return P.ext.x >= 0 ? clamp(i + aligned_shift(b) - P.ext.x, 0, LK()) : 0; }

// tanh to a few ulp of relative error over the whole range. The GLSL builtin is lowered by drivers
// (Mesa's SPIR-V front end among them) to (e^x - e^-x) / (e^x + e^-x), which cancels near 0: its error
// is ~1 ulp of 1, not of tanh(x). Soft-capped scores live there (|s| << cap), and cap * tanh(s / cap)
// then carried an absolute error of ~cap * 1e-7 into every score (cap 50 missed the naive kernel's
// bound in most seeds; tests/split_kv_test.cpp SoftcapPrecision). Below |x| = 0.25 the odd Taylor
// series to x^9 (next term < 1e-8 relative); above, (1 - e) / (1 + e) with e = exp(-2|x|) <= 0.61,
// which loses under two bits. Inf gives +-1, NaN stays NaN.
float accurate_tanh(float x) {
    const float a = abs(x), x2 = x * x;
    const float series = x + x * x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0))));
    const float e = exp(-2.0 * a);
    const float tail = (1.0 - e) / (1.0 + e);
    return a < 0.25 ? series : (x < 0.0 ? -tail : tail);
}

// Soft-capping (cap * tanh(s / cap)) and ALiBi (-slope_h * |j - i'|) of a scaled score, in that order.
// The kernels that run on CPU devices call the two halves under compile-time switches instead.
float softcap_score(float sc) { return P.ext_f.x * accurate_tanh(sc / P.ext_f.x); }
float alibi_slope(int h) { return intBitsToFloat(key_lengths[P.ext.z + h]); }
float alibi_bias(float slope, int i_aligned, int j) { return -slope * abs(float(j - i_aligned)); }
float transform_score(Slice s, int i, int j, float sc) {
    if (P.ext_f.x > 0.0) sc = softcap_score(sc);
    if (P.ext.z >= 0) sc += alibi_bias(alibi_slope(s.h), i + aligned_shift(s.b), j);
    return sc;
}

// Applies the explicit mask to a score; `units` converts the additive mask into the score's units
// (log2(e) for the fused kernel's log2 domain, 1 for natural units). Masked keys give MASKED_SCORE.
float apply_mask(Slice s, int i, int j, float score, float units) {
    int kind = P.flags.y;
    if (kind == MASK_NONE) return score;
    int idx = s.m_base + i * P.m_stride.z + j * P.m_stride.w;
    if (kind == MASK_U8) {
        uint byte_val = (m_words[idx >> 2] >> (8 * (idx & 3))) & 0xffu;
        return byte_val != 0u ? score : MASKED_SCORE;
    }
    float add = kind == MASK_F32 ? uintBitsToFloat(m_words[idx]) : unpack16x2(m_words[idx >> 1], kind == MASK_BF16)[idx & 1];
    if (add <= MASKED_SCORE) return MASKED_SCORE;  // -inf and "effectively -inf" mask entries
    return max(score + add * units, MASKED_SCORE);
}

#endif
