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

// The same steps for a state kept in natural units (scores = scale * q.k + mask): the difference
// s - m is taken before converting to log2 units, so logits near 1e4 lose no accuracy to the
// conversion (a log2-domain score carries the rounding of s * log2(e), ~1e-3 absolute at 1e4).
const float LOG2E = 1.44269504088896340736;
float rescale_factor_natural(float m_old, float m_new) { return exp2((m_old - m_new) * LOG2E); }
float masked_exp_natural(float s, float m) { return s <= MASKED_SCORE ? 0.0 : exp2((s - m) * LOG2E); }
float row_lse_natural(RowState st) { return st.l > 0.0 ? st.m + log(st.l) : negative_infinity(); }

#endif
