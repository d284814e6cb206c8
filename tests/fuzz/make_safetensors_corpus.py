#!/usr/bin/python3
"""Writes the seed corpus of the fuzz_safetensors target (tests/fuzz/corpus/safetensors/): small valid
files of each dtype, multi-head attention state dicts the loader accepts, and the edge cases the reader
must refuse (empty or bad header, offsets out of range, overlapping tensors, wrong dtype sizes, shapes
that overflow). Each file stays under the fuzzer's 4096-byte max_len. Rerun after changing a seed:
    tests/fuzz/make_safetensors_corpus.py tests/fuzz/corpus/safetensors"""
import json
import os
import struct
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)


def raw(name, header_bytes, data=b"", length=None):
    n = len(header_bytes) if length is None else length
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", n) + header_bytes + data)


def tensors(name, items, metadata=None):
    """items: list of (tensor name, dtype string, shape, bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for n, dt, shape, b in items:
        header[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    raw(name, h, data)


def values(shape, dtype):
    return rng.standard_normal(shape).astype(dtype).tobytes()


# Valid files, one per dtype (readable and listed-only).
tensors("f32", [("a", "F32", (2, 3), values((2, 3), np.float32))], {"format": "pt"})
tensors("f16", [("h", "F16", (4,), values((4,), np.float16))])
bf16 = (np.frombuffer(values((3,), np.float32), np.uint32) >> 16).astype(np.uint16).tobytes()
tensors("bf16", [("b", "BF16", (3,), bf16)])
tensors("mixed_dtypes", [("f64", "F64", (2,), values((2,), np.float64)), ("i64", "I64", (1,), b"\x07" + b"\0" * 7),
                         ("i32", "I32", (2,), b"\1\0\0\0\2\0\0\0"), ("u8", "U8", (3,), b"\1\2\3"), ("bool", "BOOL", (2,), b"\0\1"),
                         ("i8", "I8", (1,), b"\xff"), ("i16", "I16", (1,), b"\1\0"), ("f8", "F8_E4M3", (1,), b"\x38")])
tensors("scalar_and_empty", [("s", "F32", (), values((1,), np.float32)), ("z", "F32", (0, 4), b"")])
tensors("empty_header", [])

# Multi-head attention state dicts (nn.MultiheadAttention names), E = 8.
E, H, D = 8, 2, 4
tensors("mha_packed", [("in_proj_weight", "F16", (3 * E, E), values((3 * E, E), np.float16)),
                       ("in_proj_bias", "F16", (3 * E,), values((3 * E,), np.float16)),
                       ("out_proj.weight", "F16", (E, E), values((E, E), np.float16)),
                       ("out_proj.bias", "F16", (E,), values((E,), np.float16))])
tensors("mha_separate", [("attn.q_proj_weight", "F16", (E, E), values((E, E), np.float16)),
                         ("attn.k_proj_weight", "F16", (E, 6), values((E, 6), np.float16)),
                         ("attn.v_proj_weight", "F16", (E, 5), values((E, 5), np.float16)),
                         ("attn.out_proj.weight", "F16", (E, E), values((E, E), np.float16))])
tensors("mha_gqa", [("in_proj_weight", "F16", (2 * E, E), values((2 * E, E), np.float16)),  # H = 2, Hkv = 1, D = 4
                    ("out_proj.weight", "F16", (E, E), values((E, E), np.float16))])
tensors("mha_bad_out", [("in_proj_weight", "F32", (12, 4), values((12, 4), np.float32)),
                        ("out_proj.weight", "F32", (4, 5), values((4, 5), np.float32))])
tensors("mha_int_weights", [("in_proj_weight", "I8", (12, 4), b"\1" * 48), ("out_proj.weight", "I8", (4, 4), b"\1" * 16)])

# Edge cases the reader refuses.
raw("short", b"\x05\0\0")
raw("header_past_end", b'{"a":1}', b"", length=4000)
raw("header_huge_length", b"{}", b"", length=1 << 62)
raw("bad_json", b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]', b"\0" * 4)
raw("not_object", b"[1, 2, 3]")
raw("invalid_utf8", b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4)
raw("metadata_not_strings", b'{"__metadata__":{"k":1}}')
raw("offsets_past_end", b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 8)
raw("offsets_reversed", b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', b"\0" * 8)
raw("offsets_float", b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4e0]}}', b"\0" * 4)
raw("offsets_overflow", b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}}', b"\0")
raw("overlapping", b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
    b"\0" * 12)
raw("wrong_dtype_size", b'{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,12]}}', b"\0" * 12)
raw("unknown_dtype", b'{"a":{"dtype":"Q4_0","shape":[2],"data_offsets":[0,1]}}', b"\0")
raw("huge_shape", b'{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}', b"\0" * 16)
raw("shape_wraps_to_zero", b'{"a":{"dtype":"F64","shape":[2305843009213693952,8],"data_offsets":[0,0]}}')
raw("negative_shape", b'{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4)
raw("shape_not_array", b'{"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}', b"\0" * 16)
raw("deep_nesting", b'{"__metadata__":' + b"[" * 600 + b"]" * 600 + b"}")
