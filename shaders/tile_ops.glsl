// Online-softmax tile operations, named as the algorithm reads (after ThunderKittens):
// row_max -> rescale -> exp2 -> row_sum -> weighted sum -> normalise.
#ifndef VKATTN_TILE_OPS_GLSL
#define VKATTN_TILE_OPS_GLSL

// Running state of one query row.
struct RowState {
    float m;  // running maximum, log2 units, starts at MASKED_SCORE (finite)
    float l;  // running sum of exp2(s - m)
};

RowState row_state_init() { return RowState(MASKED_SCORE, 0.0); }

// Factor that rescales the old accumulator when the running maximum grows to m_new.
float rescale_factor(float m_old, float m_new) { return exp2(m_old - m_new); }

// Probability of one score under the running maximum; masked scores contribute exactly 0.
float masked_exp2(float s, float m) { return s <= MASKED_SCORE ? 0.0 : exp2(s - m); }

// Final normaliser: 0 for a row that saw no visible key, so it yields zeros instead of NaN.
float safe_inverse(float l) { return l > 0.0 ? 1.0 / l : 0.0; }

// Natural log-sum-exp of a row from its log2-domain state; -inf for a fully masked row.
float row_lse(RowState st) { return st.l > 0.0 ? (st.m + log2(st.l)) * LN2 : negative_infinity(); }

#endif
