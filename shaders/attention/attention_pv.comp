#version 450
// Explicit path, stage 3: O = P V for one TILE x TILE block of (query row, output column) per workgroup,
// with P and V staged through shared memory TILE keys at a time.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0, local_size_y_id = 0) in;
layout(constant_id = 0) const int TILE = 16;

#include "common/common.glsl"
#include "common/tile_ops.glsl"

shared float p_tile[TILE * TILE];
shared float v_tile[TILE * TILE];

void main() {
    const int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
    const int slice_local = int(gl_WorkGroupID.z);
    const Slice s = make_slice(slice_local);
    const int i0 = (P.chunk.w + int(gl_WorkGroupID.y)) * TILE;
    const int c0 = int(gl_WorkGroupID.x) * TILE;
    const int i = i0 + ty, c = c0 + tx;
    const int Dv = HEAD_DV();
    const int p_row0 = P.offsets1.z + slice_local * LQ() * LK();

    float acc = 0.0;
    for (int j0 = 0; j0 < LK(); j0 += TILE) {
        int pi = i0 + ty, pj = j0 + tx;
        p_tile[ty * TILE + tx] = (pi < LQ() && pj < LK()) ? p_data[p_row0 + pi * LK() + pj] : 0.0;
        int vj = j0 + ty, vc = c0 + tx;
        v_tile[ty * TILE + tx] = (vj < LK() && vc < Dv) ? LOAD_V(s.v_base + vj * P.v_stride.z + vc * P.v_stride.w) : 0.0;
        barrier();
        for (int j = 0; j < TILE; ++j) {
            const float p = p_tile[ty * TILE + j];
            acc += p * weighted_value(p, v_tile[j * TILE + tx]);
        }
        barrier();
    }
    if (i < LQ() && c < Dv) o_data[s.o_base + i * P.o_stride.z + c * P.o_stride.w] = acc;
}
