#version 450
// Y[b1, b2, m, n] (+)= sum_k A[b1, b2, m, k] * W(n, k) (+ bias[n]): one block of at most KB values of k
// per dispatch, accumulated in an f32 output. The engine (engine/layers/matmul.cpp) issues one dispatch per K
// block (and per segment of a flattened [.., K1, K2] operand such as concatenated attention heads),
// with a barrier between them; the first dispatch starts from the bias (or zero), the others from what
// the previous one wrote.
//
// Shaped for CPU-like devices (llvmpipe / lavapipe), after the cost model in the header of
// attention_fused_rowwise.comp: one invocation owns RM rows of A (RM x KB values, in a private array)
// and NT x NB output columns of each (NT W blocks one after the other, so each A value loaded feeds
// NT x NB FMAs); the workgroup copies the NB x KB block of W into shared memory (w_sh, as
// rowwise_block.glsl's COPY_BLOCK does for K), and MATMUL_BLOCK forms the RM x NB dot
// products, fully unrolled, every shared load at a compile-time constant address outside any loop or
// if: on lavapipe each is one broadcast memory operand, and each feeds RM FMAs (one per row) instead of
// one, with RM x MJ independent accumulator chains per group of MJ columns. The K loop is the dispatch
// loop on the host: a loop around the block would put its shared loads on llvmpipe's per-lane path.
// Per dispatch each row costs per-lane traffic of KB values of A and NT x NB outputs (read and written),
// against NT x NB x KB FMAs: hence KB and NB as large as shared memory allows (NB x KB x 4 bytes), and
// NT = 2 on lavapipe (matmul.cpp). The
// per-invocation arrays (A rows, results) are vec4 arrays written at runtime indices in the per-lane
// loops: as float arrays each of those stores was its own per-lane store, and 1024^3 took ~1.2x the
// CPU time (measured on lavapipe, medians of 3 interleaved runs). Measured there at 1024^3 (ablations,
// CPU time, 128 x 2 rows, NT = 1): the FMA block ~25% of the time, the per-lane A loads ~40%, the
// output read-modify-write ~25%, the W copy ~20% (removing each alone): llvmpipe's per-lane path, not
// the arithmetic, is the bound.
//
// Bindings (common.glsl): 1 A (q_words), 2 W (k_words), 3 bias (v_words), 4 Y (f32, o_data).
// Params (reinterpreted): dims0 = (B1, B2, M, N); dims1.x = k values in this block (<= KB),
// dims1.y = 1 for the first block (start from bias / zero), dims1.z = 1 when a bias is bound;
// q_stride = A strides (b1, b2, m, k); k_stride = W strides (unused, unused, n, k);
// o_stride = Y strides (b1, b2, m, n); offsets0 = element offsets of A's and W's block start, bias, Y.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                // ROWS: rows of A (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;     // NB: output columns per workgroup (a multiple of 4)
layout(constant_id = 2) const int DCAP = 64;   // KB: values of k per dispatch (a multiple of 16)
layout(constant_id = 3) const int RM = 1;      // rows of A per invocation (a workgroup has ROWS x RM rows)
layout(constant_id = 4) const int NT = 1;      // W blocks per dispatch, one after the other (1 or 2): NT x NB columns

#include "common/common.glsl"
#include "common/quad_views.glsl"  // q_quads / k_quads, QUAD, quads_ok

const int ROWS = int(gl_WorkGroupSize.x);
const int TILE = BC * DCAP;  // elements of one W block

// The W block [n][k], zero-padded. A vec4 array: the copy stores one quad per per-lane store (a float
// array, rowwise_block.glsl's kv_sh, takes four): 1024^3 f32 took ~5% less CPU time on lavapipe
// (4 of 4 interleaved runs); the block reads one component at a constant index.
shared vec4 w_sh[TILE / 4];

layout(std430, set = 0, binding = 4) buffer OBuf4 { vec4 o_quads[]; };

const int MJ = 4;  // output columns per accumulator group (one vec4 of y): RM x MJ chains, each W load feeding RM of them

// y[r * BC + j] (vec4 view) = a[r * DCAP ..] (vec4 view) . W[n0 + j] for the RM rows and BC columns: MJ columns at a time,
// each w_sh load (a constant offset) feeding RM FMAs, each a[] value MJ. memoryBarrierShared() after
// each group only bounds NIR's copy-propagation work (compile time), as in SCORE_BLOCK.
#define MATMUL_BLOCK(y, a, y0)                                                  \
    [[unroll]] for (int jb = 0; jb < BC; jb += MJ) {                            \
        float t[RM * MJ];                                                       \
        [[unroll]] for (int u = 0; u < RM * MJ; ++u) t[u] = 0.0;                \
        [[unroll]] for (int k = 0; k < DCAP; ++k) {                             \
            [[unroll]] for (int u = 0; u < MJ; ++u) {                           \
                const float w_ = w_sh[((jb + u) * DCAP + k) >> 2][k & 3];      \
                [[unroll]] for (int r = 0; r < RM; ++r)                         \
                    t[r * MJ + u] = fma(a[(r * DCAP + k) >> 2][k & 3], w_, t[r * MJ + u]);    \
            }                                                                   \
        }                                                                       \
        [[unroll]] for (int r = 0; r < RM; ++r)                                 \
            y[(r * NT * BC + (y0) + jb) >> 2] = vec4(t[r * MJ], t[r * MJ + 1], t[r * MJ + 2], t[r * MJ + 3]); \
        memoryBarrierShared();                                                  \
    }

// The W block: rows j0 .. j0 + BC - 1 of W, its kn values of k, zero-padded (per-lane loads stay loops).
#define COPY_W(j0, nv)                                                                                  \
    if (quads_ok(P.offsets0.y, P.k_stride.z, P.k_stride.w, kn)) {                                       \
        [[dont_unroll]] for (int e = lid; e < TILE / 4; e += ROWS) {                                    \
            const int j = e / (DCAP / 4), d = 4 * (e - j * (DCAP / 4));                                 \
            w_sh[e] = j < (nv) && d < kn ? QUAD(k_quads[(P.offsets0.y + ((j0) + j) * P.k_stride.z + d) >> 2]) : vec4(0.0); \
        }                                                                                               \
    } else {                                                                                            \
        [[dont_unroll]] for (int e = lid; e < TILE / 4; e += ROWS) {                                    \
            const int j = e / (DCAP / 4), d = 4 * (e - j * (DCAP / 4));                                 \
            vec4 x;                                                                                     \
            [[unroll]] for (int c = 0; c < 4; ++c)                                                      \
                x[c] = j < (nv) && d + c < kn ? LOAD_K(P.offsets0.y + ((j0) + j) * P.k_stride.z + (d + c) * P.k_stride.w) : 0.0; \
            w_sh[e] = x;                                                                                \
        }                                                                                               \
    }

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int B2 = P.dims0.y, M = P.dims0.z, N = P.dims0.w;
    const int kn = P.dims1.x;
    const bool first = P.dims1.y != 0;
    const bool has_bias = P.dims1.z != 0;
    const int z = int(gl_WorkGroupID.z);
    const int b1 = z / B2, b2 = z - b1 * B2;
    // Row r of this invocation: m0 + r * ROWS (consecutive lanes, consecutive rows).
    const int m0 = int(gl_WorkGroupID.x) * ROWS * RM + lid;
    const int n0 = int(gl_WorkGroupID.y) * NT * BC;
    const int n_valid = min(NT * BC, N - n0);  // columns of this workgroup


    // This invocation's rows of the A block (zero past kn and for rows past M). Per-lane loads stay
    // loops ([[dont_unroll]]), as in rowwise_block.glsl's LOAD_Q_ROW.
    const int a_base = P.offsets0.x + b1 * P.q_stride.x + b2 * P.q_stride.y;
    const bool a_quads = quads_ok(a_base, P.q_stride.z, P.q_stride.w, kn);
    vec4 a4[RM * DCAP / 4];
    [[unroll]] for (int r = 0; r < RM; ++r) {
        const int m = m0 + r * ROWS;
        const bool valid = m < M;
        const int a_row = a_base + m * P.q_stride.z;
        if (a_quads) {
            [[dont_unroll]] for (int d = 0; d < DCAP; d += 4) {
                const vec4 x = valid && d < kn ? QUAD(q_quads[(a_row + d) >> 2]) : vec4(0.0);
                a4[(r * DCAP + d) >> 2] = x;
            }
        } else {
            [[dont_unroll]] for (int d = 0; d < DCAP; d += 4) {
                vec4 x;
                [[unroll]] for (int e = 0; e < 4; ++e) x[e] = valid && d + e < kn ? LOAD_Q(a_row + (d + e) * P.q_stride.w) : 0.0;
                a4[(r * DCAP + d) >> 2] = x;
            }
        }
    }

    // y4[r * NT * BC + c]: the NT blocks' columns one after the other.
    vec4 y4[RM * NT * BC / 4];
    COPY_W(n0, n_valid)
    barrier();
    MATMUL_BLOCK(y4, a4, 0)
    if (NT > 1) {  // a specialization constant: no branch is left in the pipeline
        barrier();
        COPY_W(n0 + BC, n_valid - BC)
        barrier();
        MATMUL_BLOCK(y4, a4, BC)
    }

    // Add to the running sum (or the bias on the first block) and store.
    [[unroll]] for (int r = 0; r < RM; ++r) {
        const int m = m0 + r * ROWS;
        if (m >= M) break;
        const int y_row = P.offsets0.w + b1 * P.o_stride.x + b2 * P.o_stride.y + m * P.o_stride.z;
        const bool y_quads = P.o_stride.w == 1 && (y_row & 3) == 0 && (n0 & 3) == 0 && n_valid == NT * BC;
        if (y_quads) {
            [[dont_unroll]] for (int c = 0; c < NT * BC; c += 4) {
                vec4 prev = vec4(0.0);
                if (!first) prev = o_quads[(y_row + n0 + c) >> 2];
                else if (has_bias) prev = vec4(LOAD_V(P.offsets0.z + n0 + c), LOAD_V(P.offsets0.z + n0 + c + 1),
                                               LOAD_V(P.offsets0.z + n0 + c + 2), LOAD_V(P.offsets0.z + n0 + c + 3));
                o_quads[(y_row + n0 + c) >> 2] = prev + y4[(r * NT * BC + c) >> 2];
            }
        } else {
            [[dont_unroll]] for (int c = 0; c < NT * BC; ++c) {
                if (c >= n_valid) break;
                const int idx = y_row + (n0 + c) * P.o_stride.w;
                float prev = 0.0;
                if (!first) prev = o_data[idx];
                else if (has_bias) prev = LOAD_V(P.offsets0.z + n0 + c);
                o_data[idx] = prev + y4[(r * NT * BC + c) >> 2][c & 3];
            }
        }
    }
}
