#version 450
// Explicit path, stage 1: masked, scaled scores S = scale * Q Kᵀ + mask for one TILE x TILE block of
// (query row, key) pairs per workgroup, with Q and K staged through shared memory TILE dims at a time.
// Scores are written in natural-log units to P (row-major [slice][Lq][Lk]); masked ones as -inf.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0, local_size_y_id = 0) in;
layout(constant_id = 0) const int TILE = 16;

#include "common/common.glsl"

shared float q_tile[TILE * TILE];
shared float k_tile[TILE * TILE];

void main() {
    const int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
    const int slice_local = int(gl_WorkGroupID.z);
    const Slice s = make_slice(slice_local);
    const int i0 = (P.chunk.w + int(gl_WorkGroupID.y)) * TILE;
    const int j0 = int(gl_WorkGroupID.x) * TILE;
    const int i = i0 + ty, j = j0 + tx;
    const int D = HEAD_D();

    float dot_qk = 0.0;
    for (int d0 = 0; d0 < D; d0 += TILE) {
        // q_tile[row][d], k_tile[key][d]
        int qi = i0 + ty, kd = d0 + tx;
        q_tile[ty * TILE + tx] = (qi < LQ() && kd < D) ? LOAD_Q(s.q_base + qi * P.q_stride.z + kd * P.q_stride.w) : 0.0;
        int kj = j0 + ty;
        k_tile[ty * TILE + tx] = (kj < LK() && kd < D) ? LOAD_K(s.k_base + kj * P.k_stride.z + kd * P.k_stride.w) : 0.0;
        barrier();
        for (int d = 0; d < TILE; ++d) dot_qk += q_tile[ty * TILE + d] * k_tile[tx * TILE + d];
        barrier();
    }
    if (i >= LQ() || j >= LK()) return;

    // Natural units throughout: the weights are read back, so no log2 round trip rounds them.
    float sc = MASKED_SCORE;
    if (j < key_end_for_row(s.b, i) && j >= key_start_for_row(s.b, i))
        sc = apply_mask(s, i, j, transform_score(s, i, j, dot_qk * P.scalars.z), 1.0);
    const float stored = sc <= MASKED_SCORE ? negative_infinity() : sc;
    p_data[P.offsets1.z + ((s.bh - P.chunk.x) * LQ() + i) * LK() + j] = stored;
}
