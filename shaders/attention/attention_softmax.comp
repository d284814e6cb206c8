#version 450
// Explicit path, stage 2: softmax of each score row in place (P = exp(S - max) / sum), and the row's
// log-sum-exp. One workgroup per row; reductions through shared memory (portable to any subgroup size).
// A row with no visible key becomes all zeros with lse = -inf.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 64;

#include "common/common.glsl"

shared float reduce_buf[WG];

float workgroup_max(float x, int tid) {
    reduce_buf[tid] = x;
    barrier();
    for (int stride = WG / 2; stride > 0; stride /= 2) {
        if (tid < stride) reduce_buf[tid] = max(reduce_buf[tid], reduce_buf[tid + stride]);
        barrier();
    }
    float result = reduce_buf[0];
    barrier();
    return result;
}

float workgroup_sum(float x, int tid) {
    reduce_buf[tid] = x;
    barrier();
    for (int stride = WG / 2; stride > 0; stride /= 2) {
        if (tid < stride) reduce_buf[tid] += reduce_buf[tid + stride];
        barrier();
    }
    float result = reduce_buf[0];
    barrier();
    return result;
}

void main() {
    const int tid = int(gl_LocalInvocationID.x);
    const int i = (P.chunk.w + int(gl_WorkGroupID.x));
    const int slice_local = int(gl_WorkGroupID.y);
    if (i >= LQ()) return;  // uniform across the workgroup
    const int row_base = P.offsets1.z + (slice_local * LQ() + i) * LK();

    float local_max = MASKED_SCORE;
    for (int j = tid; j < LK(); j += WG) local_max = max(local_max, p_data[row_base + j]);
    const float m = workgroup_max(local_max, tid);

    float local_sum = 0.0;
    for (int j = tid; j < LK(); j += WG) {
        float sc = p_data[row_base + j];
        local_sum += sc <= MASKED_SCORE ? 0.0 : exp(sc - m);
    }
    const float l = workgroup_sum(local_sum, tid);
    const float inv_l = l == 0.0 ? 0.0 : 1.0 / l;  // NaN stays NaN (a NaN or +inf score)

    for (int j = tid; j < LK(); j += WG) {
        float sc = p_data[row_base + j];
        p_data[row_base + j] = sc <= MASKED_SCORE ? 0.0 : exp(sc - m) * inv_l;
    }
    if (tid == 0 && (P.flags.z & FLAG_LSE) != 0)
        lse_data[P.offsets1.y + slice_local * LQ() + i] = l == 0.0 ? negative_infinity() : m + log(l);
}
