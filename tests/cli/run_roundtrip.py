#!/usr/bin/env python3
"""`vkattn run` against numpy: files written by numpy go in, files vkattn writes come back into numpy,
and the result matches a float64 numpy reference. Also checks that bad arguments and bad files give one
clear line on stderr and a non-zero exit. Usage: run_roundtrip.py <path to vkattn>"""
import os
import subprocess
import sys
import tempfile

import numpy as np

VKATTN = sys.argv[1]
failures = []


def alibi_slopes(n):
    """Press et al.'s slopes (their reference code's get_slopes)."""
    def pow2(m):
        start = 2.0 ** (-8.0 / m)
        return [start ** (i + 1) for i in range(m)]
    p = 1
    while p * 2 <= n:
        p *= 2
    return pow2(p) + (pow2(2 * p)[0::2][: n - p] if p != n else [])


def reference(q, k, v, causal="none", scale=None, key_lengths=None, mask=None, window=None, alibi=False, softcap=0,
              sinks=None):
    """float64 attention on [B, H, L, D] arrays; returns out, lse, weights."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    k = np.repeat(k, Hq // Hkv, axis=1)
    v = np.repeat(v, Hq // Hkv, axis=1)
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    visible = np.ones((B, Hq, Lq, Lk), dtype=bool)
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    if softcap:
        s = softcap * np.tanh(s / softcap)
    if alibi:
        slopes = np.array(alibi_slopes(Hq))[None, :, None, None]
        s = s - slopes * np.abs(j - (i + Lk - Lq))[None, None]
    if window is not None:
        left, right = window
        if left >= 0:
            visible &= j >= i + Lk - Lq - left
        if right >= 0:
            visible &= j <= i + Lk - Lq + right
    if causal == "top-left":
        visible &= j <= i
    if causal == "bottom-right":
        visible &= j <= i + Lk - Lq
    if key_lengths is not None:
        visible &= (np.arange(Lk)[None, :] < np.array(key_lengths)[:, None])[:, None, None, :]
    if mask is not None:
        if mask.dtype == np.bool_:
            visible &= np.broadcast_to(mask, visible.shape)
        else:
            m = np.broadcast_to(mask.astype(np.float64), visible.shape)
            visible &= m > -1e30
            s = s + np.where(m > -1e30, m, 0)
    s = np.where(visible, s, -np.inf)
    mx = np.max(s, axis=-1, keepdims=True)
    sink = None if sinks is None else np.broadcast_to(np.asarray(sinks, np.float64)[None, :, None, None], mx.shape)
    if sink is not None:  # a logit per head in the denominator, with no value
        mx = np.maximum(mx, sink)
    mx = np.where(np.isfinite(mx), mx, 0)
    e = np.where(visible, np.exp(s - mx), 0)
    tot = e.sum(-1, keepdims=True)
    if sink is not None:
        tot = tot + np.exp(sink - mx)
    w = np.where(tot > 0, e / np.where(tot > 0, tot, 1), 0)
    lse = np.where(tot[..., 0] > 0, np.log(np.where(tot[..., 0] > 0, tot[..., 0], 1)) + mx[..., 0], -np.inf)
    return np.einsum("bhij,bhjd->bhid", w, v), lse, w


def run(args, expect_ok=True):
    p = subprocess.run([VKATTN, "run"] + args, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        failures.append(f"vkattn run {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def check(name, got, want, tol):
    if got.shape != want.shape:
        failures.append(f"{name}: shape {got.shape} != {want.shape}")
        return
    finite = np.isfinite(want)
    if np.any(np.isnan(got)) or np.any(np.isfinite(got) != finite) or np.any(got[~finite] != want[~finite]):
        failures.append(f"{name}: non-finite values differ")
        return
    err = float(np.max(np.abs(got[finite].astype(np.float64) - want[finite]), initial=0))
    print(f"{name}: max abs err {err:.2e} (tol {tol:.0e})")
    if not err <= tol:
        failures.append(f"{name}: error {err} > {tol}")


def main():
    rng = np.random.default_rng()
    d = tempfile.mkdtemp(prefix="vkattn-cli-")
    path = lambda n: os.path.join(d, n)
    B, Hq, Hkv, Lq, Lk, D = 2, 4, 2, 19, 33, 40
    for dtype, tol in ((np.float32, 2e-5), (np.float16, 2e-3)):
        q = rng.standard_normal((B, Hq, Lq, D)).astype(dtype)
        k = rng.standard_normal((B, Hkv, Lk, D)).astype(dtype)
        v = rng.standard_normal((B, Hkv, Lk, D)).astype(dtype)
        for n, x in (("q", q), ("k", k), ("v", v)):
            np.save(path(f"{n}.npy"), x)
        tag = np.dtype(dtype).name
        # fused, bottom-right causal, lse
        run(["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy"), "--causal", "bottom-right",
             "--out", path("out.npy"), "--lse", path("lse.npy")])
        out, lse, _ = reference(q, k, v, causal="bottom-right")
        got = np.load(path("out.npy"))
        if got.dtype != dtype:
            failures.append(f"{tag}: out dtype {got.dtype}, expected {np.dtype(dtype).name}")
        check(f"{tag} fused bottom-right out", got.astype(np.float64), out, tol)
        check(f"{tag} fused lse", np.load(path("lse.npy")).astype(np.float64), lse, 1e-4)
        # explicit path with weights, key lengths, boolean mask, explicit scale
        mask = rng.random((Lq, Lk)) < 0.8
        np.save(path("mask.npy"), mask)
        run(["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy"), "--path", "explicit",
             "--key-lengths", "0,21", "--mask", path("mask.npy"), "--scale", "0.3",
             "--out", path("out2.npy"), "--weights", path("p.npy")])
        out, _, w = reference(q, k, v, scale=0.3, key_lengths=[0, 21], mask=mask)
        check(f"{tag} explicit masked out", np.load(path("out2.npy")).astype(np.float64), out, tol)
        check(f"{tag} explicit weights", np.load(path("p.npy")).astype(np.float64), w, 1e-5)
        # sliding window + ALiBi + soft-capping, both paths
        for extra, pth in ((["--window", "4,1", "--alibi", "--softcap", "3"], "fused"), (["--window", "-1,2"], "explicit")):
            run(["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy"), "--path", pth, "--out", path("out4.npy")] + extra)
            win = (4, 1) if "--alibi" in extra else (-1, 2)
            out, _, _ = reference(q, k, v, window=win, alibi="--alibi" in extra, softcap=3 if "--softcap" in extra else 0)
            check(f"{tag} {pth} window {extra}", np.load(path("out4.npy")).astype(np.float64), out, tol)
        # attention sinks, fused and explicit (weights sum to less than one), with padding
        sinks = rng.uniform(-1, 3, Hq).astype(np.float32)
        np.save(path("sinks.npy"), sinks)
        for pth in ("fused", "explicit"):
            run(["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy"), "--path", pth, "--sinks", path("sinks.npy"),
                 "--key-lengths", "0,21", "--out", path("out5.npy"), "--lse", path("lse5.npy")]
                + (["--weights", path("p5.npy")] if pth == "explicit" else []))
            out, lse, w = reference(q, k, v, key_lengths=[0, 21], sinks=sinks)
            check(f"{tag} {pth} sinks out", np.load(path("out5.npy")).astype(np.float64), out, tol)
            check(f"{tag} {pth} sinks lse", np.load(path("lse5.npy")).astype(np.float64), lse, 1e-4)
            if pth == "explicit":
                check(f"{tag} explicit sinks weights", np.load(path("p5.npy")).astype(np.float64), w, 1e-5)
        # [B, L, H, D] files
        for n, x in (("q", q), ("k", k), ("v", v)):
            np.save(path(f"{n}_blhd.npy"), np.ascontiguousarray(x.transpose(0, 2, 1, 3)))
        run(["--q", path("q_blhd.npy"), "--k", path("k_blhd.npy"), "--v", path("v_blhd.npy"), "--layout", "blhd",
             "--causal", "top-left", "--out", path("out3.npy")])
        out, _, _ = reference(q, k, v, causal="top-left")
        check(f"{tag} blhd out", np.load(path("out3.npy")).astype(np.float64), out.transpose(0, 2, 1, 3), tol)

    # Bad input: one line naming the problem, a non-zero exit, no crash.
    np.save(path("f64.npy"), np.zeros((1, 1, 2, 4)))
    with open(path("trunc.npy"), "wb") as f:
        f.write(open(path("q.npy"), "rb").read()[:100])
    base = ["--k", path("k.npy"), "--v", path("v.npy")]
    np.save(path("short_sinks.npy"), np.zeros(3, np.float32))
    bad = [
        (["--q", path("missing.npy")] + base, "missing.npy"),
        (["--q", path("f64.npy")] + base, "<f8"),
        (["--q", path("trunc.npy")] + base, "truncated"),
        (["--q", path("q.npy")] + base + ["--scale", "abc"], "--scale"),
        (["--q", path("q.npy")] + base + ["--causal", "sideways"], "--causal"),
        (["--q", path("q.npy")] + base + ["--key-lengths", "1,x"], "--key-lengths"),
        (["--q", path("q.npy")] + base + ["--key-lengths", "1"], "key_lengths"),
        (["--q", path("q.npy"), "--k", path("q.npy"), "--v", path("v.npy")], "v: "),
        (["--q", path("q.npy")] + base + ["--path", "fused", "--weights", path("w.npy")], "weights"),
        (["--q", path("q.npy")] + base + ["--device", "no-such-device"], "device"),
        (["--q", path("q.npy")] + base + ["--window", "3"], "--window"),
        (["--q", path("q.npy")] + base + ["--window", "-2,1"], "--window"),
        (["--q", path("q.npy")] + base + ["--softcap", "-1"], "--softcap"),
        (["--q", path("q.npy")] + base + ["--sinks", path("q.npy")], "--sinks"),
        (["--q", path("q.npy")] + base + ["--sinks", path("short_sinks.npy")], "sinks: has 3 values"),
    ]
    for args, needle in bad:
        p = run(args, expect_ok=False)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if p.returncode == 0 or p.returncode < 0 or needle not in p.stderr or len(lines) != 1:
            failures.append(f"bad input {args[-2:]}: exit {p.returncode}, stderr {p.stderr!r} (wanted one line with {needle!r})")
        else:
            print(f"bad input ok: {lines[0]}")
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        print(f"cli round trip: {len(failures)} failed")
        return 1
    print("cli round trip: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
