#version 450
// Linear attention, pass 1 of 3 (engine/layers/linear_attention.cpp): the summary of one chunk of keys.
// Workgroup (x: group of 64 blocks, y: chunk c, z: KV slice b * Hkv + hkv). Each invocation owns a 4 x 4
// block of chunk c's D x E4 state (linear_common.glsl): for rows d and columns e of its block,
// sum over the chunk's visible keys j in [c*C, min((c+1)*C, Lk, key_lengths[b])) of phi(k_j)[d] * v_j[e]
// (v_j[Dv] counts as 1: the normaliser z; columns past Dv are 0).
// Per invocation the only loop runs at most C times: the engine keeps C under lavapipe's limit of
// 65535 loop iterations per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 64) in;

#include "common/common.glsl"
#include "layers/linear_common.glsl"

void main() {
    const int D = HEAD_D(), Dv = HEAD_DV(), E4 = STATE_PITCH();
    const int blocks_e = E4 >> 2;
    const int blk = int(gl_GlobalInvocationID.x);
    if (blk >= ((D + 3) >> 2) * blocks_e) return;
    const int bd = blk / blocks_e;
    const int d0 = 4 * bd, e0 = 4 * (blk - bd * blocks_e);
    const int c = int(gl_WorkGroupID.y);
    const int bkv = int(gl_WorkGroupID.z);
    const int Hkv = P.dims0.z;
    const int b = bkv / Hkv;
    const Slice s = make_slice(b * HQ() + (bkv - b * Hkv) * GROUP());
    const int j0 = c * CHUNK();
    const int j1 = min(j0 + CHUNK(), visible_key_count(b));

    // Clamped indices keep every load inside the tensors; the selects zero what lies past D / Dv.
    ivec4 kcol, vcol;
    bvec4 d_in, e_in;
    vec4 e_one;
    [[unroll]] for (int u = 0; u < 4; ++u) {
        kcol[u] = s.k_base + min(d0 + u, D - 1) * P.k_stride.w;
        vcol[u] = s.v_base + min(e0 + u, Dv - 1) * P.v_stride.w;
        d_in[u] = d0 + u < D;
        e_in[u] = e0 + u < Dv;
        e_one[u] = e0 + u == Dv ? 1.0 : 0.0;
    }
    vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
    [[dont_unroll]] for (int j = j0; j < j1; ++j) {
        const int kr = j * P.k_stride.z, vr = j * P.v_stride.z;
        const vec4 fk = mix(vec4(0.0), vec4(phi(LOAD_K(kcol.x + kr)), phi(LOAD_K(kcol.y + kr)), phi(LOAD_K(kcol.z + kr)),
                                            phi(LOAD_K(kcol.w + kr))), d_in);
        const vec4 vv = mix(e_one, vec4(LOAD_V(vcol.x + vr), LOAD_V(vcol.y + vr), LOAD_V(vcol.z + vr), LOAD_V(vcol.w + vr)), e_in);
        acc0 += fk.x * vv;
        acc1 += fk.y * vv;
        acc2 += fk.z * vv;
        acc3 += fk.w * vv;
    }
    const int q4 = (((bkv * (NCHUNKS() + 1) + c) * D + d0) * E4 + e0) >> 2;  // E4 and e0 are multiples of 4
    const int row4 = E4 >> 2;
    p_quads[q4] = acc0;
    if (d0 + 1 < D) p_quads[q4 + row4] = acc1;
    if (d0 + 2 < D) p_quads[q4 + 2 * row4] = acc2;
    if (d0 + 3 < D) p_quads[q4 + 3 * row4] = acc3;
}
