#version 450
// Additive (Bahdanau) attention: score(i, j) = v_a . tanh(qp_i + kp_j), where qp = Q W_qᵀ and
// kp = K W_kᵀ + b were computed once by the matmul kernel (engine/additive.cpp), softmax over the
// visible keys, out_i = sum_j alpha_ij v_j. The [Lq, Lk, A] tensor of tanh arguments is never formed:
// one invocation owns one query row (its projected row qp in registers), the workgroup stages blocks of
// BC projected keys, then of values, in shared memory (rowwise_block.glsl's copies) and keeps an online
// softmax (tile_ops.glsl) across blocks, so memory is O(B (Lq + Lk) A). Masks are the foundation's
// (common.glsl: causal / key lengths through key_end_for_row, additive / boolean masks through
// apply_mask, added to the score in natural units).
//
// P.flags.w = 0: the attention pass (out, and lse when FLAG_LSE). P.flags.w = 1: the weights pass, run
// after an attention pass that wrote lse: recomputes the scores of every key and writes
// alpha_ij = exp(score - lse_i) (0 for masked keys) to binding 8 as [slice][Lq][Lk].
// Params as the attention kernels: dims1.y is A (the projected width), bindings 1 qp, 2 kp, 3 v,
// and binding 9 holds v_a (A values in the storage dtype).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: query rows (= invocations) per workgroup
layout(constant_id = 1) const int BC = 32;        // keys per block; a multiple of 8
layout(constant_id = 2) const int DCAP = 64;      // capacity (>= A and Dv); a multiple of 16
layout(constant_id = 3) const int HAS_MASK = 0;   // P.flags.y != MASK_NONE

#include "common.glsl"
#include "tile_ops.glsl"
#include "rowwise_block.glsl"

layout(std430, set = 0, binding = 9) readonly buffer VaBuf { uint va_words[]; };
shared float va_sh[DCAP];

float load_va(int a) {
#if IN_F16
    return unpackHalf2x16(va_words[a >> 1])[a & 1];
#else
    return uintBitsToFloat(va_words[a]);
#endif
}

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int local_bh = int(gl_WorkGroupID.y);
    const Slice s = make_slice(local_bh);
    const int row0 = (P.chunk.w + int(gl_WorkGroupID.x)) * ROWS;
    const int A = HEAD_D(), Dv = HEAD_DV();
    const bool weights_pass = P.flags.w == 1;

    for (int c = lid; c < DCAP; c += ROWS) va_sh[c] = c < A ? load_va(c) : 0.0;

    const int i = row0 + lid;
    const bool row_valid = i < LQ();
    const int my_key_end = row_valid ? key_end_for_row(s.b, i) : 0;
    // The weights pass visits every key (masked ones get 0); the attention pass only visible ones.
    const int tile_key_end = weights_pass ? LK() : key_end_for_row(s.b, min(row0 + ROWS, LQ()) - 1);

    float qp[DCAP];
    const int q_row = s.q_base + i * P.q_stride.z;
    LOAD_Q_ROW(qp, s, q_row, row_valid, A)

    const int row_index = local_bh * LQ() + i;
    const float lse = weights_pass && row_valid ? lse_data[P.offsets1.y + row_index] : 0.0;
    RowState st = row_state_init();
    float acc[DCAP];
    [[unroll]] for (int c = 0; c < DCAP; ++c) acc[c] = 0.0;

    for (int j0 = 0; j0 < tile_key_end; j0 += BC) {
        const int block_keys = min(BC, tile_key_end - j0);
        barrier();  // the previous block's values have been read (and va_sh written)
        copy_k_block(lid, s, j0, block_keys, A);
        barrier();

        // Scores of the block: v_a . tanh(qp + kp_j), masked, in natural units.
        float sc[BC];
        float m_blk = MASKED_SCORE;
        [[dont_unroll]] for (int j = 0; j < BC; ++j) {
            float t = 0.0;
            [[dont_unroll]] for (int a = 0; a < DCAP; ++a) t = fma(va_sh[a], tanh(qp[a] + kv_sh[j * DCAP + a]), t);
            const int key = j0 + j;
            if (HAS_MASK != 0) {
                if (key < my_key_end) t = apply_mask(s, i, key, t, 1.0);
            }
            t = key < my_key_end ? t : MASKED_SCORE;
            sc[j] = t;
            m_blk = max(m_blk, t);
        }

        if (weights_pass) {
            if (row_valid) {
                const int p_row = P.offsets1.z + row_index * LK();
                [[dont_unroll]] for (int j = 0; j < BC; ++j)
                    if (j0 + j < LK()) p_data[p_row + j0 + j] = masked_exp(sc[j], lse);
            }
            continue;
        }

        // Online softmax: rescale, exponentiate, sum; then the weighted sum of the value block.
        const float m_new = max(st.m, m_blk);
        const float alpha = rescale_factor(st.m, m_new);
        float sum = 0.0;
        [[unroll]] for (int j = 0; j < BC; ++j) {
            sc[j] = masked_exp(sc[j], m_new);
            sum += sc[j];
        }
        st.l = st.l * alpha + sum;
        st.m = m_new;

        barrier();  // every row has its scores: the key block may be overwritten
        copy_v_block(lid, s, j0, block_keys, Dv);
        barrier();
        ACCUMULATE_BLOCK(acc, sc, alpha)
    }

    if (weights_pass || !row_valid) return;
    const float inv = safe_inverse(st.l);
    const int o_row = s.o_base + i * P.o_stride.z;
    [[dont_unroll]] for (int c = 0; c < Dv; ++c) o_data[o_row + c * P.o_stride.w] = acc[c] * inv;
    if ((P.flags.z & FLAG_LSE) != 0) lse_data[P.offsets1.y + row_index] = row_lse(st);
}
