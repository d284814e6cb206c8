#version 450
// Linear attention, pass 3 of 3: one invocation per query row i of slice (b, h) and group of up to
// 4 * MAXCB output columns (workgroup z). out_i = (phi(q_i)^T S + sum_j a_j v_j) / (phi(q_i)^T z + sum_j a_j + eps)
// with a_j = phi(q_i) . phi(k_j) over the intra-chunk keys j:
//   - not causal: (S, z) is the total state (slot NC) and there are no intra-chunk keys;
//   - causal: i' = i (top-left) or i + Lk - Lq (bottom-right) sees keys j <= i'. Its chunk is
//     c = i' / C; (S, z) is slot c (the chunks before it) and the intra-chunk keys are
//     [c*C, min(i' + 1, key_lengths[b])): at most C <= CMAX, the O(C * D) direct term.
// A row that sees no key gets 0 (numerator and denominator are both 0; eps keeps 0 / eps = 0).
// Loop iterations per invocation: D * (1 + n) + n + G * (1 + D + n) with n <= C intra keys and G groups
// of 16 columns; the engine sizes the column groups under lavapipe's 65535 limit. Accumulators live in
// registers (fixed-size groups): a dynamically indexed accumulator array went through memory on lavapipe.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 64) in;

#include "common/common.glsl"
#include "layers/linear_common.glsl"

const int CMAX = 64;   // largest causal chunk (engine: kLinearCausalChunk)
const int MAXCB = 32;  // column quads per invocation (engine: kLinearMaxColumnQuads); a multiple of 4

void main() {
    const int rows = B_() * HQ() * LQ();
    const int r = int(gl_GlobalInvocationID.x) + int(gl_WorkGroupID.y) * int(gl_NumWorkGroups.x) * 64;
    if (r >= rows) return;
    const int bh = r / LQ();
    const int i = r - bh * LQ();
    const Slice s = make_slice(bh);
    const int D = HEAD_D(), Dv = HEAD_DV(), E4 = STATE_PITCH(), NC = NCHUNKS(), C = CHUNK();
    const int col0 = int(gl_WorkGroupID.z) * P.flags.w;
    const int ncb = min((min(col0 + P.flags.w, Dv) - col0 + 3) >> 2, MAXCB);

    int key_end = visible_key_count(s.b);
    int slot = NC;  // not causal: the total
    int j_begin = 0, n_intra = 0;
    if (P.flags.x != CAUSAL_NONE) {
        const int ip = P.flags.x == CAUSAL_BOTTOM_RIGHT ? i + LK() - LQ() : i;
        key_end = max(min(key_end, ip + 1), 0);
        slot = ip < 0 ? 0 : min(ip / C, NC);  // slot 0 is all zero
        j_begin = slot * C;
        n_intra = clamp(key_end - j_begin, 0, min(C, CMAX));
    }
    const int state0 = ((s.b * P.dims0.z + s.hkv) * (NC + 1) + slot) * D * E4;

    // Pass A: phi(q) . z and the intra-chunk weights a_u = phi(q) . phi(k_{j_begin + u}).
    float a[CMAX];
    [[unroll]] for (int u = 0; u < CMAX; ++u) a[u] = 0.0;
    float den = 0.0;
    const int q_row = s.q_base + i * P.q_stride.z;
    const int k_first = s.k_base + j_begin * P.k_stride.z;
    [[dont_unroll]] for (int d = 0; d < D; ++d) {
        const float fq = phi(LOAD_Q(q_row + d * P.q_stride.w));
        den += fq * p_quads[(state0 + d * E4 + Dv) >> 2][Dv & 3];
        const int kd = k_first + d * P.k_stride.w;
        [[dont_unroll]] for (int u = 0; u < n_intra; ++u) a[u] += fq * phi(LOAD_K(kd + u * P.k_stride.z));
    }
    [[dont_unroll]] for (int u = 0; u < n_intra; ++u) den += a[u];
    const float inv = 1.0 / (den + LINEAR_EPS());

    // Pass B, 16 columns at a time in registers: phi(q)^T S plus sum_u a_u v_u. Reads past a state
    // row's Dv + 1 columns land in the next row or the allocation's padding and are never stored.
    const int v_first = s.v_base + j_begin * P.v_stride.z;
    const int o_row = s.o_base + i * P.o_stride.z;
    const int ngroups = (ncb + 3) >> 2;
    [[dont_unroll]] for (int g = 0; g < ngroups; ++g) {
        const int c0 = col0 + 16 * g;
        vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
        [[dont_unroll]] for (int d = 0; d < D; ++d) {
            const float fq = phi(LOAD_Q(q_row + d * P.q_stride.w));
            const int s4 = (state0 + d * E4 + c0) >> 2;
            acc0 += fq * p_quads[s4];
            acc1 += fq * p_quads[s4 + 1];
            acc2 += fq * p_quads[s4 + 2];
            acc3 += fq * p_quads[s4 + 3];
        }
        int vc[16];  // clamped column offsets: columns past Dv are read but never stored
        [[unroll]] for (int t = 0; t < 16; ++t) vc[t] = min(c0 + t, Dv - 1) * P.v_stride.w;
        [[dont_unroll]] for (int u = 0; u < n_intra; ++u) {
            const float w = a[u];
            const int vr = v_first + u * P.v_stride.z;
            acc0 += w * vec4(LOAD_V(vr + vc[0]), LOAD_V(vr + vc[1]), LOAD_V(vr + vc[2]), LOAD_V(vr + vc[3]));
            acc1 += w * vec4(LOAD_V(vr + vc[4]), LOAD_V(vr + vc[5]), LOAD_V(vr + vc[6]), LOAD_V(vr + vc[7]));
            acc2 += w * vec4(LOAD_V(vr + vc[8]), LOAD_V(vr + vc[9]), LOAD_V(vr + vc[10]), LOAD_V(vr + vc[11]));
            acc3 += w * vec4(LOAD_V(vr + vc[12]), LOAD_V(vr + vc[13]), LOAD_V(vr + vc[14]), LOAD_V(vr + vc[15]));
        }
        const vec4 o[4] = vec4[4](acc0 * inv, acc1 * inv, acc2 * inv, acc3 * inv);
        const int last = min(col0 + P.flags.w, Dv);
        [[unroll]] for (int t = 0; t < 16; ++t)
            if (c0 + t < last) o_data[o_row + (c0 + t) * P.o_stride.w] = o[t >> 2][t & 3];
    }
}
