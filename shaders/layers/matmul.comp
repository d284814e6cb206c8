#version 450
// Y[b1, b2, m, n] (+)= sum_k A[b1, b2, m, k] * W(n, k) (+ bias[n]): one block of at most KB values of k
// per dispatch, accumulated in an f32 output. The engine (engine/layers/matmul.cpp) issues one dispatch per K
// block (and per segment of a flattened [.., K1, K2] operand such as concatenated attention heads),
// with a barrier between them; the first dispatch starts from the bias (or zero), the others from what
// the previous one wrote.
//
// It reuses the row-per-invocation building blocks of the attention kernels for CPU-like devices
// (rowwise_block.glsl): one invocation owns one row of A (its KB values in registers, LOAD_Q_ROW) and
// NB output columns; the workgroup copies the NB x KB block of W into shared memory (COPY_BLOCK, W rows
// as "keys", k as "dims"), and SCORE_BLOCK forms the NB dot products with every shared load at a
// compile-time constant address outside any loop or if: on lavapipe those compile to broadcast memory
// operands (see the cost model in the header of attention_fused_rowwise.comp). The K loop is the
// dispatch loop on the host for the same reason: a loop around the block would put its shared loads
// on llvmpipe's per-lane path.
//
// Bindings (common.glsl): 1 A (q_words), 2 W (k_words), 3 bias (v_words), 4 Y (f32, o_data).
// Params (reinterpreted): dims0 = (B1, B2, M, N); dims1.x = k values in this block (<= KB),
// dims1.y = 1 for the first block (start from bias / zero), dims1.z = 1 when a bias is bound;
// q_stride = A strides (b1, b2, m, k); k_stride = W strides (unused, unused, n, k);
// o_stride = Y strides (b1, b2, m, n); offsets0 = element offsets of A's and W's block start, bias, Y.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                // ROWS: rows of A (= invocations) per workgroup
layout(constant_id = 1) const int BC = 64;     // NB: output columns per workgroup (a multiple of 8)
layout(constant_id = 2) const int DCAP = 64;   // KB: values of k per dispatch (a multiple of 16)

#include "common/common.glsl"
#include "common/rowwise_block.glsl"

layout(std430, set = 0, binding = 4) buffer OBuf4 { vec4 o_quads[]; };

void main() {
    const int lid = int(gl_LocalInvocationID.x);
    const int B2 = P.dims0.y, M = P.dims0.z, N = P.dims0.w;
    const int kn = P.dims1.x;
    const bool first = P.dims1.y != 0;
    const bool has_bias = P.dims1.z != 0;
    const int z = int(gl_WorkGroupID.z);
    const int b1 = z / B2, b2 = z - b1 * B2;
    const int m = int(gl_WorkGroupID.x) * ROWS + lid;
    const int n0 = int(gl_WorkGroupID.y) * BC;
    const int n_valid = min(BC, N - n0);
    const bool row_valid = m < M;

    // The W block: rows n0 .. n0 + BC - 1 of W ("keys"), its kn values of k ("dims"), zero-padded.
    COPY_BLOCK(k_quads, LOAD_K, lid, P.offsets0.y, P.k_stride, n0, n_valid, kn)
    barrier();

    // This row's block of A (zero past kn and for rows past M).
    Slice s;
    s.q_base = P.offsets0.x + b1 * P.q_stride.x + b2 * P.q_stride.y;
    const int a_row = s.q_base + m * P.q_stride.z;
    float arow[DCAP];
    LOAD_Q_ROW(arow, s, a_row, row_valid, kn)

    // sc[n] = a . W[n0 + n]: BC dot products of DCAP terms, shared loads at constant addresses.
    float sc[BC];
    SCORE_BLOCK(sc, arow)

    // Add to the running sum (or the bias on the first block) and store.
    if (!row_valid) return;
    const int y_row = P.offsets0.w + b1 * P.o_stride.x + b2 * P.o_stride.y + m * P.o_stride.z;
    const bool y_quads = P.o_stride.w == 1 && (y_row & 3) == 0 && (n0 & 3) == 0 && n_valid == BC;
    if (y_quads) {
        [[dont_unroll]] for (int c = 0; c < BC; c += 4) {
            vec4 prev = vec4(0.0);
            if (!first) prev = o_quads[(y_row + n0 + c) >> 2];
            else if (has_bias) prev = vec4(LOAD_V(P.offsets0.z + n0 + c), LOAD_V(P.offsets0.z + n0 + c + 1),
                                           LOAD_V(P.offsets0.z + n0 + c + 2), LOAD_V(P.offsets0.z + n0 + c + 3));
            o_quads[(y_row + n0 + c) >> 2] = prev + vec4(sc[c], sc[c + 1], sc[c + 2], sc[c + 3]);
        }
    } else {
        [[dont_unroll]] for (int c = 0; c < BC; ++c) {
            if (c >= n_valid) break;
            const int idx = y_row + (n0 + c) * P.o_stride.w;
            float prev = 0.0;
            if (!first) prev = o_data[idx];
            else if (has_bias) prev = LOAD_V(P.offsets0.z + n0 + c);
            o_data[idx] = prev + sc[c];
        }
    }
}
