// Online-softmax tile operations, named as the algorithm reads (after ThunderKittens):
// row_max -> rescale -> exp -> row_sum -> weighted sum -> normalise.
// Scores and the running maximum are in natural units (scale * q.k + mask). The difference s - m is
// taken before converting to log2 units for exp2, so logits near 1e4 lose no accuracy to the
// conversion (a log2-domain score would carry the rounding of s * log2(e), ~1e-3 absolute at 1e4).
#ifndef VKATTN_TILE_OPS_GLSL
#define VKATTN_TILE_OPS_GLSL

const float LOG2E = 1.44269504088896340736;

// Running state of one query row.
struct RowState {
    float m;  // running maximum, natural units, starts at MASKED_SCORE (finite)
    float l;  // running sum of exp(s - m)
};

RowState row_state_init() { return RowState(MASKED_SCORE, 0.0); }

// Attention sinks (gpt-oss): per query head a learned logit that joins the softmax denominator and
// takes no value; as floats in binding 6 from word P.ext2.x (-1: none).
bool has_sinks() { return P.ext2.x >= 0; }
float sink_logit(int h) { return intBitsToFloat(key_lengths[P.ext2.x + h]); }

// The state a row of head h starts from: its sink as if it were one more key scored `sink` whose
// value is zero (m = sink, l = exp(sink - m) = 1), so that the online softmax counts it once; without
// sinks, nothing seen. A row with no visible key then gives zeros and lse = sink.
RowState row_state_start(int h) { return has_sinks() ? RowState(sink_logit(h), 1.0) : row_state_init(); }

// Factor that rescales the old accumulator when the running maximum grows to m_new.
float rescale_factor(float m_old, float m_new) { return exp2((m_old - m_new) * LOG2E); }

// Probability of one score under the running maximum; masked scores contribute exactly 0.
float masked_exp(float s, float m) { return s <= MASKED_SCORE ? 0.0 : exp2((s - m) * LOG2E); }

// Final normaliser: 0 for a row that saw no visible key, so it yields zeros instead of NaN. A NaN sum
// (a NaN or +inf score) stays NaN, so the row's output is NaN (docs/bad_inputs.md).
float safe_inverse(float l) { return l == 0.0 ? 0.0 : 1.0 / l; }

// Natural log-sum-exp of a row; -inf for a fully masked row, NaN when the row's sum is NaN.
float row_lse(RowState st) { return st.l == 0.0 ? negative_infinity() : st.m + log(st.l); }

// The V element a key contributes to P.V: none when its weight is 0 (masked, causally hidden, past
// key_lengths), so a NaN or inf in a value row the query does not attend cannot leak in as 0 * NaN.
// A bit mask (an AND per element next to the FMA; the shared-memory load stays unconditional). Its
// cost in the rowwise kernel on lavapipe was within the run-to-run noise (see the commit message).
float weighted_value(float p, float v) { return uintBitsToFloat(floatBitsToUint(v) & (p != 0.0 ? 0xffffffffu : 0u)); }

#endif
