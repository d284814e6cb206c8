// vec4 views of Q/K/V (bindings 1-3 of common.glsl) and the rule for reading a row through them; shared
// by the row-per-invocation kernels (rowwise_block.glsl) and the matmul (layers/matmul.comp).
#ifndef VKATTN_QUAD_VIEWS_GLSL
#define VKATTN_QUAD_VIEWS_GLSL

// vec4 views of the bindings in common.glsl (4 elements: 4 words of f32, 2 words of f16 or bf16).
#if IN_F16
layout(std430, set = 0, binding = 1) readonly buffer QBuf4 { uvec2 q_quads[]; };
layout(std430, set = 0, binding = 2) readonly buffer KBuf4 { uvec2 k_quads[]; };
layout(std430, set = 0, binding = 3) readonly buffer VBuf4 { uvec2 v_quads[]; };
#define QUAD(w) vec4(unpack16x2((w).x, in_bf16()), unpack16x2((w).y, in_bf16()))
#else
layout(std430, set = 0, binding = 1) readonly buffer QBuf4 { uvec4 q_quads[]; };
layout(std430, set = 0, binding = 2) readonly buffer KBuf4 { uvec4 k_quads[]; };
layout(std430, set = 0, binding = 3) readonly buffer VBuf4 { uvec4 v_quads[]; };
#define QUAD(w) uintBitsToFloat(w)
#endif

// A row of n elements starting at `base` with element stride `stride` can be read 4 at a time.
bool quads_ok(int base, int row_stride, int stride, int n) {
    return stride == 1 && (n & 3) == 0 && (base & 3) == 0 && (row_stride & 3) == 0;
}

#endif
