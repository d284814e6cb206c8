#version 450
// Roofline microbenchmark: arithmetic peak. Every invocation runs CHAINS independent vec4 chains of
// x = fma(x, a, b), so the device can overlap CHAINS FMAs per lane instead of waiting on each one's
// latency. The coefficients come from the parameter block (nothing folds at compile time) and the
// sum of the chains is stored (nothing is dead). FMA_F16=1 computes in float16 (the device must
// report and enable shaderFloat16). Engine side: engine/tuning/roofline.cpp.
#if FMA_F16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VEC f16vec4
#define SCALAR float16_t
#else
#define VEC vec4
#define SCALAR float
#endif

layout(local_size_x_id = 0) in;              // specialization constant 0: workgroup size
layout(constant_id = 1) const int CHAINS = 8; // specialization constant 1: independent chains

// Binding 0 is the engine's uniform block; the roofline kernels use its first two rows only.
layout(std140, set = 0, binding = 0) uniform Params {
    ivec4 dims0;  // iterations (each does 4 rounds over every chain), unused x 3
    vec4 coeffs;  // a, b, unused, unused
} P;
layout(std430, set = 0, binding = 4) writeonly buffer Out { float result[]; };

void main() {
    const SCALAR a = SCALAR(P.coeffs.x);
    const SCALAR b = SCALAR(P.coeffs.y);
    const float seed = float(gl_GlobalInvocationID.x & 1023u) * (1.0 / 1024.0);
    VEC acc[CHAINS];
    for (int c = 0; c < CHAINS; ++c) acc[c] = VEC(seed, seed + 0.25, seed + 0.5, seed + 0.75) + VEC(SCALAR(c) * SCALAR(0.0625));
    const int iterations = P.dims0.x;
    for (int i = 0; i < iterations; ++i) {
        for (int c = 0; c < CHAINS; ++c) acc[c] = fma(acc[c], VEC(a), VEC(b));
        for (int c = 0; c < CHAINS; ++c) acc[c] = fma(acc[c], VEC(a), VEC(b));
        for (int c = 0; c < CHAINS; ++c) acc[c] = fma(acc[c], VEC(a), VEC(b));
        for (int c = 0; c < CHAINS; ++c) acc[c] = fma(acc[c], VEC(a), VEC(b));
    }
    VEC sum = VEC(0);
    for (int c = 0; c < CHAINS; ++c) sum += acc[c];
    result[gl_GlobalInvocationID.x] = float(sum.x) + float(sum.y) + float(sum.z) + float(sum.w);
}
