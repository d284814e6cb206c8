#version 450
// Fused attention: one workgroup owns BR query rows of one (batch, head) slice and streams the keys
// in tiles of BC through shared memory with an online softmax, so the Lq x Lk matrix never exists.
// Threads are arranged as BR rows x TPR threads per row. Within a tile, thread t of row r scores keys
// t, t + TPR, ...; the row's maximum is combined through shared memory; then every thread of the row
// accumulates its own output columns c = t, t + TPR, ... (at most DV_PER_THREAD of them, in registers).
// SUBGROUP_REDUCE=1 (a separate SPIR-V variant, so that devices without subgroup shuffles never see
// the capability): the row maximum is a butterfly of subgroupShuffleXor over the row's TPR lanes, which
// the planner uses only when TPR is a power of two no larger than the smallest subgroup size the
// device may run (a row's threads are then consecutive lanes of one subgroup): one barrier and one
// shared-memory round trip fewer per key tile. Otherwise the maxima meet in shared memory.
// GQA packing (FLAG_PACK_GROUP, for short query blocks): workgroup y is a KV head (b * Hkv + hkv) and
// its rows run over the group's query heads x query rows, packed row pr = h_local * Lq + i, so one K/V
// tile serves every query head of the group instead of one (decoding: Lq = 1 would otherwise fill one
// of BR rows and read K/V once per query head). Each row then has its own slice (q, output, mask, ALiBi
// head); the K/V bases are the group's. Off, a workgroup is one (b, h) slice and rows are query rows.
// Split-KV ("flash decoding", engine/attention/attention_split_kv.cpp): when P.ext.w > 0 the key range is cut
// into splits of P.ext.w keys (a multiple of BC) from key P.offsets1.w; workgroup z covers split z
// only and writes its rows' unnormalised partial (m, l, 0, 0, acc[Dv]) to binding 8 at
// ((bh * Lq + i) * NB + z) * pitch (NB = P.flags.w splits, pitch = 4 + Dv rounded up to 4), which
// attention_decode_combine.comp merges by log-sum-exp. Short query blocks over long caches then fill
// the device: a runtime switch, so no pipeline beyond the unsplit kernel's.
#extension GL_GOOGLE_include_directive : require
#if SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int BR = 8;      // query rows per workgroup
layout(constant_id = 2) const int BC = 16;     // keys per tile
layout(constant_id = 3) const int DCAP = 64;   // head-dim capacity of the shared tiles (>= D and Dv)
layout(constant_id = 4) const int TPR = 8;     // threads per query row; workgroup size = BR * TPR
const int DV_PER_THREAD = (DCAP + TPR - 1) / TPR;

#include "common/common.glsl"
#include "common/tile_ops.glsl"

shared float q_tile[BR * DCAP];
shared float k_tile[BC * DCAP];
shared float v_tile[BC * DCAP];
shared float s_tile[BR * BC];     // scores, then probabilities
shared float row_partial[BR * TPR];

void load_kv_tile(Slice s, int j0, int kend, int tid) {
    int D = HEAD_D(), Dv = HEAD_DV();
    for (int e = tid; e < BC * D; e += BR * TPR) {
        int j = e / D, d = e - j * D, key = j0 + j;
        k_tile[j * DCAP + d] = key < kend ? LOAD_K(s.k_base + key * P.k_stride.z + d * P.k_stride.w) : 0.0;
    }
    for (int e = tid; e < BC * Dv; e += BR * TPR) {
        int j = e / Dv, c = e - j * Dv, key = j0 + j;
        v_tile[j * DCAP + c] = key < kend ? LOAD_V(s.v_base + key * P.v_stride.z + c * P.v_stride.w) : 0.0;
    }
}

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

void main() {
    const int tid = int(gl_LocalInvocationID.x);
    const int r = tid / TPR, t = tid - r * TPR;
    const int row0 = (P.chunk.w + int(gl_WorkGroupID.x)) * BR;
    const int pr = row0 + r;  // this thread's row: a query row, or packed (head, query row)
    const bool row_valid = pr < rows_total();
    int i;
    const Slice s = row_slice(min(pr, rows_total() - 1), i);
    const int D = HEAD_D(), Dv = HEAD_DV();

    for (int e = tid; e < BR * D; e += BR * TPR) {
        int rr = e / D, d = e - rr * D, qpr = row0 + rr;
        float x = 0.0;
        if (qpr < rows_total()) {
            int qi;
            const Slice qs = row_slice(qpr, qi);
            x = LOAD_Q(qs.q_base + qi * P.q_stride.z + d * P.q_stride.w);
        }
        q_tile[rr * DCAP + d] = x;
    }

    // The query rows the workgroup covers: [i_lo, i_hi] (every row when packed rows wrap to the next head).
    const int last_pr = min(row0 + BR, rows_total()) - 1;
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

    float acc[DV_PER_THREAD];
    for (int u = 0; u < DV_PER_THREAD; ++u) acc[u] = 0.0;
    // Split-KV partials leave the sink to the combine pass, which counts it once per row.
    RowState st = split_keys > 0 ? row_state_init() : row_state_start(s.h);

    for (int j0 = keys_begin; j0 < keys_end; j0 += BC) {
        barrier();  // previous tile fully consumed (and q_tile written, on the first pass)
        load_kv_tile(s, j0, keys_end, tid);
        barrier();

        // Scores of this thread's keys, and their maximum.
        float local_max = MASKED_SCORE;
        for (int j = t; j < BC; j += TPR) {
            int key = j0 + j;
            float sc = MASKED_SCORE;
            if (key < my_key_end && key >= my_key_start) {
                float dot_qk = 0.0;
                for (int d = 0; d < D; ++d) dot_qk += q_tile[r * DCAP + d] * k_tile[j * DCAP + d];
                // Natural units, scaled after the dot product: one rounding, as a plain implementation
                // has (prescaled q and log2-domain scores lose accuracy when logits reach 1e4).
                sc = apply_mask(s, i, key, transform_score(s, i, key, dot_qk * P.scalars.z), 1.0);
            }
            s_tile[r * BC + j] = sc;
            local_max = max(local_max, sc);
        }
        // row_max, then the rescale factor of the running state.
#if SUBGROUP_REDUCE
        float tile_max = local_max;
        for (int off = 1; off < TPR; off <<= 1) tile_max = max(tile_max, subgroupShuffleXor(tile_max, uint(off)));
#else
        row_partial[r * TPR + t] = local_max;
        barrier();
        float tile_max = MASKED_SCORE;
        for (int u = 0; u < TPR; ++u) tile_max = max(tile_max, row_partial[r * TPR + u]);
#endif
        const float m_new = max(st.m, tile_max);
        const float alpha = rescale_factor(st.m, m_new);
        for (int j = t; j < BC; j += TPR) s_tile[r * BC + j] = masked_exp(s_tile[r * BC + j], m_new);
        barrier();

        // row_sum and the weighted sum of V over this tile, for this thread's columns.
        float tile_sum = 0.0;
        for (int u = 0; u < DV_PER_THREAD; ++u) acc[u] *= alpha;
        for (int j = 0; j < BC; ++j) {
            float p = s_tile[r * BC + j];
            tile_sum += p;
            for (int u = 0; u < DV_PER_THREAD; ++u) {
                int c = t + u * TPR;
                if (c < Dv) acc[u] += p * weighted_value(p, v_tile[j * DCAP + c]);
            }
        }
        st.l = st.l * alpha + tile_sum;
        st.m = m_new;
    }

    if (!row_valid) return;
    if (split_keys > 0) {
        // Every (row, split) entry is written, an empty split as (MASKED_SCORE, 0, zeros): the
        // combine reads them all.
        const int pitch = 4 + ((Dv + 3) & ~3);
        const int base = ((s.bh * LQ() + i) * P.flags.w + int(gl_WorkGroupID.z)) * pitch;
        if (t == 0) {
            p_data[base] = st.m;
            p_data[base + 1] = st.l;
        }
        for (int u = 0; u < DV_PER_THREAD; ++u) {
            int c = t + u * TPR;
            if (c < Dv) p_data[base + 4 + c] = acc[u];
        }
        return;
    }
    const float inv_l = safe_inverse(st.l);
    for (int u = 0; u < DV_PER_THREAD; ++u) {
        int c = t + u * TPR;
        if (c < Dv) o_data[s.o_base + i * P.o_stride.z + c * P.o_stride.w] = acc[u] * inv_l;
    }
    if (t == 0 && (P.flags.z & FLAG_LSE) != 0) lse_data[P.offsets1.y + (s.bh - P.chunk.x) * LQ() + i] = row_lse(st);
    if (t == 0 && (P.flags.z & FLAG_ROW_STATE) != 0) {  // the explicit path's weights pass reads (m, l)
        const int state = P.offsets1.z + 2 * ((s.bh - P.chunk.x) * LQ() + i);
        p_data[state] = st.m;
        p_data[state + 1] = st.l;
    }
}
