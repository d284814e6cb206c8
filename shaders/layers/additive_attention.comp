#version 450
// Additive (Bahdanau) attention: score(i, j) = v_a . tanh(qp_i + kp_j), where qp = Q W_qᵀ and
// kp = K W_kᵀ + b were computed once by the matmul kernel (engine/layers/additive.cpp), softmax over the
// visible keys, out_i = sum_j alpha_ij v_j. The [Lq, Lk, A] tensor of tanh arguments is never formed:
// each invocation owns RPI query rows, the workgroup walks the keys in blocks of BC and keeps an
// online softmax (tile_ops.glsl) per row across blocks, so memory is O(B (Lq + Lk) A). Masks are the
// foundation's (common.glsl: causal / key lengths through key_end_for_row, additive / boolean masks
// through apply_mask, added to the score in natural units).
//
// Widths are run-time values (Params), not compile-time capacities: A and Dv are walked in chunks of
// CW elements. For each chunk the workgroup stages the block's projected keys (then its values)
// transposed, [element][key], in shared memory, and each invocation runs a loop over the chunk's
// elements whose body is unrolled over the BC keys (and RPI rows) only. The code size, the shared
// memory (BC x CW floats) and the private state (RPI x BC scores) do not grow with A or Dv, so one
// pipeline per dtype and mask presence serves every width (engine/layers/additive_plan.cpp picks the
// constants from the device).
//
// Why (measured on Mesa 22.3 lavapipe, LLVM 15): llvmpipe compiles a compute shader that has barriers
// as an LLVM coroutine, one suspend point per barrier, and inside a loop every shared load becomes a
// per-lane loop of basic blocks. The previous kernel unrolled its P.V block (BC keys x capacity
// columns, each a shared load and an FMA) inside the loop over key blocks; LLVM's CoroSplit pass
// (buildCoroutineFrame: which values cross which suspend point) grew superlinearly with those basic
// blocks: ~0.5 s of JIT at capacity 64 (32 x 64), over 200 s at capacity 128 (32 x 128), on the first
// dispatch (vkCreateComputePipelines itself took 0.2 s), which looked like a hang. Here an unrolled
// body holds BC / 4 vec4 shared loads whatever the widths.
//
// Cost on lavapipe: a per-lane vec4 shared load is ~120 cycles per 8 lanes, more than the tanh it
// feeds, so each one feeds the RPI rows of the invocation (RPI = 4: 38 ms instead of 84 at
// B1 Lq = Lk = 512, A = Dv = 128). The running output is accumulated in the f32 output rows (zeroed
// first, rescaled and added per block, normalised at the end): a per-lane read-modify-write per block
// and column, amortised over the block's BC keys (measured: ~5% of the time), instead of a private
// array sized by Dv.
//
// P.flags.w = 0: the attention pass (out, and lse when FLAG_LSE). P.flags.w = 1: the weights pass, run
// after an attention pass that wrote lse: recomputes the scores of every key and writes
// alpha_ij = exp(score - lse_i) (0 for masked keys) to binding 8 as [slice][Lq][Lk].
// Params as the attention kernels: dims1.y is A (the projected width), bindings 1 qp, 2 kp, 3 v,
// and binding 9 holds v_a (A values in the storage dtype, from element offsets1.w).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: invocations per workgroup (ROWS x RPI query rows)
layout(constant_id = 1) const int BC = 32;        // keys per block; a multiple of 4
layout(constant_id = 2) const int CW = 64;        // elements of A (or Dv) per shared chunk; a multiple of 4
layout(constant_id = 3) const int HAS_MASK = 0;   // P.flags.y != MASK_NONE
layout(constant_id = 4) const int RPI = 1;        // query rows per invocation (each shared load feeds RPI rows)

#include "common/common.glsl"
#include "common/tile_ops.glsl"

const int ROWS = int(gl_WorkGroupSize.x);
const int BQ = BC / 4;  // vec4s of keys per element

layout(std430, set = 0, binding = 9) readonly buffer VaBuf { uint va_words[]; };
// One chunk of the block, transposed: kv_sh[e * BQ + jq] holds element c0 + e of keys 4 jq .. 4 jq + 3.
shared vec4 kv_sh[CW * BQ];
shared float va_sh[CW];

float load_va(int i) {
    const int a = P.offsets1.w + i;  // v_a's first element in its binding
#if IN_F16
    return unpackHalf2x16(va_words[a >> 1])[a & 1];
#else
    return uintBitsToFloat(va_words[a]);
#endif
}

// tanh(x) = 1 - 2 / (exp(2x) + 1): one exp2 and one division; ~20% faster than the builtin on
// lavapipe (100 -> 83 ms at B1 Lq = Lk = 512, A = Dv = 128, one row per invocation). Saturates to
// +-1 for large |x| (exp2 overflows to inf or underflows to 0); its absolute error near 0 is a few
// ulp of 1 (~1e-7), which the sum over A carries as ~1e-7 * |v_a|_1 into a score.
vec4 tanh4(vec4 x) { return 1.0 - 2.0 / (exp2(x * (2.0 * LOG2E)) + 1.0); }

// Cooperative copy of elements c0 .. c0 + CW - 1 of keys j0 .. j0 + BC - 1 into kv_sh; zero past
// block_keys and past n. One lane writes one vec4 (4 keys of one element).
#define COPY_CHUNK(LOAD, base, stride, j0, block_keys, c0, n)                                    \
    [[dont_unroll]] for (int t = lid; t < CW * BQ; t += ROWS) {                                  \
        const int e = t / BQ, j = 4 * (t - e * BQ);                                              \
        const int c = (c0) + e;                                                                  \
        const int at = (base) + ((j0) + j) * (stride).z + c * (stride).w;                        \
        vec4 x = vec4(0.0);                                                                      \
        if (c < (n)) {                                                                           \
            if (j < (block_keys)) x.x = LOAD(at);                                                \
            if (j + 1 < (block_keys)) x.y = LOAD(at + (stride).z);                               \
            if (j + 2 < (block_keys)) x.z = LOAD(at + 2 * (stride).z);                           \
            if (j + 3 < (block_keys)) x.w = LOAD(at + 3 * (stride).z);                           \
        }                                                                                        \
        kv_sh[t] = x;                                                                            \
    }

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int local_bh = int(gl_WorkGroupID.y);
    const Slice s = make_slice(local_bh);
    const int row0 = (P.chunk.w + int(gl_WorkGroupID.x)) * (ROWS * RPI);
    const int A = HEAD_D(), Dv = HEAD_DV();
    const bool weights_pass = P.flags.w == 1;

    // Invocation lid owns rows row0 + r * ROWS + lid, r < RPI.
    int key_end[RPI], q_row[RPI], o_row[RPI], row_index[RPI];
    bool valid[RPI];
    float lse[RPI];
    RowState st[RPI];
    [[unroll]] for (int r = 0; r < RPI; ++r) {
        const int i = row0 + r * ROWS + lid;
        valid[r] = i < LQ();
        key_end[r] = valid[r] ? key_end_for_row(s.b, i) : 0;
        q_row[r] = s.q_base + i * P.q_stride.z;
        o_row[r] = s.o_base + i * P.o_stride.z;
        row_index[r] = local_bh * LQ() + i;
        lse[r] = weights_pass && valid[r] ? lse_data[P.offsets1.y + row_index[r]] : 0.0;
        if (!weights_pass && valid[r])
            [[dont_unroll]] for (int c = 0; c < Dv; ++c) o_data[o_row[r] + c * P.o_stride.w] = 0.0;
        st[r] = row_state_init();
    }
    // The weights pass visits every key (masked ones get 0); the attention pass only visible ones.
    const int tile_key_end = weights_pass ? LK() : key_end_for_row(s.b, min(row0 + ROWS * RPI, LQ()) - 1);

    for (int j0 = 0; j0 < tile_key_end; j0 += BC) {
        const int block_keys = min(BC, tile_key_end - j0);

        // Scores of the block: v_a . tanh(qp + kp_j), summed over A in chunks of CW elements.
        float sc[RPI * BC];
        [[unroll]] for (int j = 0; j < RPI * BC; ++j) sc[j] = 0.0;
        for (int c0 = 0; c0 < A; c0 += CW) {
            barrier();  // the previous chunk (or the previous block's values) has been read
            COPY_CHUNK(LOAD_K, s.k_base, P.k_stride, j0, block_keys, c0, A)
            for (int e = lid; e < CW; e += ROWS) va_sh[e] = c0 + e < A ? load_va(c0 + e) : 0.0;
            barrier();
            const int cn = min(CW, A - c0);
            [[dont_unroll]] for (int e = 0; e < cn; ++e) {
                float qa[RPI];
                [[unroll]] for (int r = 0; r < RPI; ++r) qa[r] = valid[r] ? LOAD_Q(q_row[r] + (c0 + e) * P.q_stride.w) : 0.0;
                const float va = va_sh[e];
                [[unroll]] for (int jq = 0; jq < BQ; ++jq) {
                    const vec4 kk = kv_sh[e * BQ + jq];  // one shared load feeds RPI rows
                    [[unroll]] for (int r = 0; r < RPI; ++r) {
                        const vec4 t = tanh4(qa[r] + kk);
                        const int b = r * BC + 4 * jq;
                        sc[b] = fma(va, t.x, sc[b]);
                        sc[b + 1] = fma(va, t.y, sc[b + 1]);
                        sc[b + 2] = fma(va, t.z, sc[b + 2]);
                        sc[b + 3] = fma(va, t.w, sc[b + 3]);
                    }
                }
            }
        }

        // Masks, in natural units; then the weights (weights pass) or the online softmax update.
        float alpha[RPI];
        [[unroll]] for (int r = 0; r < RPI; ++r) {
            const int i = row0 + r * ROWS + lid;
            // The mask's term of each key (0 or MASKED_SCORE for a boolean mask), read in a loop: unrolled,
            // its per-lane loads inside the key-block loop cost ~4 s of JIT on lavapipe (0.2 s this way).
            float madd[BC];
            if (HAS_MASK != 0) {
                [[dont_unroll]] for (int j = 0; j < BC; ++j) madd[j] = j0 + j < key_end[r] ? apply_mask(s, i, j0 + j, 0.0, 1.0) : 0.0;
            }
            float m_blk = MASKED_SCORE;
            [[unroll]] for (int j = 0; j < BC; ++j) {
                const int key = j0 + j;
                float t = sc[r * BC + j];
                if (HAS_MASK != 0) {  // as apply_mask(s, i, key, t, 1.0)
                    const float add = madd[j];
                    t = add <= MASKED_SCORE ? MASKED_SCORE : add == 0.0 ? t : max(t + add, MASKED_SCORE);
                }
                t = key < key_end[r] ? t : MASKED_SCORE;
                sc[r * BC + j] = t;
                m_blk = max(m_blk, t);
            }
            if (weights_pass) {
                if (valid[r]) {
                    const int p_row = P.offsets1.z + row_index[r] * LK();
                    [[unroll]] for (int j = 0; j < BC; ++j)
                        if (j0 + j < LK()) p_data[p_row + j0 + j] = masked_exp(sc[r * BC + j], lse[r]);
                }
                continue;
            }
            const float m_new = max(st[r].m, m_blk);
            alpha[r] = rescale_factor(st[r].m, m_new);
            float sum = 0.0;
            [[unroll]] for (int j = 0; j < BC; ++j) {
                sc[r * BC + j] = masked_exp(sc[r * BC + j], m_new);
                sum += sc[r * BC + j];
            }
            st[r].l = st[r].l * alpha[r] + sum;
            st[r].m = m_new;
        }
        if (weights_pass) continue;

        // The weighted sum of the value block, CW columns at a time, added to the rescaled output rows.
        for (int c0 = 0; c0 < Dv; c0 += CW) {
            barrier();  // every row has read the previous chunk (its scores of this block are done)
            COPY_CHUNK(LOAD_V, s.v_base, P.v_stride, j0, block_keys, c0, Dv)
            barrier();
            const int cn = min(CW, Dv - c0);
            [[dont_unroll]] for (int e = 0; e < cn; ++e) {
                float o[RPI];
                [[unroll]] for (int r = 0; r < RPI; ++r) o[r] = 0.0;
                [[unroll]] for (int jq = 0; jq < BQ; ++jq) {
                    const vec4 x = kv_sh[e * BQ + jq];  // one shared load feeds RPI rows
                    [[unroll]] for (int r = 0; r < RPI; ++r) {
                        const int b = r * BC + 4 * jq;
                        o[r] = fma(sc[b], weighted_value(sc[b], x.x), o[r]);
                        o[r] = fma(sc[b + 1], weighted_value(sc[b + 1], x.y), o[r]);
                        o[r] = fma(sc[b + 2], weighted_value(sc[b + 2], x.z), o[r]);
                        o[r] = fma(sc[b + 3], weighted_value(sc[b + 3], x.w), o[r]);
                    }
                }
                [[unroll]] for (int r = 0; r < RPI; ++r) {
                    const int at = o_row[r] + (c0 + e) * P.o_stride.w;
                    if (valid[r]) o_data[at] = fma(o_data[at], alpha[r], o[r]);
                }
            }
        }
    }

    if (weights_pass) return;
    [[unroll]] for (int r = 0; r < RPI; ++r) {
        if (!valid[r]) continue;
        const float inv = safe_inverse(st[r].l);
        [[dont_unroll]] for (int c = 0; c < Dv; ++c) o_data[o_row[r] + c * P.o_stride.w] *= inv;
        if ((P.flags.z & FLAG_LSE) != 0) lse_data[P.offsets1.y + row_index[r]] = row_lse(st[r]);
    }
}
