// Packed variable-length sequences (cu_seqlens) and paged K/V (block tables): where the rows of one
// sequence live. Included by common.glsl after the bindings and the Slice struct; every attention kernel
// reaches q, k, v, out, lse and P rows through these functions, so a new layout is one change here.
//
// P.seq.x >= 0 ("varlen"): batch entry b of the kernels is sequence b of a packed batch. Binding 6 holds,
// from word P.seq.x: total_q (the packed query tokens), then per sequence 4 words
//   q_start  its first row in the packed q / out ([total_q, Hq, D]: row stride q_stride.z, no batch stride)
//   q_len    its query rows (rows i >= q_len of the grid are padding of the launch: never read or written)
//   k_start  its first key row in the packed k / v (unused when paged)
//   p_start  its first element in the packed weights (explicit path): [Hq, q_len, k_len] row-major
// and the key lengths key_lengths[b] (FLAG_KEY_LENGTHS) are its k_len; bottom-right causality, the window
// and ALiBi align to them (FLAG_ALIGN_KEY_LENGTHS) and to q_len: query i meets key i + k_len - q_len.
// lse is [Hq, total_q]: head h, packed row q_start + i.
//
// P.seq.y >= 0 ("paged"): keys are read through a block table at word P.seq.y of binding 6, P.seq.w words
// (pages) per sequence: key j of sequence b is physical row table[b][j >> P.seq.z] << P.seq.z | (j & mask)
// of the page pool (page size 1 << P.seq.z rows; row stride k_stride.z, head stride k_stride.y), as
// FlashAttention's block_table.
#ifndef VKATTN_SEQUENCE_ROWS_GLSL
#define VKATTN_SEQUENCE_ROWS_GLSL

bool varlen() { return P.seq.x >= 0; }
bool paged() { return P.seq.y >= 0; }
// Word f of sequence b's entry (varlen only).
int seq_word(int b, int f) { return key_lengths[P.seq.x + 1 + 4 * b + f]; }
int seq_total_q() { return key_lengths[P.seq.x]; }

// Query rows of batch entry / sequence b.
int seq_q_len(int b) {
    int n = P.dims0.w;  // Lq
    if (varlen()) n = seq_word(b, 1);
    return n;
}

// The physical key row of key j of sequence b (j itself unless paged).
int key_row(int b, int j) {
    int row = j;
    if (paged()) {
        const int page = key_lengths[P.seq.y + b * P.seq.w + (j >> P.seq.z)];
        row = (page << P.seq.z) | (j & ((1 << P.seq.z) - 1));
    }
    return row;
}
// The same without a branch on the flag, for kernels that know at compile time that keys are paged.
int paged_key_row(int b, int j) {
    const int page = key_lengths[P.seq.y + b * P.seq.w + (j >> P.seq.z)];
    return (page << P.seq.z) | (j & ((1 << P.seq.z) - 1));
}

// Moves a slice's q / out (and, unless paged, k / v) bases to its sequence's first rows.
void apply_sequence_rows(inout Slice s) {
    if (varlen()) {
        const int q0 = seq_word(s.b, 0);
        s.q_base += q0 * P.q_stride.z;
        s.o_base += q0 * P.o_stride.z;
        if (!paged()) {
            const int k0 = seq_word(s.b, 2);
            s.k_base += k0 * P.k_stride.z;
            s.v_base += k0 * P.v_stride.z;
        }
    }
}

// Index of row i's log-sum-exp in binding 7: [local slice][Lq] (P.offsets1.y from the chunk's first), or
// varlen [Hq][total_q].
int lse_index(Slice s, int local_bh, int i) {
    int idx = P.offsets1.y + local_bh * P.dims0.w + i;
    if (varlen()) idx = P.offsets1.y + s.h * seq_total_q() + seq_word(s.b, 0) + i;
    return idx;
}

// First element of row i's weights in binding 8 and the row's length (keys): [local slice][Lq][Lk], or
// varlen each sequence's [Hq][q_len][k_len] from its p_start.
int weights_row(Slice s, int local_bh, int i, out int keys) {
    keys = P.dims1.x;  // Lk
    int idx = P.offsets1.z + (local_bh * P.dims0.w + i) * keys;
    if (varlen()) {
        keys = key_lengths[s.b];
        idx = P.offsets1.z + seq_word(s.b, 3) + (s.h * seq_word(s.b, 1) + i) * keys;
    }
    return idx;
}

#endif
