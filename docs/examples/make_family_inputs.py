#!/usr/bin/env python3
"""Inputs for the README's attention-family examples, written to the current directory:
q.npy [1, 4, 48, 32], k.npy and v.npy [1, 2, 48, 32] (f32, GQA 4/2), and bahdanau.safetensors with
the weights of an additive attention layer (w_q [16, 32], w_k [16, 32], b [16], v_a [16], F32)."""
import json
import struct

import numpy as np

rng = np.random.default_rng(2026)
B, H, HKV, L, D, A = 1, 4, 2, 48, 32, 16
np.save("q.npy", rng.standard_normal((B, H, L, D)).astype(np.float32))
np.save("k.npy", rng.standard_normal((B, HKV, L, D)).astype(np.float32))
np.save("v.npy", rng.standard_normal((B, HKV, L, D)).astype(np.float32))

header, blobs, offset = {}, [], 0
for name, shape in {"w_q": (A, D), "w_k": (A, D), "b": (A,), "v_a": (A,)}.items():
    a = (rng.standard_normal(shape) * 0.3).astype("<f4")
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + a.nbytes]}
    offset += a.nbytes
    blobs.append(a.tobytes())
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open("bahdanau.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
print("wrote q.npy k.npy v.npy bahdanau.safetensors")
