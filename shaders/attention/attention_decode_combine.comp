#version 450
// Second stage of split-KV decoding (attention_decode_split.comp): merges the NB = P.flags.w key
// blocks of every row with the log-sum-exp rule. One invocation per (row, group of 4 output columns):
// M = max of m_b over the blocks with l_b > 0, L = sum l_b exp(m_b - M), o = sum acc_b exp(m_b - M) / L (natural units);
// a row with no visible key (L = 0) gets zeros and lse -inf, like the other kernels. An attention sink
// starts L at exp(sink - M) (M covering the sink too): a row with no visible key then gives lse = sink. Rows are the
// flattened (b * Hq + h) * Lq + i of the whole problem (the engine binds one chunk covering it).
// O_BUFFER_AS_WORDS: the output is f16 or bf16 (FMT_OUT_BF16; contiguous, Dv even, so every row starts on a word) and this
// pass packs it, two columns per word, instead of writing f32 rows that a convert pass would pack:
// one dispatch and one barrier fewer per decode call, and no f32 working rows.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;

#include "common/common.glsl"
#include "common/tile_ops.glsl"

layout(std430, set = 0, binding = 8) readonly buffer PBuf4 { vec4 p_quads[]; };

void main() {
    const int Dv = HEAD_DV();
    const int QD = (Dv + 3) >> 2;
    const int rows = B_() * HQ() * LQ();
    const int g = int(gl_GlobalInvocationID.x);
    if (g >= rows * QD) return;
    const int r = g / QD;
    const int cq = g - r * QD;
    const int NB = P.flags.w;
    const int pitch4 = 1 + QD;  // vec4s per (row, block)
    const int base4 = r * NB * pitch4;

    float M = MASKED_SCORE;
    [[dont_unroll]] for (int kb = 0; kb < NB; ++kb) {
        const vec2 ml = p_quads[base4 + kb * pitch4].xy;
        if (ml.y > 0.0) M = max(M, ml.x);
    }
    const int bh = r / LQ();
    const int i = r - bh * LQ();
    if (i >= seq_q_len(bh / HQ())) return;  // padding of a packed sequence's rows: nothing to write
    // The head's attention sink (if any) joins the denominator once: a term exp(sink - M), no value.
    float L = 0.0;
    if (has_sinks()) {
        const float sink = sink_logit(bh % HQ());
        M = max(M, sink);
        L = exp2((sink - M) * LOG2E);
    }
    vec4 acc = vec4(0.0);
    [[dont_unroll]] for (int kb = 0; kb < NB; ++kb) {
        const vec2 ml = p_quads[base4 + kb * pitch4].xy;
        const float w = ml.y > 0.0 ? exp2((ml.x - M) * LOG2E) : 0.0;
        L += ml.y * w;
        acc += p_quads[base4 + kb * pitch4 + 1 + cq] * w;
    }
    const float inv = safe_inverse(L);

    const Slice s = make_slice(bh);
    const int o_row = s.o_base + i * P.o_stride.z;
#ifdef O_BUFFER_AS_WORDS
    [[unroll]] for (int u = 0; u < 4; u += 2) {
        const int c = 4 * cq + u;
        if (c < Dv) o_words[(o_row + c) >> 1] = pack_out16x2(vec2(acc[u] * inv, acc[u + 1] * inv));
    }
#else
    [[unroll]] for (int u = 0; u < 4; ++u) {
        const int c = 4 * cq + u;
        if (c < Dv) o_data[o_row + c * P.o_stride.w] = acc[u] * inv;
    }
#endif
    if (cq == 0 && (P.flags.z & FLAG_LSE) != 0)
        lse_data[lse_index(s, bh, i)] = row_lse(RowState(M, L));
}
