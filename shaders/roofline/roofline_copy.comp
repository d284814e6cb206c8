#version 450
// Roofline microbenchmark: memory bandwidth. Copies COUNT 16-byte words from binding 1 to binding 4,
// as one uvec4 per invocation and step (VEC4 = 1) or as four uint steps whose neighbouring
// invocations touch neighbouring words (VEC4 = 0; what SIMD-across-invocations CPUs load best).
// Consecutive invocations touch consecutive words (coalesced); a grid-stride loop covers buffers
// larger than one dispatch. Engine side: engine/tuning/roofline.cpp.
layout(local_size_x_id = 0) in;               // specialization constant 0: workgroup size
layout(constant_id = 1) const bool VEC4 = true; // specialization constant 1: access width

// Binding 0 is the engine's uniform block; the roofline kernels use its first row only.
layout(std140, set = 0, binding = 0) uniform Params {
    ivec4 dims0;  // unused, number of 16-byte words, unused, unused
} P;
// Two views of each buffer (descriptor aliasing); only one of them is used per specialization.
layout(std430, set = 0, binding = 1) readonly buffer Src4 { uvec4 src4[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src1 { uint src1[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Dst4 { uvec4 dst4[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Dst1 { uint dst1[]; };

void main() {
    const uint count = uint(P.dims0.y);
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (VEC4) {
        for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) dst4[i] = src4[i];
    } else {
        for (uint i = gl_GlobalInvocationID.x; i < count * 4u; i += stride) dst1[i] = src1[i];
    }
}
