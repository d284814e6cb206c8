#version 450
// Packs f32 results into f16 (or, with FMT_OUT_BF16, bf16) storage. Each invocation writes one whole 32-bit word (two halves), so
// no two invocations ever touch the same word, whatever the element count's parity.
#extension GL_GOOGLE_include_directive : require
#define P_BUFFER_AS_WORDS 1

layout(local_size_x_id = 0) in;  // specialization constant 0: workgroup size (the planner's convert_workgroup)

#include "common/common.glsl"

// Reuses the common layout: source floats at binding 4 (o_data), destination words at binding 8.
void main() {
    const int n = P.flags.w;
    const int word = int(gl_GlobalInvocationID.x) + int(gl_WorkGroupID.y) * int(gl_NumWorkGroups.x) * int(gl_WorkGroupSize.x);
    const int e = word * 2;
    if (e >= n) return;
    float a = o_data[P.offsets0.w + e];
    float b = e + 1 < n ? o_data[P.offsets0.w + e + 1] : 0.0;
    p_words[P.offsets1.z + word] = pack_out16x2(vec2(a, b));  // f16, or bf16 with FMT_OUT_BF16
}
