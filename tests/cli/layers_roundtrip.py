#!/usr/bin/env python3
"""`vkattn mha` and `vkattn additive` end to end: files numpy (and PyTorch, for the committed fixtures)
wrote go in, the outputs come back into numpy.
- mha: the PyTorch fixtures of tests/fixtures (nn.MultiheadAttention, self and cross): output and
  head-averaged weights within 1e-5 of PyTorch's.
- additive: Bahdanau and Luong-general scores against a float64 numpy evaluation of the formulas, with
  causal alignment, key lengths, GQA and f16 storage (f32: 1e-5 of max|ref|; f16: 4e-3 of it, the
  inputs being rounded to f16 first).
Usage: layers_roundtrip.py <path to vkattn> <source dir>"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

VKATTN, SRC = sys.argv[1], sys.argv[2]
FIX = os.path.join(SRC, "tests", "fixtures")
failures = []


def run(args):
    p = subprocess.run([VKATTN] + args, capture_output=True, text=True)
    if p.returncode != 0:
        failures.append(f"vkattn {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def close(name, got, want, tol):
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.shape == want.shape else float("inf")
    ok = got.shape == want.shape and np.all(np.isfinite(got)) and err <= tol
    print(f"{name}: max abs error {err:.3g} (tolerance {tol:.3g}) {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(f"{name}: shape {got.shape} vs {want.shape}, error {err} > {tol}")


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = a.astype("<f4" if dtype == "F32" else "<f2")
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def softmax_visible(s, visible):
    s = np.where(visible, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.where(visible, np.exp(s - m), 0)
    z = e.sum(-1, keepdims=True)
    return np.where(z > 0, e / np.where(z > 0, z, 1), 0)


def additive_reference(q, k, v, w, score, causal, key_lengths):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    B, H, Lq, _ = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    k = np.repeat(k, H // Hkv, axis=1)
    v = np.repeat(v, H // Hkv, axis=1)
    if score == "bahdanau":
        qp = q @ w["w_q"].astype(np.float64).T
        kp = k @ w["w_k"].astype(np.float64).T + w["b"].astype(np.float64)
        s = np.tanh(qp[:, :, :, None, :] + kp[:, :, None, :, :]) @ w["v_a"].astype(np.float64)
    else:
        s = q @ w["w"].astype(np.float64) @ np.swapaxes(k, -1, -2)
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    visible = np.ones((B, 1, Lq, Lk), dtype=bool)
    if causal == "top-left":
        visible &= j <= i
    if causal == "bottom-right":
        visible &= j <= i + Lk - Lq
    if key_lengths is not None:
        visible &= j[None, None] < np.array(key_lengths)[:, None, None, None]
    alpha = softmax_visible(s, visible)
    return alpha @ v, alpha


with tempfile.TemporaryDirectory() as tmp:
    # nn.MultiheadAttention fixtures: [heads, causal] in NAME_meta.npy.
    for name in ("mha_self", "mha_cross"):
        heads, causal = (int(x) for x in np.load(os.path.join(FIX, name + "_meta.npy")))
        out, w = os.path.join(tmp, name + "_y.npy"), os.path.join(tmp, name + "_w.npy")
        args = ["mha", "--weights", os.path.join(FIX, name + ".safetensors"), "--x", os.path.join(FIX, name + "_x.npy"),
                "--heads", str(heads), "--out", out, "--weights-out", w]
        if os.path.exists(os.path.join(FIX, name + "_xkv.npy")):
            args += ["--x-kv", os.path.join(FIX, name + "_xkv.npy")]
        if causal:
            args += ["--causal", "top-left"]
        if run(args).returncode == 0:
            close(name + " output vs PyTorch", np.load(out), np.load(os.path.join(FIX, name + "_y.npy")).astype(np.float64), 1e-5)
            close(name + " averaged weights vs PyTorch", np.load(w), np.load(os.path.join(FIX, name + "_w.npy")).astype(np.float64), 1e-5)

    rng = np.random.default_rng(5)
    cases = [
        # score, dtype, B, H, Hkv, Lq, Lk, Dq, Dk, Dv, A, causal, key_lengths
        ("bahdanau", "f32", 2, 2, 2, 5, 7, 8, 6, 4, 16, "none", None),
        ("bahdanau", "f32", 2, 4, 2, 9, 33, 24, 20, 12, 48, "bottom-right", [33, 20]),
        ("bahdanau", "f16", 1, 2, 1, 17, 40, 16, 16, 8, 32, "top-left", None),
        ("general", "f32", 2, 3, 1, 6, 11, 10, 7, 5, 0, "none", [11, 4]),
    ]
    for n, (score, dt, B, H, Hkv, Lq, Lk, Dq, Dk, Dv, A, causal, kl) in enumerate(cases):
        rnd = (lambda shape: rng.standard_normal(shape).astype(np.float32))
        q, k, v = rnd((B, H, Lq, Dq)), rnd((B, Hkv, Lk, Dk)), rnd((B, Hkv, Lk, Dv))
        w = ({"w_q": rnd((A, Dq)) * 0.3, "w_k": rnd((A, Dk)) * 0.3, "b": rnd((A,)) * 0.3, "v_a": rnd((A,))}
             if score == "bahdanau" else {"w": rnd((Dq, Dk)) * 0.3})
        if dt == "f16":
            q, k, v = (x.astype(np.float16) for x in (q, k, v))
            w = {key: val.astype(np.float16) for key, val in w.items()}
        paths = {key: os.path.join(tmp, f"a{n}_{key}.npy") for key in ("q", "k", "v")}
        for key, a in zip("qkv", (q, k, v)):
            np.save(paths[key], a)
        wfile = os.path.join(tmp, f"a{n}.safetensors")
        write_safetensors(wfile, w, "F32" if dt == "f32" else "F16")
        out, alpha = os.path.join(tmp, f"a{n}_out.npy"), os.path.join(tmp, f"a{n}_alpha.npy")
        args = ["additive", "--q", paths["q"], "--k", paths["k"], "--v", paths["v"], "--weights", wfile, "--score", score,
                "--causal", causal, "--out", out, "--weights-out", alpha]
        if kl:
            args += ["--key-lengths", ",".join(map(str, kl))]
        if run(args).returncode != 0:
            continue
        ref_out, ref_alpha = additive_reference(q, k, v, w, score, causal, kl)
        tol = (1e-5 if dt == "f32" else 4e-3) * max(1.0, float(np.max(np.abs(ref_out))))
        label = f"additive {score} {dt} B{B} H{H}/{Hkv} L{Lq}x{Lk} {causal}" + (f" key lengths {kl}" if kl else "")
        close(label + " output", np.load(out).astype(np.float64), ref_out, tol)
        close(label + " weights", np.load(alpha).astype(np.float64), ref_alpha, 1e-5 if dt == "f32" else 4e-3)

if failures:
    print("\n".join(["FAILED:"] + failures))
    sys.exit(1)
print("mha and additive: every output matches")
