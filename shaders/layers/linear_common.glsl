// Shared by the linear-attention kernels (linear_state.comp, linear_prefix.comp, linear_apply.comp):
// how they read the common Params block (common.glsl) and lay out the chunk states. Mirrors
// engine/layers/linear_attention.cpp (linear_params); keep the two in step.
//
//   dims0, dims1, q/k/v/o strides, offsets0: as for softmax attention (one chunk covers the problem:
//   P.chunk is zero, every tensor is bound whole).
//   flags.x: causal (CAUSAL_NONE, CAUSAL_TOP_LEFT, CAUSAL_BOTTOM_RIGHT); flags.z: FLAG_KEY_LENGTHS;
//   flags.w: output columns per linear_apply invocation (a multiple of 4).
//   ext.x: keys per chunk C; ext.y: chunks NC = ceil(Lk / C); ext.z: feature map (FEATURE_*);
//   ext.w: state row pitch E4 = Dv + 1 rounded up to 4. ext_f.x: the denominator's eps.
//
// Chunk states live in binding 8 as floats: state(bkv, c)[d][e] at ((bkv * (NC + 1) + c) * D + d) * E4 + e,
// bkv = b * Hkv + hkv. Column e < Dv holds sum_j phi(k_j)[d] v_j[e], column Dv sum_j phi(k_j)[d]
// (the normaliser z), columns past Dv zero. linear_state.comp writes chunk c's own sum into slot c;
// linear_prefix.comp turns slot c into the sum over chunks < c and writes the total into slot NC.
#ifndef VKATTN_LINEAR_COMMON_GLSL
#define VKATTN_LINEAR_COMMON_GLSL

layout(std430, set = 0, binding = 8) buffer LinearStates { vec4 p_quads[]; };

const int FEATURE_IDENTITY = 0;
const int FEATURE_ELU_PLUS_ONE = 1;

int CHUNK() { return P.ext.x; }
int NCHUNKS() { return P.ext.y; }
int STATE_PITCH() { return P.ext.w; }
float LINEAR_EPS() { return P.ext_f.x; }

// The feature map phi: elu(x) + 1 (x + 1 for x > 0, exp(x) otherwise; strictly positive) or identity.
float phi(float x) {
    if (P.ext.z == FEATURE_IDENTITY) return x;
    return x > 0.0 ? x + 1.0 : exp(x);
}

// Keys [0, visible_key_count(b)) exist for batch b (padding cuts the rest).
int visible_key_count(int b) { return (P.flags.z & FLAG_KEY_LENGTHS) != 0 ? min(key_lengths[b], LK()) : LK(); }

#endif
