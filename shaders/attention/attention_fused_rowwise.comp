#version 450
// Fused attention for CPU-like devices (llvmpipe / lavapipe, SwiftShader): one invocation owns one
// query row entirely (its pre-scaled q row, its Dv accumulators, its running max and sum), so there
// are no cross-lane reductions. A workgroup of ROWS consecutive rows of one (batch, head) slice
// handles one block of BC keys per dispatch: the block's K, then its V, is copied cooperatively into
// shared memory, and every invocation reads it at lane-uniform, compile-time constant addresses.
//
// Costs measured on Mesa 22.3 lavapipe (LLVM 15, 8 lanes, 2 cores), in units of one register FMA on
// 8 lanes (straight-line register FMAs reach ~130 GFLOP/s):
//   - llvmpipe has no uniform control flow: every NIR loop or if runs under an execution mask, and a
//     shared or storage load inside one takes the per-lane path (8 scalar loads, inserts and mask
//     tests) even when its address is a constant: ~9 units inside a loop, ~28 with the address
//     computed from the loop counter, ~37 when it differs per lane. Mesa's uniform fast path
//     (nir_src_is_always_uniform: constants and push constants only, not divergence analysis) also
//     needs the code to sit outside every loop and if.
//   - At the top level a shared load at a constant address becomes a broadcast memory operand
//     (vmulps mem{1to8}): ~2.3 units per FMA fed by its own load, ~1.8 when a load feeds two FMAs.
//     llvmpipe lowers fma() to vmulps + vaddps (no FMA contraction). So every hot loop below has a
//     compile-time trip count and is fully unrolled ([[unroll]]), and nothing hot sits in an `if`:
//     a false `if` still runs its body under a zero mask (measured ~17x slower than at top level).
//     Whether a mask is bound is a specialization constant, so the unmasked kernel has no mask code.
//   - subgroupBroadcast(x, constant) costs ~36 units: no substitute for the shared broadcast.
//   - Per-lane (varying) global / shared accesses are loops over the 8 lanes with a bounds check
//     each: ~40 cycles for a scalar, ~140 for a vec4 per 8 lanes; with 128 rows they were ~60% of
//     the kernel's time (perf on the JIT code). Hence vec4 accesses for q, the accumulators, the
//     output and the K/V loads whenever the layout allows, large ROWS (the copy is shared by every
//     row of the workgroup: 256 rows ran ~10% faster than 128 at Lq = 2048; 512 no faster), and as
//     many keys per dispatch as shared memory holds (K and V take turns in one buffer).
//   - Per-lane loads unrolled into many array elements compiled slowly and ran slower than a loop
//     storing into the array; so those stay loops ([[dont_unroll]]).
//   - Compile time is dominated by NIR, not LLVM (copy propagation compares every shared load with
//     all earlier ones): memoryBarrierShared() after each unrolled group resets that and halved the
//     compile time at no measured run-time cost (more of them made it slower again); a float shared
//     array compiles ~35% faster than a vec4 one. ~1.2-1.8 s per pipeline (128 keys x 64 dims).
//   - Barriers: llvmpipe runs the subgroups of a workgroup one after another between barriers
//     (coroutine switches): at most ~40 cycles per subgroup and barrier, a few more with 64 values
//     live across it; the three per dispatch here are noise next to the copy. (Replacing the
//     memoryBarrierShared() calls below by barrier() changed nothing measurable either.)
// The running state crosses dispatches in memory: the unnormalised accumulator in the output rows,
// (m, l) in the scratch binding. The engine issues one dispatch per key block kb = P.flags.w over a
// host-built list of the (slice, row tile) pairs that still see keys in that block (causal / padding
// tiles are skipped there), with a barrier between dispatches.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                   // ROWS: query rows (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;        // keys per block (per dispatch); a multiple of KJ
layout(constant_id = 2) const int DCAP = 64;      // head-dim capacity (>= D and Dv); a multiple of CJ
layout(constant_id = 3) const int FEATURES = 0;   // FEATURE_* bits (rowwise_block.glsl): what is off is compiled out

#include "common/common.glsl"
#include "common/tile_ops.glsl"
#include "common/rowwise_block.glsl"  // vec4 views of Q/K/V, kv_sh, the block copies, scoring and P.V

layout(std430, set = 0, binding = 4) buffer OBuf4 { vec4 o_quads[]; };

// Binding 6 (key_lengths) holds, after the B key lengths, the work list: P.offsets1.w is the index of
// this dispatch's first item; item g is (local slice, row tile relative to chunk.w) at 2g, 2g + 1.
// Scratch binding 8 holds (m, l) per row at P.offsets1.z + 2 * (local_bh * Lq + i).
void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int item = P.offsets1.w + 2 * int(gl_WorkGroupID.x);
    const int local_bh = key_lengths[item];
    const Slice s = make_slice(local_bh);
    const int row0 = (P.chunk.w + key_lengths[item + 1]) * ROWS;
    const int D = HEAD_D(), Dv = HEAD_DV();
    const int j0 = P.flags.w * BC;

    // Keys past the last row's causal / padding / window limit are invisible to the whole workgroup,
    // and so are keys before the first row's window start: the host lists this tile for the blocks
    // first_block .. its last block only.
    const int q_len = seq_q_len(s.b);  // Lq, or the sequence's own (packed sequences)
    const int tile_key_end = key_end_for_row(s.b, min(row0 + ROWS, q_len) - 1);
    const int first_block = key_start_for_row(s.b, row0) / BC;
    const int block_keys = clamp(tile_key_end - j0, 0, BC);

    // Cooperative copy of the K and V block, zero-padded to BC x DCAP.
    copy_k_block(lid, s, j0, block_keys, D);
    barrier();

    const int i = row0 + lid;
    const bool row_valid = i < q_len;
    const int my_key_end = row_valid ? key_end_for_row(s.b, i) : 0;
    const int my_key_start = key_start_for_row(s.b, i);
    // The block in which this row's state becomes final (the tile's first for a row that sees no key).
    const int my_last_block = max((my_key_end + BC - 1) / BC - 1, first_block);

    // This row's q. Scores are scaled after the dot product and kept in natural units, the max
    // subtracted before converting to log2 (tile_ops.glsl): accurate with logits near 1e4.
    float q[DCAP];
    const int q_row = s.q_base + i * P.q_stride.z;
    LOAD_Q_ROW(q, s, q_row, row_valid, D)

    // The running state and accumulator left by the previous block.
    const int state_idx = P.offsets1.z + 2 * (local_bh * LQ() + i);
    const int o_row = s.o_base + i * P.o_stride.z;
    const bool o_quads_ok = quads_ok(s.o_base, P.o_stride.z, P.o_stride.w, Dv);
    const bool resume = P.flags.w > first_block && row_valid;
    RowState st = row_state_start(s.h);  // the first block starts from the head's sink, if any
    if (resume) st = RowState(p_data[state_idx], p_data[state_idx + 1]);

    // Scores of the block: KJ keys at a time, each q[d] feeding KJ chains; kv_sh offsets are constants.
    // memoryBarrierShared() after each group only bounds NIR's copy-propagation work (compile time).
    float sc[BC];
    SCORE_BLOCK(sc, q)

    // Masks (causal / padding per row, then the explicit mask), and the block's maximum.
    float m_blk[2] = float[2](MASKED_SCORE, MASKED_SCORE);
    SCORE_FINISH(sc, m_blk, s, i, j0, my_key_start, my_key_end)

    // Online softmax: rescale, exponentiate, sum.
    const float m_new = max(st.m, max(m_blk[0], m_blk[1]));
    const float alpha = rescale_factor(st.m, m_new);
    float sum2[2] = float[2](0.0, 0.0);
    [[unroll]] for (int j = 0; j < BC; ++j) {
        sc[j] = masked_exp(sc[j], m_new);
        sum2[j & 1] += sc[j];
    }
    st.l = st.l * alpha + (sum2[0] + sum2[1]);
    st.m = m_new;

    barrier();  // every row has its scores: the K block may be overwritten
    copy_v_block(lid, s, j0, block_keys, Dv);
    barrier();

    float acc[DCAP];
    if (o_quads_ok) {
        [[dont_unroll]] for (int c = 0; c < DCAP; c += 4) {
            const vec4 x = resume && c < Dv ? o_quads[(o_row + c) >> 2] : vec4(0.0);
            acc[c] = x.x, acc[c + 1] = x.y, acc[c + 2] = x.z, acc[c + 3] = x.w;
        }
    } else {
        [[dont_unroll]] for (int c = 0; c < DCAP; ++c) acc[c] = resume && c < Dv ? o_data[o_row + c * P.o_stride.w] : 0.0;
    }

    // Weighted sum of V: CJ columns at a time, each probability feeding CJ chains. The block's sum
    // starts from zero and is added to the rescaled accumulator (blocked summation over long rows).
    ACCUMULATE_BLOCK(acc, sc, alpha)

    // Rows whose state became final in an earlier block keep what they wrote then.
    if (row_valid && P.flags.w <= my_last_block) {
        const bool finalize = P.flags.w == my_last_block;
        const float out_scale = finalize ? safe_inverse(st.l) : 1.0;
        if (o_quads_ok) {
            [[dont_unroll]] for (int c = 0; c < Dv; c += 4)
                o_quads[(o_row + c) >> 2] = vec4(acc[c], acc[c + 1], acc[c + 2], acc[c + 3]) * out_scale;
        } else {
            [[dont_unroll]] for (int c = 0; c < Dv; ++c) o_data[o_row + c * P.o_stride.w] = acc[c] * out_scale;
        }
        // (m, l) stay for the next block, or, on the explicit path, for the weights pass (FLAG_ROW_STATE).
        if (!finalize || (P.flags.z & FLAG_ROW_STATE) != 0) {
            p_data[state_idx] = st.m;
            p_data[state_idx + 1] = st.l;
        }
        if (finalize && (P.flags.z & FLAG_LSE) != 0) lse_data[lse_index(s, local_bh, i)] = row_lse(st);
    }
}
