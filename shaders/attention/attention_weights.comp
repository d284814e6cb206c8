#version 450
// Explicit path on GPUs, pass 2: the attention weights P = exp(s - m) / l, s = scale * Q Kᵀ + mask, for one
// TILE x TILE block of (query row, key) pairs per workgroup, from each row's final maximum m and sum l,
// which the fused kernel wrote in pass 1 (FLAG_ROW_STATE) and which this pass reads from binding 4 at
// P.offsets0.w + 2 * (local slice * Lq + row); Q and K staged through shared memory TILE dims at a time.
// Masked keys give 0; a row with no visible key (l = 0) gives zeros; a NaN sum gives NaN for the visible
// keys, as its output row. (m, l) rather than the log-sum-exp: s - m is exact, m + log(l) is not.
// P goes to binding 8 (row-major [slice][Lq][Lk] from P.offsets1.z).
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0, local_size_y_id = 0) in;
layout(constant_id = 0) const int TILE = 16;

#include "common/common.glsl"
#include "common/tile_ops.glsl"

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
    const int q_len = seq_q_len(s.b), k_len = varlen() ? key_lengths[s.b] : LK();  // packed sequences: their own

    float dot_qk = 0.0;
    for (int d0 = 0; d0 < D; d0 += TILE) {
        // q_tile[row][d], k_tile[key][d]
        int qi = i0 + ty, kd = d0 + tx;
        q_tile[ty * TILE + tx] = (qi < q_len && kd < D) ? LOAD_Q(s.q_base + qi * P.q_stride.z + kd * P.q_stride.w) : 0.0;
        int kj = j0 + ty;
        k_tile[ty * TILE + tx] = (kj < k_len && kd < D) ? LOAD_K(s.k_base + key_row(s.b, kj) * P.k_stride.z + kd * P.k_stride.w) : 0.0;
        barrier();
        for (int d = 0; d < TILE; ++d) dot_qk += q_tile[ty * TILE + d] * k_tile[tx * TILE + d];
        barrier();
    }
    if (i >= q_len || j >= k_len) return;

    float sc = MASKED_SCORE;
    if (j < key_end_for_row(s.b, i) && j >= key_start_for_row(s.b, i))
        sc = apply_mask(s, i, j, transform_score(s, i, j, dot_qk * P.scalars.z), 1.0);
    const int state = P.offsets0.w + 2 * (slice_local * LQ() + i);
    // A masked key is exactly 0 even when the row's sum is NaN.
    int row_keys;
    p_data[weights_row(s, slice_local, i, row_keys) + j] =
        sc <= MASKED_SCORE ? 0.0 : exp2((sc - o_data[state]) * LOG2E) * safe_inverse(o_data[state + 1]);
}
