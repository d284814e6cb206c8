// Quad (4-element) loads of Q, K and V for the tiled fused kernel (attention_fused.comp): one place that
// knows the storage format, so a new K/V format is one more branch here, not a new kernel.
//
//   TILE_QUAD            what a K/V tile holds in shared memory per 4 elements, in the storage precision
//                        (f32: uvec4, 16 bytes; f16: uvec2, two packed halves a word, 8 bytes)
//   tile_unpack(x)       that quad as a vec4 (the only conversion in the kernel's inner loops)
//   load_k_quad(base, stride, d, n, quads) / load_v_quad(...)
//                        elements d .. d + 3 of one K / V row starting at element `base`, zero past n, as a
//                        TILE_QUAD; one 16- (f32) or 8-byte (f16) load when `quads`, else four scalar loads
//   load_q4(...)         the same for a Q row, as vec4 (Q stays in registers)
//
// Formats that store blocks of 32 values along the head dim with a per-block scale (ggml's q8_0, q4_0)
// would add a branch: their TILE_QUAD the quad's raw bytes plus the block's scale (or the dequantised f16
// quad), load_k_quad finding block d / 32 and the quad's bytes in it; the kernel does not change, as it
// reads K and V only through these functions and tile_unpack. bf16 is the f16 branch with a different
// unpack (bits << 16).
//
// The including kernel enables GL_EXT_control_flow_attributes ([[unroll]]) and includes common.glsl first.
// `quads` is the uniform test quads_ok() (quad_views.glsl): a row's elements are contiguous, every row and
// the slice start at a multiple of 4 elements and n is a multiple of 4 (then no quad straddles n).
// Otherwise (a strided or odd-sized view) the scalar tail path loads element by element.
#ifndef VKATTN_KV_QUADS_GLSL
#define VKATTN_KV_QUADS_GLSL

#include "common/quad_views.glsl"  // q_quads / k_quads / v_quads (uvec4 f32, uvec2 f16 words) and quads_ok

#if IN_F16
#define TILE_QUAD uvec2
vec4 tile_unpack(uvec2 x) { return QUAD(x); }
// Four values that came from 16-bit storage (f16, or bf16 with FMT_IN_BF16): packing them back is exact.
uvec2 tile_pack(vec4 x) { return uvec2(pack16x2_exact(x.xy, in_bf16()), pack16x2_exact(x.zw, in_bf16())); }
#else
#define TILE_QUAD uvec4
vec4 tile_unpack(uvec4 x) { return QUAD(x); }
uvec4 tile_pack(vec4 x) { return floatBitsToUint(x); }
#endif

// The branches are `if`s, not selects, so that nothing past n (or past the last key) is ever read.
#define LOAD_QUAD_BODY(QUADS, LOAD)                                                     \
    TILE_QUAD x = TILE_QUAD(0u);                                                        \
    if (quads) {                                                                        \
        if (d < n) x = QUADS[(base + d) >> 2];                                          \
    } else {                                                                            \
        vec4 y = vec4(0.0);                                                             \
        [[unroll]] for (int c = 0; c < 4; ++c)                                          \
            if (d + c < n) y[c] = LOAD(base + (d + c) * stride);                        \
        x = tile_pack(y);                                                               \
    }                                                                                   \
    return x;

TILE_QUAD load_k_quad(int base, int stride, int d, int n, bool quads) { LOAD_QUAD_BODY(k_quads, LOAD_K) }
TILE_QUAD load_v_quad(int base, int stride, int d, int n, bool quads) { LOAD_QUAD_BODY(v_quads, LOAD_V) }
vec4 load_q4(int base, int stride, int d, int n, bool quads) {
    TILE_QUAD x = TILE_QUAD(0u);
    if (quads) {
        if (d < n) x = q_quads[(base + d) >> 2];
        return tile_unpack(x);
    }
    vec4 y = vec4(0.0);
    [[unroll]] for (int c = 0; c < 4; ++c)
        if (d + c < n) y[c] = LOAD_Q(base + (d + c) * stride);
    return y;
}

#endif
