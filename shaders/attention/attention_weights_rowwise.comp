#version 450
// Explicit path on CPU-like devices, pass 2: the attention weights P = exp(s - m) / l of one block of BC
// keys (per dispatch, P.flags.w) for ROWS query rows of one (batch, head) slice per workgroup, from each
// row's final maximum m and sum l, which the fused rowwise kernel wrote in pass 1
// (attention_fused_rowwise.comp, FLAG_ROW_STATE) and which this pass reads from binding 4 at
// P.offsets0.w + 2 * (local slice * Lq + row). (m, l) rather than the log-sum-exp: m + log(l) rounds to
// f32 at m's magnitude, ~1e-5 relative at logits near 1e2, and s - m is exact. The scores are
// formed as that kernel forms them (the same K-block copy, SCORE_BLOCK and SCORE_FINISH of
// rowwise_block.glsl, so the same cost model holds: unrolled blocks, shared loads at constant
// addresses), so P and the output come from the same arithmetic. Grid: (row tiles of the chunk, 1,
// slices of the chunk); every key block of every row is written, masked keys as 0.
// P goes to binding 8 (the weights, or the engine's scratch rows when none were asked for) at
// P.offsets1.z + (local_bh * Lq + i) * Lk + j (packed sequences: weights_row, sequence_rows.glsl).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: query rows (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;        // keys per block (per dispatch); a multiple of KJ
layout(constant_id = 2) const int DCAP = 64;      // head-dim capacity (>= D); a multiple of CJ
layout(constant_id = 3) const int FEATURES = 0;   // FEATURE_* bits (rowwise_block.glsl)

#include "common/common.glsl"
#include "common/tile_ops.glsl"
#include "common/rowwise_block.glsl"

layout(std430, set = 0, binding = 8) buffer PBuf4 { vec4 p_quads[]; };

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int local_bh = int(gl_WorkGroupID.z);
    const Slice s = make_slice(local_bh);
    const int row0 = (P.chunk.w + int(gl_WorkGroupID.x)) * ROWS;
    const int D = HEAD_D();
    const int j0 = P.flags.w * BC;
    const int q_len = seq_q_len(s.b);  // Lq, or the sequence's own (packed sequences)
    const int tile_key_end = key_end_for_row(s.b, min(row0 + ROWS, q_len) - 1);
    const int block_keys = clamp(tile_key_end - j0, 0, BC);

    copy_k_block(lid, s, j0, block_keys, D);
    barrier();

    const int i = row0 + lid;
    const bool row_valid = i < q_len;
    const int my_key_end = row_valid ? key_end_for_row(s.b, i) : 0;
    const int my_key_start = key_start_for_row(s.b, i);

    float q[DCAP];
    LOAD_Q_ROW(q, s, s.q_base + i * P.q_stride.z, row_valid, D)
    float sc[BC];
    SCORE_BLOCK(sc, q)
    float m_blk[2] = float[2](MASKED_SCORE, MASKED_SCORE);
    SCORE_FINISH(sc, m_blk, s, i, j0, my_key_start, my_key_end)
    if (!row_valid) return;

    // exp(s - m) / l, as the fused kernel normalises its output: a row with no visible key (l = 0) gives
    // zeros, as masked keys do; a NaN sum (a NaN or +inf score in the row) gives NaN for the visible keys,
    // as the output row is NaN.
    const int state = P.offsets0.w + 2 * (local_bh * LQ() + i);
    const float m = o_data[state], inv_l = safe_inverse(o_data[state + 1]);
    // (A masked key is exactly 0 even when inv_l is NaN: the product is taken for visible keys only.)
    [[unroll]] for (int j = 0; j < BC; ++j) sc[j] = sc[j] <= MASKED_SCORE ? 0.0 : exp2((sc[j] - m) * LOG2E) * inv_l;

    int row_keys;  // Lk, or the sequence's own
    const int p_row = weights_row(s, local_bh, i, row_keys) + j0;
    const int n = min(BC, row_keys - j0);
    if ((p_row & 3) == 0 && (row_keys & 3) == 0) {
        [[dont_unroll]] for (int c = 0; c < n; c += 4) p_quads[(p_row + c) >> 2] = vec4(sc[c], sc[c + 1], sc[c + 2], sc[c + 3]);
    } else {
        [[dont_unroll]] for (int c = 0; c < n; ++c) p_data[p_row + c] = sc[c];
    }
}
