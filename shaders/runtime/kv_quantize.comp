#version 450
// KvCache::append into a q8_0 / q4_0 cache: quantises new K or V rows on the device, one 32-value block per
// invocation, with ggml's rule (engine/runtime/dtype.cpp quantize_blocks is the host twin): q8_0 d = max|x| / 127,
// q = round(x / d); q4_0 d = m / -8 (m the value of largest magnitude), q = min(15, floor(x / d + 8.5)).
// Source: binding 1, rows of 32-value blocks in f32 (IN_F16 = 0) or 16-bit words (f16, or bf16 with FMT_IN_BF16).
// Destination: binding 4 as raw words, the cache's storage from byte 0. Blocks are 34 (18) bytes, so a block
// shares a word with its neighbour at one end: that half-word is written with atomicAnd / atomicOr (the
// neighbour may be written by another invocation at the same time, or be a cached block that must stay);
// the others are whole words of this block alone.
// Params: flags.w = blocks in this dispatch (Hkv heads x blocks per head = dims0.y); the source block g of
// head h starts at element offsets0.x + h * q_stride.y + 32 * (g % dims0.y), its destination at
// offsets0.w + h * o_stride.y + 32 * (g % dims0.y).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define O_BUFFER_AS_WORDS 1

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int QBITS = 8;  // 8: q8_0, 4: q4_0

#include "common/common.glsl"

void put_half(int word, bool high, uint bits) {
    const uint keep = high ? 0x0000ffffu : 0xffff0000u;
    atomicAnd(o_words[word], keep);
    atomicOr(o_words[word], high ? bits << 16 : bits);
}

void main() {
    const int g = int(gl_GlobalInvocationID.x) + int(gl_WorkGroupID.y) * int(gl_NumWorkGroups.x) * int(gl_WorkGroupSize.x);
    if (g >= P.flags.w) return;
    const int per_head = P.dims0.y;
    const int h = g / per_head, r = g - h * per_head;
    const int src = P.offsets0.x + h * P.q_stride.y + 32 * r;
    const int dst_elem = P.offsets0.w + h * P.o_stride.y + 32 * r;

    float x[32];
    [[unroll]] for (int e = 0; e < 32; ++e) x[e] = LOAD_Q(src + e);
    float amax = 0.0, m = 0.0;
    [[unroll]] for (int e = 0; e < 32; ++e) {
        if (abs(x[e]) > amax) { amax = abs(x[e]); m = x[e]; }
    }
    const float d = QBITS == 8 ? amax / 127.0 : m / -8.0;
    const float id = d != 0.0 ? 1.0 / d : 0.0;
    // The block as 16-bit halves: d, then the qs bytes two at a time (q8: 16 halves, q4: 8).
    const int NQ = QBITS == 8 ? 16 : 8;
    uint half_words[17];
    half_words[0] = packHalf2x16(vec2(d, 0.0)) & 0xffffu;
    [[unroll]] for (int i = 0; i < 16; ++i) {
        uint lo, hi;
        if (QBITS == 8) {
            // round half away from zero, as the host's std::round
            const float a = x[2 * i] * id, b = x[2 * i + 1] * id;
            lo = uint(int(clamp(sign(a) * floor(abs(a) + 0.5), -127.0, 127.0))) & 0xffu;
            hi = uint(int(clamp(sign(b) * floor(abs(b) + 0.5), -127.0, 127.0))) & 0xffu;
        } else {
            // qs[j] = nibble(x[j]) | nibble(x[j + 16]) << 4, two qs bytes per half
            const int j = (2 * i) & 15;
            const uint n0 = uint(clamp(floor(x[j] * id + 8.5), 0.0, 15.0)), n1 = uint(clamp(floor(x[j + 16] * id + 8.5), 0.0, 15.0));
            const uint n2 = uint(clamp(floor(x[j + 1] * id + 8.5), 0.0, 15.0)), n3 = uint(clamp(floor(x[j + 17] * id + 8.5), 0.0, 15.0));
            lo = n0 | (n1 << 4);
            hi = n2 | (n3 << 4);
        }
        half_words[1 + i] = i < NQ ? lo | (hi << 8) : 0u;
    }
    const int bb = QBITS == 8 ? 34 : 18;
    const int byte = (dst_elem / 32) * bb;
    const int w0 = byte >> 2;
    const int NF = NQ / 2;  // whole words of this block alone
    if ((byte & 2) == 0) {
        // d starts a word: words w0 .. w0 + NF - 1 whole, then the low half of the next.
        [[unroll]] for (int k = 0; k < 8; ++k)
            if (k < NF) o_words[w0 + k] = half_words[2 * k] | (half_words[2 * k + 1] << 16);
        put_half(w0 + NF, false, half_words[NQ]);
    } else {
        // d is the high half of word w0; the qs words follow whole.
        put_half(w0, true, half_words[0]);
        [[unroll]] for (int k = 0; k < 8; ++k)
            if (k < NF) o_words[w0 + 1 + k] = half_words[2 * k + 1] | (half_words[2 * k + 2] << 16);
    }
}
