// Block operations shared by the row-per-invocation kernels for CPU-like devices
// (attention_fused_rowwise.comp, attention_decode_split.comp, attention_weights_rowwise.comp): vec4 views
// of Q/K/V, the cooperative copy of one K or V block into shared memory, and the fully unrolled scoring
// and P.V blocks. The cost model behind their shape is in the header of attention_fused_rowwise.comp; in
// short: every hot loop has a compile-time trip count and is fully unrolled, every shared load in it is
// at a constant address outside any runtime loop or if, and memoryBarrierShared() after each unrolled
// group bounds NIR's compile time. The copy's stores are at per-lane addresses (a loop over the lanes
// each), the blocks' loads at constant ones (broadcasts): so quantised K/V (q8_0 / q4_0) are copied as
// their raw blocks, 9 / 5 words per 32 values instead of 32 floats, and dequantised in the scoring and
// P.V blocks (SCORE_BLOCK_Q, PV_BLOCK_Q), which an f32 / f16 pipeline does not contain (FEATURES).
//
// The including kernel declares, before including this file (after common.glsl and tile_ops.glsl):
// local_size_x (ROWS) and the specialization constants BC (keys per block, a multiple of KJ) and
// DCAP (head-dim capacity, a multiple of CJ).
//
// The scoring / P.V / q-load blocks read and write per-invocation arrays (q[DCAP], sc[BC],
// acc[DCAP]). GLSL passes arrays by value, so they are macros: they expand in place and touch the
// caller's arrays directly, with no copies for the compiler to remove.
#ifndef VKATTN_ROWWISE_BLOCK_GLSL
#define VKATTN_ROWWISE_BLOCK_GLSL

#include "common/quad_views.glsl"  // q_quads / k_quads / v_quads, QUAD, quads_ok

const int ROWS = int(gl_WorkGroupSize.x);
const int TILE = BC * DCAP;  // elements of one K (or V) block
const int KJ = 8;            // keys scored at once: KJ independent chains reuse each q[d]
const int CJ = 16;           // output columns accumulated at once: CJ chains reuse each probability

// What the FEATURES specialization constant switches on (each off at compile time when unused: a
// runtime `if` costs on llvmpipe even when false).
const int FEATURE_MASK = 1;     // an explicit mask is bound (P.flags.y != MASK_NONE)
const int FEATURE_SOFTCAP = 2;  // logit soft-capping (P.ext_f.x > 0)
const int FEATURE_ALIBI = 4;    // ALiBi slopes in binding 6 from P.ext.z
const int FEATURE_KV_Q8 = 8;    // K and V are q8_0 blocks (ggml): {f16 d; int8 qs[32]}, 34 bytes per 32 values
const int FEATURE_KV_Q4 = 16;   // K and V are q4_0 blocks: {f16 d; uint8 qs[16]}, 18 bytes; j < 16 low nibbles, j + 16 high
const int FEATURE_PAGED = 32;   // keys read through a block table (P.seq.y, sequence_rows.glsl)

// Spec-constant arithmetic (sizes below): KV_QUANT is 1 with q8_0 or q4_0 K/V, QW the 32-bit words one raw
// 32-value block takes in kv_sh then (the scale, then its 8 (q8_0) or 4 (q4_0) qs words).
const int KV_QUANT = ((FEATURES >> 3) | (FEATURES >> 4)) & 1;
const int QW = ((FEATURES >> 3) & 1) * 9 + ((FEATURES >> 4) & 1) * 5;

// f32 / f16 / bf16 K/V: the K block [key][dim] for the scores, then the V block [key][column]; zero-padded.
// A float array: as a vec4 array (one store per quad in the copy) the run time was the same and NIR compiled
// ~35% slower. q8_0 / q4_0 K/V: the raw blocks instead, [key][32-value block][QW words], the qs words stored
// as float bit patterns (COPY_BLOCK_QUANT; Q_D / Q_WORD read them), BC * DCAP / 32 * QW words in all. One
// array for both rather than a second `shared uint` one: that would take at least one element more in every
// pipeline, and the f32 tile alone fills the budget the planner fits it to (rowwise_shared_bytes).
shared float kv_sh[TILE - KV_QUANT * (TILE - BC * (DCAP / 32) * QW)];

// Key j of sequence b's physical row: through the block table when paged (compiled out otherwise).
#define KEY_ROW(b, j) ((FEATURES & FEATURE_PAGED) != 0 ? paged_key_row(b, j) : (j))

// Cooperative copy of keys j0 .. j0 + BC - 1 of one K or V slice (QUADS: its vec4 view, LOAD: its
// element loader) into kv_sh as [key][element], zero-padded to BC x DCAP: keys past block_keys and
// elements past n are zero. Per-lane loads stay loops ([[dont_unroll]]).
#define COPY_BLOCK(QUADS, LOAD, lid, b, base, stride, j0, block_keys, n)                                        \
    if (quads_ok(base, (stride).z, (stride).w, n)) {                                                        \
        [[dont_unroll]] for (int e = lid; e < TILE / 4; e += ROWS) {                                        \
            const int j = e / (DCAP / 4), d = 4 * (e - j * (DCAP / 4));                                     \
            const vec4 x = j < block_keys && d < n ? QUAD(QUADS[(base + KEY_ROW(b, j0 + j) * (stride).z + d) >> 2]) : vec4(0.0); \
            kv_sh[4 * e] = x.x, kv_sh[4 * e + 1] = x.y, kv_sh[4 * e + 2] = x.z, kv_sh[4 * e + 3] = x.w;    \
        }                                                                                                   \
    } else {                                                                                                \
        [[dont_unroll]] for (int e = lid; e < TILE; e += ROWS) {                                            \
            const int j = e / DCAP, d = e - j * DCAP;                                                       \
            kv_sh[e] = j < block_keys && d < n ? LOAD(base + KEY_ROW(b, j0 + j) * (stride).z + d * (stride).w) : 0.0; \
        }                                                                                                   \
    }

// Quantised K/V (FEATURE_KV_Q8 / _Q4): the raw 32-value blocks into kv_sh, one block per lane iteration, as
// QW words: the scale, then the 8 (4) qs words. Storing the raw words rather than 32 dequantised floats is
// the point: every store here is at a per-lane address, which llvmpipe runs as a loop over the lanes, so a
// block costs 9 (5) such stores instead of 32 (docs/formats.md, "Speed on lavapipe").
// Element e of the tensor (an element offset: rows start on whole blocks) lives in block e / 32 at byte
// 34 (18) * (e / 32); blocks sit at 2-byte alignment, so the lane reads the 9 (5) 32-bit words covering the
// block and realigns them with shifts: d is the first half-word, the qs words follow. The scale is stored as
// d * 2^-24 (q8_0) or d * 2^-28 (q4_0), exact in f32, and q4_0 words with every nibble's top bit flipped
// (x ^ 0x88888888: nibble n becomes n - 8 in 4-bit two's complement), both for Q_FIELD. Blocks past block_keys
// or n get a zero scale (they read as zeros). (Quantised tensors get at least 2 bytes of padding past their
// last block, see Context::empty, so the last word read is always inside the buffer.)
#define COPY_BLOCK_QUANT(WORDS, lid, b, base, stride, j0, block_keys, n)                                            \
    {                                                                                                            \
        const bool q8_ = (FEATURES & FEATURE_KV_Q8) != 0;                                                        \
        const int bb_ = q8_ ? 34 : 18;                                                                           \
        [[dont_unroll]] for (int u = lid; u < BC * (DCAP / 32); u += ROWS) {                                     \
            const int j = u / (DCAP / 32), kb = u - j * (DCAP / 32);                                             \
            const bool live = j < block_keys && 32 * kb < n;                                                     \
            const int byte = live ? ((base + KEY_ROW(b, j0 + j) * (stride).z) / 32 + kb) * bb_ : 0;              \
            const int w0 = byte >> 2;                                                                            \
            const bool odd = (byte & 2) != 0; /* d in the high half of the first word, qs word-aligned after */  \
            uint w[9];                                                                                           \
            [[unroll]] for (int i = 0; i < 9; ++i) w[i] = live && (q8_ || i < 5) ? WORDS[w0 + i] : 0u;           \
            const float d = live ? unpackHalf2x16(odd ? w[0] >> 16 : w[0]).x : 0.0;                              \
            kv_sh[u * QW] = d * (q8_ ? 1.0 / 16777216.0 : 1.0 / 268435456.0);                                    \
            [[unroll]] for (int i = 0; i < 8; ++i) {                                                             \
                if (q8_ || i < 4)                                                                                \
                    kv_sh[u * QW + 1 + i] = uintBitsToFloat((odd ? w[i + 1] : (w[i] >> 16) | (w[i + 1] << 16)) ^ (q8_ ? 0u : 0x88888888u)); \
            }                                                                                                    \
        }                                                                                                        \
    }

// Reading the raw blocks (all arguments compile-time constants once unrolled; everything folds). A qs word
// holds q_fields() fields of q_bits() bits: q8_0 byte f of word w is value 4w + f (int8); q4_0 nibble f (bits
// 4f) of word w is byte 4w + f/2's low (f even: value 4w + f/2) or high nibble (value 4w + f/2 + 16), as
// n - 8 in two's complement (the copy flipped its top bit). Q_FIELD moves field f to the word's top bits and
// clears the rest, one shift and one AND (the lowest field needs no AND, the top one no shift), so the signed
// conversion gives q * 2^(32 - q_bits()) exactly; the stored scale carries the 2^-(32 - q_bits()), so
// value = Q_D * Q_FIELD exactly. (A field taken at its own position with a constant offset subtracted in one
// correction per block cost one operation less per value, but the cancellation against the offset doubled
// the error against the reference at q4_0: Formats/QuantKv failed at 4 lanes.)
int q_bits() { return (FEATURES & FEATURE_KV_Q8) != 0 ? 8 : 4; }  // also the qs words per block
int q_fields() { return 32 / q_bits(); }                           // fields per word
int q_value(int w, int f) { return (FEATURES & FEATURE_KV_Q8) != 0 ? 4 * w + f : 4 * w + (f >> 1) + 16 * (f & 1); }
#define Q_FIELD(x, f) float(int(((x) << (32 - q_bits() * ((f) + 1))) & ~((1u << (32 - q_bits())) - 1u)))
#define Q_D(j, kb) kv_sh[((j) * (DCAP / 32) + (kb)) * QW]                                   // key j's scale, block kb
#define Q_WORD(j, kb, w) floatBitsToUint(kv_sh[((j) * (DCAP / 32) + (kb)) * QW + 1 + (w)])  // its qs word w

// The K block of slice s (D dims per key) and the V block (Dv columns per key).
void copy_k_block(int lid, Slice s, int j0, int block_keys, int D) {
    if ((FEATURES & (FEATURE_KV_Q8 | FEATURE_KV_Q4)) != 0) {
        COPY_BLOCK_QUANT(k_words, lid, s.b, s.k_base, P.k_stride, j0, block_keys, D)
    } else {
        COPY_BLOCK(k_quads, LOAD_K, lid, s.b, s.k_base, P.k_stride, j0, block_keys, D)
    }
}
void copy_v_block(int lid, Slice s, int j0, int block_keys, int Dv) {
    if ((FEATURES & (FEATURE_KV_Q8 | FEATURE_KV_Q4)) != 0) {
        COPY_BLOCK_QUANT(v_words, lid, s.b, s.v_base, P.v_stride, j0, block_keys, Dv)
    } else {
        COPY_BLOCK(v_quads, LOAD_V, lid, s.b, s.v_base, P.v_stride, j0, block_keys, Dv)
    }
}

// q[0 .. DCAP) = row q_row of slice s, unscaled (scores are scaled after the dot product, in natural units); zero past D or
// when !valid.
#define LOAD_Q_ROW(q, s, q_row, valid, D)                                                           \
    if (quads_ok((s).q_base, P.q_stride.z, P.q_stride.w, D)) {                                      \
        [[dont_unroll]] for (int d = 0; d < DCAP; d += 4) {                                         \
            const vec4 x = (valid) && d < D ? QUAD(q_quads[(q_row + d) >> 2]) : vec4(0.0); \
            q[d] = x.x, q[d + 1] = x.y, q[d + 2] = x.z, q[d + 3] = x.w;                             \
        }                                                                                           \
    } else {                                                                                        \
        [[dont_unroll]] for (int d = 0; d < DCAP; ++d)                                              \
            q[d] = (valid) && d < D ? LOAD_Q(q_row + d * P.q_stride.w) : 0.0;         \
    }

// sc[j] = q . K[j] for the BC keys of the K block in kv_sh: KJ keys at a time, each q[d] feeding KJ
// chains; every kv_sh offset is a constant. memoryBarrierShared() after each group only bounds NIR's
// copy-propagation work (compile time). Quantised K (raw blocks): SCORE_BLOCK_Q.
#define SCORE_BLOCK_F(sc, q)                                                \
    [[unroll]] for (int jb = 0; jb < BC; jb += KJ) {                        \
        float a[KJ];                                                        \
        [[unroll]] for (int u = 0; u < KJ; ++u) a[u] = 0.0;                 \
        [[unroll]] for (int d = 0; d < DCAP; ++d) {                         \
            [[unroll]] for (int u = 0; u < KJ; ++u) {                       \
                const int e = (jb + u) * DCAP + d;                          \
                a[u] = fma(q[d], kv_sh[e], a[u]);                           \
            }                                                               \
        }                                                                   \
        [[unroll]] for (int u = 0; u < KJ; ++u) sc[jb + u] = a[u];          \
        memoryBarrierShared();                                              \
    }

// The same over the raw blocks in kv_sh: per key and 32-value block, t = sum of q[e] * Q_FIELD, then
// sc += Q_D * t. Each qs word is loaded once (constant address) and feeds its q_fields() values.
#define SCORE_BLOCK_Q(sc, q)                                                                    \
    {                                                                                           \
        [[unroll]] for (int jb = 0; jb < BC; jb += KJ) {                                        \
            float a[KJ];                                                                        \
            [[unroll]] for (int u = 0; u < KJ; ++u) a[u] = 0.0;                                 \
            [[unroll]] for (int kb = 0; kb < DCAP / 32; ++kb) {                                 \
                float t[KJ];                                                                    \
                [[unroll]] for (int u = 0; u < KJ; ++u) t[u] = 0.0;                             \
                [[unroll]] for (int w = 0; w < 8; ++w) {                                        \
                    if (w < q_bits()) {                                                         \
                        [[unroll]] for (int u = 0; u < KJ; ++u) {                               \
                            const uint x = Q_WORD(jb + u, kb, w);                               \
                            [[unroll]] for (int f = 0; f < 8; ++f) {                            \
                                if (f < q_fields())                                             \
                                    t[u] = fma(q[32 * kb + q_value(w, f)], Q_FIELD(x, f), t[u]); \
                            }                                                                   \
                        }                                                                       \
                    }                                                                           \
                }                                                                               \
                [[unroll]] for (int u = 0; u < KJ; ++u) a[u] = fma(Q_D(jb + u, kb), t[u], a[u]); \
            }                                                                                   \
            [[unroll]] for (int u = 0; u < KJ; ++u) sc[jb + u] = a[u];                          \
            memoryBarrierShared();                                                              \
        }                                                                                       \
    }

#define SCORE_BLOCK(sc, q)   \
    if (KV_QUANT != 0) {     \
        SCORE_BLOCK_Q(sc, q) \
    } else {                 \
        SCORE_BLOCK_F(sc, q) \
    }

// P.V over the V block in kv_sh: CJ columns at a time, each probability sc[j] feeding CJ chains
// o[u] (the block's sum, from zero); UPDATE(acc[c], o[u]) gives the new acc[c]. memoryBarrierShared()
// after each column group, as in SCORE_BLOCK.
#define PV_BLOCK_F(acc, sc, UPDATE)                                         \
    [[unroll]] for (int c0 = 0; c0 < DCAP; c0 += CJ) {                      \
        float o[CJ];                                                        \
        [[unroll]] for (int u = 0; u < CJ; ++u) o[u] = 0.0;                 \
        [[unroll]] for (int j = 0; j < BC; ++j) {                           \
            [[unroll]] for (int u = 0; u < CJ; ++u) {                       \
                const int e = j * DCAP + c0 + u;                            \
                o[u] = fma(sc[j], weighted_value(sc[j], kv_sh[e]), o[u]);   \
            }                                                               \
        }                                                                   \
        [[unroll]] for (int u = 0; u < CJ; ++u) acc[c0 + u] = UPDATE(acc[c0 + u], o[u]); \
        memoryBarrierShared();                                              \
    }

// The same over the raw V blocks in kv_sh (CJ divides 32): per key, pd = p * Q_D (0 when p is 0, as
// weighted_value makes a non-finite value's weight), o[u] += pd * Q_FIELD. Each qs word is loaded once per
// column group.
#define PV_BLOCK_Q(acc, sc, UPDATE)                                                             \
    [[unroll]] for (int c0 = 0; c0 < DCAP; c0 += CJ) {                                          \
        const int kb = c0 / 32, v0 = c0 - 32 * kb;                                              \
        float o[CJ];                                                                            \
        [[unroll]] for (int u = 0; u < CJ; ++u) o[u] = 0.0;                                     \
        [[unroll]] for (int j = 0; j < BC; ++j) {                                               \
            const float pd = sc[j] * weighted_value(sc[j], Q_D(j, kb));                         \
            [[unroll]] for (int w = 0; w < 8; ++w) {                                            \
                if (w < q_bits()) {                                                             \
                    const uint x = Q_WORD(j, kb, w);                                            \
                    [[unroll]] for (int f = 0; f < 8; ++f) {                                    \
                        const int v = q_value(w, f) - v0;                                       \
                        if (f < q_fields() && v >= 0 && v < CJ) o[v] = fma(pd, Q_FIELD(x, f), o[v]); \
                    }                                                                           \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        [[unroll]] for (int u = 0; u < CJ; ++u) acc[c0 + u] = UPDATE(acc[c0 + u], o[u]);        \
        memoryBarrierShared();                                                                  \
    }

#define PV_BLOCK(acc, sc, UPDATE)   \
    if (KV_QUANT != 0) {            \
        PV_BLOCK_Q(acc, sc, UPDATE) \
    } else {                        \
        PV_BLOCK_F(acc, sc, UPDATE) \
    }

// Scales the block's raw dot products, soft-caps, adds ALiBi, applies the mask, masks keys outside
// [key_start, key_end) of this row, and keeps the block's maximum in m_blk (two chains).
#define SCORE_FINISH(sc, m_blk, s, i, j0, key_start, key_end)                                \
    {                                                                                        \
        const float slope_ = (FEATURES & FEATURE_ALIBI) != 0 ? alibi_slope((s).h) : 0.0;     \
        const int aligned_ = (FEATURES & FEATURE_ALIBI) != 0 ? (i) + aligned_shift((s).b) : 0; \
        [[unroll]] for (int j = 0; j < BC; ++j) {                                            \
            const int key = (j0) + j;                                                        \
            float v = sc[j] * P.scalars.z;                                                   \
            if ((FEATURES & FEATURE_SOFTCAP) != 0) v = softcap_score(v);                     \
            if ((FEATURES & FEATURE_ALIBI) != 0) v += alibi_bias(slope_, aligned_, key);     \
            if ((FEATURES & FEATURE_MASK) != 0) {                                            \
                if (key < (key_end)) v = apply_mask((s), (i), key, v, 1.0);                  \
            }                                                                                \
            v = key < (key_end) && key >= (key_start) ? v : MASKED_SCORE;                    \
            sc[j] = v;                                                                       \
            m_blk[j & 1] = max(m_blk[j & 1], v);                                             \
        }                                                                                    \
    }

// acc = acc * alpha + P.V (the running accumulator rescaled to the new maximum; blocked summation).
#define PV_RESCALE_ADD(a, o) fma(a, alpha_, o)
#define ACCUMULATE_BLOCK(acc, sc, alpha) { const float alpha_ = (alpha); PV_BLOCK(acc, sc, PV_RESCALE_ADD) }
// acc = P.V (a block-local partial output).
#define PV_STORE(a, o) (o)
#define WEIGHTED_SUM_BLOCK(acc, sc) PV_BLOCK(acc, sc, PV_STORE)

#endif
