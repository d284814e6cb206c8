#!/usr/bin/env python3
"""`vkattn linear` against numpy: .npy files written by numpy go in, the output comes back into numpy
and matches a float64 numpy implementation of the definition (f32: 1e-5 of max|ref|; f16: 2e-3 relative,
about 4 f16 ulps); bad arguments give one clear line on stderr and exit status 2.
Usage: linear_roundtrip.py <path to vkattn>"""
import os
import subprocess
import sys
import tempfile

import numpy as np

VKATTN = sys.argv[1]
failures = []


def reference(q, k, v, causal="none", feature_map="elu", key_lengths=None):
    """float64 linear attention on [B, H, L, D] arrays, key by key (the definition)."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    B, Hq, Lq, _ = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    k = np.repeat(k, Hq // Hkv, axis=1)
    v = np.repeat(v, Hq // Hkv, axis=1)
    phi = (lambda x: np.where(x > 0, x + 1, np.exp(np.minimum(x, 0)))) if feature_map == "elu" else (lambda x: x)
    a = np.einsum("bhid,bhjd->bhij", phi(q), phi(k))
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    visible = np.ones((B, 1, Lq, Lk), dtype=bool)
    if causal == "top-left":
        visible &= j <= i
    if causal == "bottom-right":
        visible &= j <= i + Lk - Lq
    if key_lengths is not None:
        visible &= (j[None, None] < np.array(key_lengths)[:, None, None, None])
    a = np.where(visible, a, 0.0)
    return np.einsum("bhij,bhje->bhie", a, v) / (a.sum(-1, keepdims=True) + 1e-6)


def run(args, expect=0):
    p = subprocess.run([VKATTN, "linear"] + args, capture_output=True, text=True)
    if p.returncode != expect:
        failures.append(f"vkattn linear {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stdout}{p.stderr}")
    return p


def check(name, got, ref, rel):
    err = np.abs(got.astype(np.float64) - ref).max()
    bound = rel * np.abs(ref).max()
    ok = np.isfinite(got).all() and err <= bound
    print(f"{name}: max abs err {err:.3g} (bound {bound:.3g}) {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(f"{name}: max abs err {err} > {bound}")


rng = np.random.default_rng(7)
with tempfile.TemporaryDirectory() as tmp:
    f = lambda n: os.path.join(tmp, n)
    q = rng.standard_normal((2, 4, 150, 24)).astype(np.float32)
    k = rng.standard_normal((2, 2, 150, 24)).astype(np.float32)
    v = rng.standard_normal((2, 2, 150, 12)).astype(np.float32)
    for n, x in (("q", q), ("k", k), ("v", v)):
        np.save(f(n + ".npy"), x)
    common = ["--q", f("q.npy"), "--k", f("k.npy"), "--v", f("v.npy")]

    run(common + ["--out", f("o.npy")])
    check("non-causal f32", np.load(f("o.npy")), reference(q, k, v), 1e-5)
    run(common + ["--causal", "--key-lengths", "100,37", "--out", f("o.npy")])
    check("causal f32 key lengths", np.load(f("o.npy")), reference(q, k, v, "top-left", key_lengths=[100, 37]), 1e-5)
    run(common + ["--causal=bottom-right", "--dtype", "f16", "--out", f("o16.npy"), "--check"])
    o16 = np.load(f("o16.npy"))
    if o16.dtype != np.float16:
        failures.append(f"--dtype f16 wrote {o16.dtype}")
    q16, k16, v16 = (x.astype(np.float16) for x in (q, k, v))
    check("causal f16 bottom-right", o16, reference(q16, k16, v16, "bottom-right"), 2e-3)
    qp, kp = np.abs(q) + 0.1, np.abs(k) + 0.1
    np.save(f("qp.npy"), qp)
    np.save(f("kp.npy"), kp)
    run(["--q", f("qp.npy"), "--k", f("kp.npy"), "--v", f("v.npy"), "--feature-map", "identity", "--causal", "--out", f("o.npy")])
    check("identity causal f32", np.load(f("o.npy")), reference(qp, kp, v, "top-left", "identity"), 1e-5)

    # Errors: one line naming the argument, exit status 2.
    for args, part in (
        (["--key-lengths", "5"], "key_lengths: has 1 entries"),
        (["--feature-map", "relu"], "--feature-map"),
        (["--causal=sideways"], "--causal"),
    ):
        p = run(common + args + ["--out", f("bad.npy")], expect=2)
        if part not in p.stderr or len(p.stderr.strip().splitlines()) != 1:
            failures.append(f"{args}: stderr {p.stderr!r} lacks '{part}' on one line")
    p = run(["--q", f("q.npy"), "--k", f("q.npy"), "--v", f("v.npy")], expect=2)
    if "v: 2 heads do not match k's 4" not in p.stderr:
        failures.append(f"mismatched heads: stderr {p.stderr!r}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("vkattn linear: numpy round trips ok")
