#version 450
// Linear attention, pass 3 of 3: one invocation per query row i of slice (b, h) and group of up to
// 4 * MAXCB output columns (workgroup z). out_i = (phi(q_i)^T S + sum_j a_j v_j) / (phi(q_i)^T z + sum_j a_j + eps)
// with a_j = phi(q_i) . phi(k_j) over the intra-chunk keys j:
//   - not causal: (S, z) is the total state (slot NC) and there are no intra-chunk keys;
//   - causal: i' = i (top-left) or i + Lk - Lq (bottom-right) sees keys j <= i'. Its chunk is
//     c = i' / C; (S, z) is slot c (the chunks before it) and the intra-chunk keys are
//     [c*C, min(i' + 1, key_lengths[b])): at most C <= CMAX, the O(C * D) direct term.
// A row that sees no key gets 0 (numerator and denominator are both 0; eps keeps 0 / eps = 0).
// Loop iterations per invocation: D * (1 + n + ncb) + n * (1 + ncb) + ncb with n <= C intra keys and
// ncb column quads; the engine sizes the column groups under lavapipe's 65535 limit.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 64) in;

#include "common.glsl"
#include "linear_common.glsl"

const int CMAX = 64;   // largest causal chunk (engine: kLinearCausalChunk)
const int MAXCB = 32;  // column quads per invocation (engine: kLinearMaxColumnQuads)

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

    float a[CMAX];
    [[unroll]] for (int u = 0; u < CMAX; ++u) a[u] = 0.0;
    vec4 acc[MAXCB];
    [[unroll]] for (int u = 0; u < MAXCB; ++u) acc[u] = vec4(0.0);
    float den = 0.0;
    const int q_row = s.q_base + i * P.q_stride.z;
    const int k_first = s.k_base + j_begin * P.k_stride.z;
    [[dont_unroll]] for (int d = 0; d < D; ++d) {
        const float fq = phi(LOAD_Q(q_row + d * P.q_stride.w));
        const int srow = state0 + d * E4;
        den += fq * p_quads[(srow + Dv) >> 2][Dv & 3];
        const int kd = k_first + d * P.k_stride.w;
        [[dont_unroll]] for (int u = 0; u < n_intra; ++u) a[u] += fq * phi(LOAD_K(kd + u * P.k_stride.z));
        const int s4 = (srow + col0) >> 2;
        [[dont_unroll]] for (int cb = 0; cb < ncb; ++cb) acc[cb] += fq * p_quads[s4 + cb];
    }
    const int v_first = s.v_base + j_begin * P.v_stride.z;
    [[dont_unroll]] for (int u = 0; u < n_intra; ++u) {
        const float w = a[u];
        den += w;
        const int vr = v_first + u * P.v_stride.z;
        [[dont_unroll]] for (int cb = 0; cb < ncb; ++cb) {
            const int e = col0 + 4 * cb;  // columns past Dv are read clamped and never written
            acc[cb] += w * vec4(LOAD_V(vr + min(e, Dv - 1) * P.v_stride.w), LOAD_V(vr + min(e + 1, Dv - 1) * P.v_stride.w),
                                LOAD_V(vr + min(e + 2, Dv - 1) * P.v_stride.w), LOAD_V(vr + min(e + 3, Dv - 1) * P.v_stride.w));
        }
    }
    const float inv = 1.0 / (den + LINEAR_EPS());
    const int o_row = s.o_base + i * P.o_stride.z;
    [[dont_unroll]] for (int cb = 0; cb < ncb; ++cb) {
        const vec4 o = acc[cb] * inv;
        [[unroll]] for (int t = 0; t < 4; ++t) {
            const int e = col0 + 4 * cb + t;
            if (e < Dv) o_data[o_row + e * P.o_stride.w] = o[t];
        }
    }
}
