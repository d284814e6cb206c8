#version 450
// Split-KV decoding for CPU-like devices (lavapipe): short query blocks (Lq * group <= 64) against long
// key ranges. ONE dispatch covers every key block: workgroup (key block kb = x, KV slice b * Hkv + hkv = y);
// its invocations are the rows (query head h of the GQA group, query row i), lid = h_local * Lq + i, so
// the block's K and V are copied into shared memory once for the whole group. Every invocation scores
// its row over the block exactly like attention_fused_rowwise.comp (same cost model: fully unrolled
// loops, shared loads at constant addresses at the top level) and writes the block-local maximum m_b
// (natural units), sum l_b and unnormalised partial output to the scratch binding 8 at
// ((bh * Lq + i) * NB + kb) * pitch, pitch = 4 + Dv rounded up to 4 (m_b, l_b, 2 unused, Dv values).
// attention_decode_combine.comp merges the blocks. The engine binds one chunk covering the whole
// problem (P.chunk is zero); P.flags.w = NB, the number of key blocks dispatched.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: query rows (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;        // keys per block (per dispatch); a multiple of KJ
layout(constant_id = 2) const int DCAP = 64;      // head-dim capacity (>= D and Dv); a multiple of CJ
layout(constant_id = 3) const int FEATURES = 0;   // FEATURE_* bits (rowwise_block.glsl): what is off is compiled out

#include "common/common.glsl"
#include "common/tile_ops.glsl"
#include "common/rowwise_block.glsl"  // vec4 views of Q/K/V, kv_sh, the block copies, scoring and P.V

layout(std430, set = 0, binding = 8) buffer PBuf4 { vec4 p_quads[]; };

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int kb = int(gl_WorkGroupID.x);
    const int NB = P.flags.w;
    const int Hkv = P.dims0.z;
    const int b = int(gl_WorkGroupID.y) / Hkv;
    const int hkv = int(gl_WorkGroupID.y) - b * Hkv;
    const int D = HEAD_D(), Dv = HEAD_DV();
    const int j0 = (P.ext.w + kb) * BC;  // P.ext.w: the first block any row sees (sliding window)
    const int rows_used = GROUP() * LQ();
    const int r = min(lid, rows_used - 1);
    const int h_local = r / LQ();
    const int i = r - h_local * LQ();
    const Slice s = make_slice(b * HQ() + hkv * GROUP() + h_local);
    const int q_len = seq_q_len(b);  // Lq, or the sequence's own (packed sequences: rows past it are padding)
    const bool row_valid = lid < rows_used && i < q_len;

    // Keys past the last row's causal / padding limit are invisible to the whole workgroup.
    const int tile_key_end = key_end_for_row(b, q_len - 1);
    const int block_keys = clamp(tile_key_end - j0, 0, BC);

    // Cooperative copy of the K block, zero-padded to BC x DCAP (K/V bases are the group's).
    copy_k_block(lid, s, j0, block_keys, D);
    barrier();

    const int my_key_end = row_valid ? key_end_for_row(b, i) : 0;
    const int my_key_start = key_start_for_row(b, i);

    // This row's q. Scores are scaled after the dot product and kept in natural units, the max
    // subtracted before converting to log2 (tile_ops.glsl): accurate with logits near 1e4.
    float q[DCAP];
    const int q_row = s.q_base + i * P.q_stride.z;
    LOAD_Q_ROW(q, s, q_row, true, D)  // i is clamped to a valid row

    float sc[BC];
    SCORE_BLOCK(sc, q)

    float m_blk[2] = float[2](MASKED_SCORE, MASKED_SCORE);
    SCORE_FINISH(sc, m_blk, s, i, j0, my_key_start, my_key_end)
    const float m_b = max(m_blk[0], m_blk[1]);
    float sum2[2] = float[2](0.0, 0.0);
    [[unroll]] for (int j = 0; j < BC; ++j) {
        sc[j] = masked_exp(sc[j], m_b);
        sum2[j & 1] += sc[j];
    }
    const float l_b = sum2[0] + sum2[1];

    barrier();  // every row has its scores: the K block may be overwritten
    copy_v_block(lid, s, j0, block_keys, Dv);
    barrier();

    float acc[DCAP];
    WEIGHTED_SUM_BLOCK(acc, sc)

    if (row_valid) {
        const int pitch = 4 + ((Dv + 3) & ~3);
        const int base = ((s.bh * LQ() + i) * NB + kb) * pitch;  // a multiple of 4
        p_quads[base >> 2] = vec4(m_b, l_b, 0.0, 0.0);
        [[dont_unroll]] for (int c = 0; c < Dv; c += 4)
            p_quads[(base >> 2) + 1 + (c >> 2)] = vec4(acc[c], acc[c + 1], acc[c + 2], acc[c + 3]);
    }
}
