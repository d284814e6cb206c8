#version 450
// Split-KV decoding for CPU-like devices (lavapipe): short query blocks (Lq * group <= 64) against long
// key ranges. ONE dispatch covers every key block: workgroup (key block kb = x, KV slice b * Hkv + hkv = y);
// its invocations are the rows (query head h of the GQA group, query row i), lid = h_local * Lq + i, so
// the block's K and V are copied into shared memory once for the whole group. Every invocation scores
// its row over the block exactly like attention_fused_rowwise.comp (same cost model: fully unrolled
// loops, shared loads at constant addresses at the top level) and writes the block-local maximum m_b
// (log2 units), sum l_b and unnormalised partial output to the scratch binding 8 at
// ((bh * Lq + i) * NB + kb) * pitch, pitch = 4 + Dv rounded up to 4 (m_b, l_b, 2 unused, Dv values).
// attention_decode_combine.comp merges the blocks. The engine binds one chunk covering the whole
// problem (P.chunk is zero); P.flags.w = NB, the number of key blocks dispatched.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: query rows (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;        // keys per block (per dispatch); a multiple of KJ
layout(constant_id = 2) const int DCAP = 64;      // head-dim capacity (>= D and Dv); a multiple of CJ
layout(constant_id = 3) const int HAS_MASK = 0;   // P.flags.y != MASK_NONE; 0 compiles the mask code out

#include "common.glsl"
#include "tile_ops.glsl"

// vec4 views of the bindings in common.glsl (4 elements: 4 words of f32, 2 words of f16).
#if IN_F16
layout(std430, set = 0, binding = 1) readonly buffer QBuf4 { uvec2 q_quads[]; };
layout(std430, set = 0, binding = 2) readonly buffer KBuf4 { uvec2 k_quads[]; };
layout(std430, set = 0, binding = 3) readonly buffer VBuf4 { uvec2 v_quads[]; };
#define QUAD(w) vec4(unpackHalf2x16((w).x), unpackHalf2x16((w).y))
#else
layout(std430, set = 0, binding = 1) readonly buffer QBuf4 { uvec4 q_quads[]; };
layout(std430, set = 0, binding = 2) readonly buffer KBuf4 { uvec4 k_quads[]; };
layout(std430, set = 0, binding = 3) readonly buffer VBuf4 { uvec4 v_quads[]; };
#define QUAD(w) uintBitsToFloat(w)
#endif
layout(std430, set = 0, binding = 8) buffer PBuf4 { vec4 p_quads[]; };

const int ROWS = int(gl_WorkGroupSize.x);
const int TILE = BC * DCAP;  // elements of one K (or V) block
const int KJ = 8;            // keys scored at once: KJ independent chains reuse each q[d]
const int CJ = 16;           // output columns accumulated at once: CJ chains reuse each probability

// K block [key][dim] for the scores, then V block [key][column]; zero-padded. A float array: as a vec4
// array (one store per quad in the copy) the run time was the same and NIR compiled ~35% slower.
shared float kv_sh[TILE];

// A row of n elements starting at `base` with element stride `stride` can be read 4 at a time.
bool quads_ok(int base, int row_stride, int stride, int n) {
    return stride == 1 && (n & 3) == 0 && (base & 3) == 0 && (row_stride & 3) == 0;
}


void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int kb = int(gl_WorkGroupID.x);
    const int NB = P.flags.w;
    const int Hkv = P.dims0.z;
    const int b = int(gl_WorkGroupID.y) / Hkv;
    const int hkv = int(gl_WorkGroupID.y) - b * Hkv;
    const int D = HEAD_D(), Dv = HEAD_DV();
    const int j0 = kb * BC;
    const int rows_used = GROUP() * LQ();
    const bool row_valid = lid < rows_used;
    const int r = min(lid, rows_used - 1);
    const int h_local = r / LQ();
    const int i = r - h_local * LQ();
    const Slice s = make_slice(b * HQ() + hkv * GROUP() + h_local);

    // Keys past the last row's causal / padding limit are invisible to the whole workgroup.
    const int tile_key_end = key_end_for_row(b, LQ() - 1);
    const int block_keys = clamp(tile_key_end - j0, 0, BC);

    // Cooperative copy of the K block, zero-padded to BC x DCAP (K/V bases are the group's).
    if (quads_ok(s.k_base, P.k_stride.z, P.k_stride.w, D)) {
        [[dont_unroll]] for (int e = lid; e < TILE / 4; e += ROWS) {
            const int j = e / (DCAP / 4), d = 4 * (e - j * (DCAP / 4));
            const vec4 x = j < block_keys && d < D ? QUAD(k_quads[(s.k_base + (j0 + j) * P.k_stride.z + d) >> 2]) : vec4(0.0);
            kv_sh[4 * e] = x.x, kv_sh[4 * e + 1] = x.y, kv_sh[4 * e + 2] = x.z, kv_sh[4 * e + 3] = x.w;
        }
    } else {
        [[dont_unroll]] for (int e = lid; e < TILE; e += ROWS) {
            const int j = e / DCAP, d = e - j * DCAP;
            kv_sh[e] = j < block_keys && d < D ? LOAD_K(s.k_base + (j0 + j) * P.k_stride.z + d * P.k_stride.w) : 0.0;
        }
    }
    barrier();

    const int my_key_end = row_valid ? key_end_for_row(b, i) : 0;

    // This row's q, pre-scaled by scale * log2(e).
    float q[DCAP];
    const int q_row = s.q_base + i * P.q_stride.z;
    if (quads_ok(s.q_base, P.q_stride.z, P.q_stride.w, D)) {
        [[dont_unroll]] for (int d = 0; d < DCAP; d += 4) {
            const vec4 x = d < D ? QUAD(q_quads[(q_row + d) >> 2]) * P.scalars.x : vec4(0.0);
            q[d] = x.x, q[d + 1] = x.y, q[d + 2] = x.z, q[d + 3] = x.w;
        }
    } else {
        [[dont_unroll]] for (int d = 0; d < DCAP; ++d)
            q[d] = d < D ? LOAD_Q(q_row + d * P.q_stride.w) * P.scalars.x : 0.0;
    }

    float sc[BC];
    [[unroll]] for (int jb = 0; jb < BC; jb += KJ) {
        float a[KJ];
        [[unroll]] for (int u = 0; u < KJ; ++u) a[u] = 0.0;
        [[unroll]] for (int d = 0; d < DCAP; ++d) {
            [[unroll]] for (int u = 0; u < KJ; ++u) {
                const int e = (jb + u) * DCAP + d;
                a[u] = fma(q[d], kv_sh[e], a[u]);
            }
        }
        [[unroll]] for (int u = 0; u < KJ; ++u) sc[jb + u] = a[u];
        memoryBarrierShared();
    }

    float m_blk[2] = float[2](MASKED_SCORE, MASKED_SCORE);
    [[unroll]] for (int j = 0; j < BC; ++j) {
        const int key = j0 + j;
        float v = sc[j];
        if (HAS_MASK != 0) {
            if (key < my_key_end) v = apply_mask(s, i, key, v, P.scalars.y);
        }
        v = key < my_key_end ? v : MASKED_SCORE;
        sc[j] = v;
        m_blk[j & 1] = max(m_blk[j & 1], v);
    }
    const float m_b = max(m_blk[0], m_blk[1]);
    float sum2[2] = float[2](0.0, 0.0);
    [[unroll]] for (int j = 0; j < BC; ++j) {
        sc[j] = masked_exp2(sc[j], m_b);
        sum2[j & 1] += sc[j];
    }
    const float l_b = sum2[0] + sum2[1];

    barrier();  // every row has its scores: the K block may be overwritten
    if (quads_ok(s.v_base, P.v_stride.z, P.v_stride.w, Dv)) {
        [[dont_unroll]] for (int e = lid; e < TILE / 4; e += ROWS) {
            const int j = e / (DCAP / 4), c = 4 * (e - j * (DCAP / 4));
            const vec4 x = j < block_keys && c < Dv ? QUAD(v_quads[(s.v_base + (j0 + j) * P.v_stride.z + c) >> 2]) : vec4(0.0);
            kv_sh[4 * e] = x.x, kv_sh[4 * e + 1] = x.y, kv_sh[4 * e + 2] = x.z, kv_sh[4 * e + 3] = x.w;
        }
    } else {
        [[dont_unroll]] for (int e = lid; e < TILE; e += ROWS) {
            const int j = e / DCAP, c = e - j * DCAP;
            kv_sh[e] = j < block_keys && c < Dv ? LOAD_V(s.v_base + (j0 + j) * P.v_stride.z + c * P.v_stride.w) : 0.0;
        }
    }
    barrier();

    float acc[DCAP];
    [[unroll]] for (int c0 = 0; c0 < DCAP; c0 += CJ) {
        float o[CJ];
        [[unroll]] for (int u = 0; u < CJ; ++u) o[u] = 0.0;
        [[unroll]] for (int j = 0; j < BC; ++j) {
            [[unroll]] for (int u = 0; u < CJ; ++u) {
                const int e = j * DCAP + c0 + u;
                o[u] = fma(sc[j], kv_sh[e], o[u]);
            }
        }
        [[unroll]] for (int u = 0; u < CJ; ++u) acc[c0 + u] = o[u];
        memoryBarrierShared();
    }

    if (row_valid) {
        const int pitch = 4 + ((Dv + 3) & ~3);
        const int base = ((s.bh * LQ() + i) * NB + kb) * pitch;  // a multiple of 4
        p_quads[base >> 2] = vec4(m_b, l_b, 0.0, 0.0);
        [[dont_unroll]] for (int c = 0; c < Dv; c += 4)
            p_quads[(base >> 2) + 1 + (c >> 2)] = vec4(acc[c], acc[c + 1], acc[c + 2], acc[c + 3]);
    }
}
