#!/usr/bin/env python3
"""A hand-written English -> French alignment for the `vkattn heatmap` example with accented labels
(docs/heatmap.md): "the European economy has grown strongly ." -> "l' économie européenne a fortement
progressé .". No translation model is involved: each row says how much one French word (a query,
french_tokens_fr.txt) attends to each English word (a key, french_tokens_en.txt), as a decoder's
cross-attention might after training: mostly its translation, a little to the neighbours, with the
adjective-noun swap ("European economy" -> "économie européenne") and the adverb moved before the verb.

Writes cross_attention.npy ([7, 7] float32, rows summing to 1) into the directory given (default: the
current one); draw it with `vkattn heatmap --weights-npy`.
Usage: heatmap_french.py [OUT_DIR]"""
import os
import sys

import numpy as np

# Rows: l' économie européenne a fortement progressé .   Columns: the European economy has grown strongly .
ALIGNMENT = [
    [0.80, 0.05, 0.10, 0.02, 0.01, 0.01, 0.01],  # l'          -> the
    [0.06, 0.12, 0.76, 0.02, 0.02, 0.01, 0.01],  # économie    -> economy
    [0.03, 0.82, 0.11, 0.01, 0.01, 0.01, 0.01],  # européenne  -> European
    [0.02, 0.02, 0.08, 0.72, 0.13, 0.02, 0.01],  # a           -> has
    [0.01, 0.01, 0.02, 0.05, 0.16, 0.74, 0.01],  # fortement   -> strongly
    [0.01, 0.01, 0.03, 0.14, 0.70, 0.10, 0.01],  # progressé   -> grown
    [0.02, 0.01, 0.02, 0.02, 0.03, 0.02, 0.88],  # .           -> .
]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    w = np.array(ALIGNMENT, dtype=np.float64)
    w /= w.sum(axis=1, keepdims=True)
    np.save(os.path.join(out_dir, "cross_attention.npy"), w.astype(np.float32))
    print(f"wrote cross_attention.npy ({w.shape[0]} x {w.shape[1]} float32) to {out_dir}")


if __name__ == "__main__":
    main()
