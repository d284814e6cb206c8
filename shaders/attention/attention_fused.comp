#version 450
// Fused attention for GPUs (the "tiled" kernel): one workgroup owns BR query rows of one (batch, head)
// slice (or of a GQA group, below) and streams the keys in tiles of BC through shared memory with an
// online softmax, so the Lq x Lk matrix never exists.
//
// Layout. The workgroup is BR rows x TPR lanes (WG = BR * TPR invocations; TPR a power of two dividing
// DCAP / 4). Lane `lane` of row r holds, in registers, the quads (4 elements) lane, lane + TPR, ... of its
// q row and of its output accumulator: QPL = DCAP / (4 * TPR) quads each. Every loop over the head dim,
// the keys of a tile and the lanes is unrolled to its compile-time bound (DCAP, BC, TPR are specialization
// constants); a D or Dv below DCAP reads as zeros (q, K and V are zero-padded), so the padded dims add 0.
// Per K/V tile each invocation computes a register block of 1 row x BC keys: its partial dot products over
// its quads, which the row's TPR lanes sum (SUBGROUP_REDUCE: a butterfly of subgroupShuffleXor, after
// which every lane holds the same bits; otherwise through shared memory, every lane adding the TPR
// partials in the same order). Every lane of a row then holds the row's BC scores, so the row maximum,
// the exponentials, the running (m, l) and the rescale are computed in registers by each lane with no
// further exchange, and P.V adds each probability times the lane's V quads into its own accumulator
// columns: lanes own distinct output columns, so nothing is merged at the end beyond the write-out.
// K/V tiles live in shared memory in their storage precision (f16 as packed halves: twice the keys of an
// f32 tile in the same bytes), as [key][quad]: the lanes of a row read consecutive quads of one key and
// the rows of a subgroup read the same key, so reads are conflict-free (or broadcasts) without padding;
// the copy writes consecutive quads from consecutive invocations. The partial scores of the shared
// reduction are padded (BC + 1 floats a lane) so that a row's lanes, writing at that stride, hit distinct
// banks. Loads are 16-byte (f32) or 8-byte (f16) quads where the strides allow (kv_quads.glsl, which
// also holds the per-format branch), element by element otherwise.
// Pipelining: the next tile's K and V quads are loaded from global memory into registers at the top of
// each tile and stored to shared memory after the math that last reads each buffer: K after the score
// block, V after P.V. Two barriers per tile (A after the scores, B after P.V) order everything: K(t + 1)
// is stored after A(t), read after B(t); V(t + 1) is stored after B(t), read after A(t + 1). Single
// buffers, so a tile's bytes are all the shared memory the K/V tiles take (double buffering would save
// one barrier and halve the keys per tile at NVIDIA's 48 KiB; the register prefetch already overlaps
// the load with the math).
//
// Per K/V tile, with WG = BR * TPR, sb = storage bytes per element (4 f32, 2 f16), LOADS = ceil(BC * DCAP
// / (4 * WG)) quads per invocation per tile and red = 1 for the shared-memory reduction, 0 for SUBGROUP_REDUCE:
//   FMAs (scalar multiply-adds, per workgroup)   2 * BR * BC * DCAP      (half Q.K, half P.V; per invocation
//                                                                        2 * BC * DCAP / TPR)
//   shared bytes written                         2 * BC * DCAP * sb + red * 4 * BR * TPR * BC
//   shared bytes read (per workgroup, before     2 * BR * BC * DCAP * sb + red * 4 * BR * TPR * TPR * BC
//     a subgroup's broadcasts)
//   global bytes read                            2 * BC * D * sb (each K and V row once per workgroup;
//                                                at most 2 * BC * DCAP * sb), plus the mask's entries
//   barriers                                     2 (and 1 before the first tile)
//   subgroup shuffles (per invocation)           (1 - red) * BC * log2(TPR)
//   registers held per invocation (floats)       2 * DCAP / TPR + BC + 2 * sb * LOADS + 2
//                                                (q and accumulator quads, the scores, the K and V
//                                                prefetch in storage words, m and l)
//   shared bytes per workgroup                   2 * BC * DCAP * sb + red * 4 * BR * TPR * (BC + 1)
// (engine/attention/attention_plan.cpp fused_shared_bytes computes the last; FusedConfig's rows = BR,
// keys = BC, dcap = DCAP, threads_per_row = TPR, storage_bytes = sb, subgroup_reduce = !red.)
//
// SUBGROUP_REDUCE=1 (a separate SPIR-V variant, so that devices without subgroup shuffles never see the
// capability) needs a row's TPR lanes to be consecutive lanes of one subgroup: the planner uses it only
// when TPR is a power of two no larger than the smallest subgroup size, the workgroup a multiple of the
// largest, and the pipeline is created with full subgroups required (computeFullSubgroups).
// GQA packing (FLAG_PACK_GROUP, for short query blocks): workgroup y is a KV head (b * Hkv + hkv) and
// its rows run over the group's query heads x query rows, packed row pr = h_local * Lq + i, so one K/V
// tile serves every query head of the group instead of one. Each row then has its own slice (q, output,
// mask, ALiBi head); the K/V bases are the group's. Off, a workgroup is one (b, h) slice.
// Split-KV ("flash decoding", engine/attention/attention_split_kv.cpp): when P.ext.w > 0 the key range is cut
// into splits of P.ext.w keys (a multiple of BC) from key P.offsets1.w; workgroup z covers split z
// only and writes its rows' unnormalised partial (m, l, 0, 0, acc[Dv]) to binding 8 at
// ((bh * Lq + i) * NB + z) * pitch (NB = P.flags.w splits, pitch = 4 + Dv rounded up to 4), which
// attention_decode_combine.comp merges by log-sum-exp.
// Loop iterations (lavapipe ends a shader's loops after 65535 iterations, counting only loops it did not
// unroll): one per key tile; everything inside is unrolled (tiled_loop_iterations in attention_plan.cpp).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int BR = 8;      // query rows per workgroup
layout(constant_id = 2) const int BC = 16;     // keys per tile
layout(constant_id = 3) const int DCAP = 64;   // padded head-dim class (>= D and Dv): 64, 128, 256, 512
layout(constant_id = 4) const int TPR = 8;     // lanes per query row (power of two dividing DCAP / 4); WG = BR * TPR

#include "common/common.glsl"
#include "common/tile_ops.glsl"
#include "common/kv_quads.glsl"

const int WG = BR * TPR;
const int DQ = DCAP / 4;                          // quads of a padded row
const int QPL = DQ / TPR;                         // quads of a row per lane
const int TILE_QUADS = BC * DQ;                   // quads of one K (or V) tile
const int LOADS = (TILE_QUADS + WG - 1) / WG;     // of those, per invocation
const int LOG2_TPR = TPR >= 32 ? 5 : TPR >= 16 ? 4 : TPR >= 8 ? 3 : TPR >= 4 ? 2 : TPR >= 2 ? 1 : 0;

shared TILE_QUAD k_sh[TILE_QUADS];  // [key][quad]
shared TILE_QUAD v_sh[TILE_QUADS];
#if !SUBGROUP_REDUCE
const int PART_STRIDE = BC + 1;               // padded: a row's lanes write at this stride, distinct banks
shared float part_sh[WG * PART_STRIDE];       // [row][lane][key] partial scores
#endif

bool packed_rows() { return (P.flags.z & FLAG_PACK_GROUP) != 0; }
int rows_total() { return packed_rows() ? GROUP() * LQ() : LQ(); }

// The slice and query row of (packed) row pr of this workgroup; pr < rows_total().
Slice row_slice(int pr, out int i) {
    if (!packed_rows()) {
        i = pr;
        return make_slice(int(gl_WorkGroupID.y));
    }
    const int h_local = pr / LQ();
    i = pr - h_local * LQ();
    const int Hkv = P.dims0.z;
    const int b = int(gl_WorkGroupID.y) / Hkv, hkv = int(gl_WorkGroupID.y) - b * Hkv;
    return make_slice(b * HQ() + hkv * GROUP() + h_local - P.chunk.x);
}

// Quad e of the K (V) tile of keys j0 .. j0 + BC - 1: zero past the tile, past kend and past D (Dv).
TILE_QUAD fetch_k(Slice s, int j0, int kend, int e, bool quads) {
    const int j = e / DQ, d = 4 * (e - j * DQ);
    if (e >= TILE_QUADS || j0 + j >= kend) return TILE_QUAD(0u);
    return load_k_quad(s.k_base + key_row(s.b, j0 + j) * P.k_stride.z, P.k_stride.w, d, HEAD_D(), quads);
}
TILE_QUAD fetch_v(Slice s, int j0, int kend, int e, bool quads) {
    const int j = e / DQ, d = 4 * (e - j * DQ);
    if (e >= TILE_QUADS || j0 + j >= kend) return TILE_QUAD(0u);
    return load_v_quad(s.v_base + key_row(s.b, j0 + j) * P.v_stride.z, P.v_stride.w, d, HEAD_DV(), quads);
}

void main() {
    const int tid = int(gl_LocalInvocationID.x);
    const int r = tid / TPR, lane = tid - r * TPR;
    const int row0 = (P.chunk.w + int(gl_WorkGroupID.x)) * BR;
    const int pr = row0 + r;  // this invocation's row: a query row, or packed (head, query row)
    int i;
    const Slice s = row_slice(min(pr, rows_total() - 1), i);
    // Packed sequences (never with packed GQA rows): rows past the sequence's own length are launch padding.
    const int q_len = seq_q_len(s.b);
    const bool row_valid = pr < rows_total() && i < q_len;
    if (!packed_rows() && row0 >= q_len) return;  // the whole workgroup (uniform): before any barrier
    const int D = HEAD_D(), Dv = HEAD_DV();

    // This lane's quads of its q row, in registers.
    vec4 q[QPL];
    {
        const int base = s.q_base + i * P.q_stride.z;
        const bool quads = quads_ok(base, P.q_stride.z, P.q_stride.w, D);
        [[unroll]] for (int u = 0; u < QPL; ++u) q[u] = load_q4(base, P.q_stride.w, 4 * (lane + TPR * u), D, quads);
    }

    // The query rows the workgroup covers: [i_lo, i_hi] (every row when packed rows wrap to the next head).
    const int last_pr = min(row0 + BR, packed_rows() ? rows_total() : q_len) - 1;
    const bool wraps = last_pr / LQ() != row0 / LQ();
    const int i_lo = wraps ? 0 : row0 % LQ();
    const int i_hi = wraps ? LQ() - 1 : last_pr % LQ();
    // Keys past the last row's causal / padding limit are invisible to the whole workgroup: skip them.
    const int tile_key_end = key_end_for_row(s.b, i_hi);
    const int my_key_end = row_valid ? key_end_for_row(s.b, i) : 0;
    const int my_key_start = key_start_for_row(s.b, i);
    // Key tiles before the first row's window start are invisible to the whole workgroup: skip them.
    const int tile_key_start = key_start_for_row(s.b, i_lo) / BC * BC;
    // Split-KV: this workgroup's split of the key range (tile-aligned, so no tile crosses a split).
    const int split_keys = P.ext.w;
    int keys_begin = tile_key_start, keys_end = tile_key_end;
    if (split_keys > 0) {
        const int split_start = P.offsets1.w + int(gl_WorkGroupID.z) * split_keys;
        keys_begin = max(keys_begin, split_start);
        keys_end = min(keys_end, split_start + split_keys);
    }
    // Uniform over the workgroup (one K/V slice): whole quads can be loaded.
    const bool k_quads_ok = quads_ok(s.k_base, P.k_stride.z, P.k_stride.w, D);
    const bool v_quads_ok = quads_ok(s.v_base, P.v_stride.z, P.v_stride.w, Dv);

    vec4 acc[QPL];
    [[unroll]] for (int u = 0; u < QPL; ++u) acc[u] = vec4(0.0);
    // Split-KV partials leave the sink to the combine pass, which counts it once per row.
    RowState st = split_keys > 0 ? row_state_init() : row_state_start(s.h);

    // The first tile.
    TILE_QUAD k_next[LOADS], v_next[LOADS];
    [[unroll]] for (int u = 0; u < LOADS; ++u) {
        const int e = tid + WG * u;
        k_next[u] = fetch_k(s, keys_begin, keys_end, e, k_quads_ok);
        v_next[u] = fetch_v(s, keys_begin, keys_end, e, v_quads_ok);
        if (e < TILE_QUADS) k_sh[e] = k_next[u], v_sh[e] = v_next[u];
    }
    barrier();

    [[dont_unroll]] for (int j0 = keys_begin; j0 < keys_end; j0 += BC) {
        // Issue the next tile's loads (zeros past the range); they land while the math below runs.
        [[unroll]] for (int u = 0; u < LOADS; ++u) {
            const int e = tid + WG * u;
            k_next[u] = fetch_k(s, j0 + BC, keys_end, e, k_quads_ok);
            v_next[u] = fetch_v(s, j0 + BC, keys_end, e, v_quads_ok);
        }

        // Q.K: this lane's partial dot products of its quads with the tile's BC keys, summed element by
        // element in d order (dot() summed differently on lavapipe and was less accurate at 1e4 logits:
        // one seed of the x100 f32 case had 4.0e-4 against 1.1e-4 this way).
        float sc[BC];
        [[unroll]] for (int j = 0; j < BC; ++j) {
            float dot_qk = 0.0;
            [[unroll]] for (int u = 0; u < QPL; ++u) {
                const vec4 k4 = tile_unpack(k_sh[j * DQ + lane + TPR * u]);
                dot_qk += q[u].x * k4.x;
                dot_qk += q[u].y * k4.y;
                dot_qk += q[u].z * k4.z;
                dot_qk += q[u].w * k4.w;
            }
            sc[j] = dot_qk;
        }
#if SUBGROUP_REDUCE
        // row_sum of the partials across the row's lanes: a butterfly leaves the same bits on every lane.
        [[unroll]] for (int b = 0; b < LOG2_TPR; ++b)
            [[unroll]] for (int j = 0; j < BC; ++j) sc[j] += subgroupShuffleXor(sc[j], uint(1 << b));
        barrier();  // A: every lane has read k_sh
#else
        [[unroll]] for (int j = 0; j < BC; ++j) part_sh[tid * PART_STRIDE + j] = sc[j];
        barrier();  // A: every lane has read k_sh and written its partials
        [[unroll]] for (int j = 0; j < BC; ++j) {
            float t = 0.0;
            [[unroll]] for (int w = 0; w < TPR; ++w) t += part_sh[(r * TPR + w) * PART_STRIDE + j];
            sc[j] = t;
        }
#endif
        // The next tile's K, now that nobody reads this one (read after B).
        [[unroll]] for (int u = 0; u < LOADS; ++u) {
            const int e = tid + WG * u;
            if (e < TILE_QUADS) k_sh[e] = k_next[u];
        }

        // Scores in natural units, scaled after the dot product (one rounding, as a plain implementation
        // has), then softcap / ALiBi and the mask; keys this row cannot see are MASKED_SCORE.
        float tile_max = MASKED_SCORE;
        [[unroll]] for (int j = 0; j < BC; ++j) {
            const int key = j0 + j;
            float x = MASKED_SCORE;
            if (key < my_key_end && key >= my_key_start) x = apply_mask(s, i, key, transform_score(s, i, key, sc[j] * P.scalars.z), 1.0);
            sc[j] = x;
            tile_max = max(tile_max, x);
        }
        // row_max -> rescale -> exp -> row_sum, identical on every lane of the row.
        const float m_new = max(st.m, tile_max);
        const float alpha = rescale_factor(st.m, m_new);
        float tile_sum = 0.0;
        [[unroll]] for (int j = 0; j < BC; ++j) {
            sc[j] = masked_exp(sc[j], m_new);
            tile_sum += sc[j];
        }
        st.l = st.l * alpha + tile_sum;
        st.m = m_new;

        // P.V into this lane's accumulator quads. A key of weight 0 adds nothing, not 0 * (NaN or inf).
        [[unroll]] for (int u = 0; u < QPL; ++u) acc[u] *= alpha;
        [[unroll]] for (int j = 0; j < BC; ++j) {
            const bvec4 seen = bvec4(sc[j] != 0.0);
            [[unroll]] for (int u = 0; u < QPL; ++u)
                acc[u] += sc[j] * mix(vec4(0.0), tile_unpack(v_sh[j * DQ + lane + TPR * u]), seen);
        }
        barrier();  // B: every lane has read v_sh (and the partials); the next K tile is visible
        [[unroll]] for (int u = 0; u < LOADS; ++u) {
            const int e = tid + WG * u;
            if (e < TILE_QUADS) v_sh[e] = v_next[u];
        }
    }

    if (!row_valid) return;
    if (split_keys > 0) {
        // Every (row, split) entry is written, an empty split as (MASKED_SCORE, 0, zeros): the
        // combine reads them all.
        const int pitch = 4 + ((Dv + 3) & ~3);
        const int base = ((s.bh * LQ() + i) * P.flags.w + int(gl_WorkGroupID.z)) * pitch;
        if (lane == 0) {
            p_data[base] = st.m;
            p_data[base + 1] = st.l;
        }
        [[unroll]] for (int u = 0; u < QPL; ++u)
            [[unroll]] for (int c4 = 0; c4 < 4; ++c4) {
                const int c = 4 * (lane + TPR * u) + c4;
                if (c < Dv) p_data[base + 4 + c] = acc[u][c4];
            }
        return;
    }
    const float inv_l = safe_inverse(st.l);
    [[unroll]] for (int u = 0; u < QPL; ++u)
        [[unroll]] for (int c4 = 0; c4 < 4; ++c4) {
            const int c = 4 * (lane + TPR * u) + c4;
            if (c < Dv) o_data[s.o_base + i * P.o_stride.z + c * P.o_stride.w] = acc[u][c4] * inv_l;
        }
    if (lane == 0 && (P.flags.z & FLAG_LSE) != 0) lse_data[lse_index(s, s.bh - P.chunk.x, i)] = row_lse(st);
    if (lane == 0 && (P.flags.z & FLAG_ROW_STATE) != 0) {  // the explicit path's weights pass reads (m, l)
        const int state = P.offsets1.z + 2 * ((s.bh - P.chunk.x) * LQ() + i);
        p_data[state] = st.m;
        p_data[state + 1] = st.l;
    }
}
