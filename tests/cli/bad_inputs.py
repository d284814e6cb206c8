#!/usr/bin/env python3
"""Bad input to the `vkattn` program: each case must exit with the expected status and print exactly
one line "vkattn: error: ..." containing the expected text (which names the argument or file), and
no crash. After each one a correct `vkattn run` is checked against numpy. The CLI rows of
docs/bad_inputs.md must be exactly this list (name, exit status, message).
Usage: bad_inputs.py <path to vkattn> <path to docs/bad_inputs.md>"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

VKATTN, DOC = sys.argv[1], sys.argv[2]
failures = []
d = tempfile.mkdtemp(prefix="vkattn-bad-")


def path(name):
    return os.path.join(d, name)


def save(name, array):
    np.save(path(name), array)
    return path(name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)


rng = np.random.default_rng(7)
B, Hq, Hkv, Lq, Lk, D = 2, 4, 2, 5, 9, 16
q = save("q.npy", rng.standard_normal((B, Hq, Lq, D)).astype(np.float32))
k = save("k.npy", rng.standard_normal((B, Hkv, Lk, D)).astype(np.float32))
v = save("v.npy", rng.standard_normal((B, Hkv, Lk, D)).astype(np.float32))
qkv = ["--q", q, "--k", k, "--v", v]
good_bytes = open(q, "rb").read()



def safetensors(name, tensors):
    """Writes an F32 .safetensors file of {name: ndarray}."""
    import json
    import struct
    header, data = {}, b""
    for n, a in tensors.items():
        b = np.ascontiguousarray(a, np.float32).tobytes()
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header).encode()
    return write(name, struct.pack("<Q", len(h)) + h + data)


# Layer inputs: additive weights for the q, k, v above (A = 8), an MHA layer with E = 16.
A, E = 8, 16
add_w = safetensors("additive.safetensors", {"w_q": rng.standard_normal((A, D)), "w_k": rng.standard_normal((A, D)),
                                             "v_a": rng.standard_normal((A,))})
add_w_no_k = safetensors("additive_no_wk.safetensors", {"w_q": np.zeros((A, D)), "v_a": np.zeros((A,))})
add_w_bad_q = safetensors("additive_bad_wq.safetensors", {"w_q": np.zeros((A, D + 1)), "w_k": np.zeros((A, D)), "v_a": np.zeros((A,))})
add_w_wide = safetensors("additive_wide.safetensors", {"w_q": np.zeros((520, D)), "w_k": np.zeros((520, D)), "v_a": np.zeros((520,))})
mha_w = safetensors("mha.safetensors", {"in_proj_weight": np.zeros((3 * E, E)), "out_proj.weight": np.zeros((E, E))})
mha_no_out = safetensors("mha_no_out.safetensors", {"in_proj_weight": np.zeros((3 * E, E))})
mha_trunc = write("mha_trunc.safetensors", open(mha_w, "rb").read()[:-100])
x = save("x.npy", rng.standard_normal((B, Lq, E)).astype(np.float32))
additive = ["additive", "--q", q, "--k", k, "--v", v]

# name, arguments after `vkattn`, exit status, text the one error line must contain
CASES = [
    ("unknown subcommand", ["frobnicate"], 2, "unknown subcommand 'frobnicate'"),
    ("missing --v", ["run", "--q", q, "--k", k], 2, "--v is required"),
    ("missing file", ["run", "--q", path("missing.npy"), "--k", k, "--v", v], 2,
     path("missing.npy") + ": cannot open (No such file or directory)"),
    ("not a .npy file", ["run", "--q", write("text.npy", b"hello, not numpy\n"), "--k", k, "--v", v], 2,
     path("text.npy") + ": bad magic (not a .npy file)"),
    ("truncated header", ["run", "--q", write("trunc_header.npy", good_bytes[:40]), "--k", k, "--v", v], 2,
     "trunc_header.npy: truncated header"),
    ("truncated data", ["run", "--q", write("trunc_data.npy", good_bytes[:200]), "--k", k, "--v", v], 2,
     "trunc_data.npy: truncated data"),
    ("corrupt header", ["run", "--q", write("corrupt.npy", good_bytes[:10] + b"{'descr': <f4, " + good_bytes[25:]), "--k", k,
                        "--v", v], 2, "corrupt.npy: malformed header"),
    ("f64 file", ["run", "--q", save("f64.npy", np.zeros((B, Hq, Lq, D))), "--k", k, "--v", v], 2,
     "f64.npy: unsupported dtype '<f8'"),
    ("int32 file", ["run", "--q", save("i32.npy", np.zeros((B, Hq, Lq, D), np.int32)), "--k", k, "--v", v], 2,
     "q: dtype i32 is not supported (f32, f16 or bf16)"),
    ("f16 k with f32 q", ["run", "--q", q, "--k", save("k16.npy", np.zeros((B, Hkv, Lk, D), np.float16)), "--v", v], 2,
     "k: dtype f16 does not match q's f32"),
    ("empty array", ["run", "--q", save("empty.npy", np.zeros((0,), np.float32)), "--k", k, "--v", v], 2,
     "q: " + path("empty.npy") + " has shape [0]; expected a non-empty rank 4"),
    ("rank 3 q", ["run", "--q", save("q3.npy", np.zeros((Hq, Lq, D), np.float32)), "--k", k, "--v", v], 2,
     "q: expected rank 4 [B, Hq, Lq, D], got shape [4, 5, 16]"),
    ("blhd rank 3", ["run", "--q", path("q3.npy"), "--k", k, "--v", v, "--layout", "blhd"], 2,
     "q: expected rank 4 [B, Lq, Hq, D] (--layout blhd)"),
    ("k head dim", ["run", "--q", q, "--k", save("k24.npy", np.zeros((B, Hkv, Lk, 24), np.float32)), "--v", v], 2,
     "k: head dim 24 does not match q's 16"),
    ("v keys", ["run", "--q", q, "--k", k, "--v", save("v8.npy", np.zeros((B, Hkv, 8, D), np.float32))], 2,
     "v: 8 keys do not match k's 9"),
    ("Hq % Hkv", ["run", "--q", save("q3h.npy", np.zeros((B, 3, Lq, D), np.float32)), "--k", k, "--v", v], 2,
     "q: 3 query heads are not a multiple of k's 2 key/value heads"),
    ("head dim over 512", ["run", "--q", save("q520.npy", np.zeros((1, 1, 2, 520), np.float32)),
                           "--k", save("k520.npy", np.zeros((1, 1, 2, 520), np.float32)),
                           "--v", save("v520.npy", np.zeros((1, 1, 2, 16), np.float32))], 2,
     "q: head dim 520 exceeds the maximum 512"),
    ("mask shape", ["run"] + qkv + ["--mask", save("mask_bad.npy", np.ones((Lq, Lk + 1), np.bool_))], 2,
     "mask: shape [5, 10] must be [Lq, Lk] = [5, 9]"),
    ("mask rank 3", ["run"] + qkv + ["--mask", save("mask3.npy", np.ones((2, Lq, Lk), np.float32))], 2,
     "mask: rank 3 shape [2, 5, 9] must be"),
    ("negative --kv-splits", ["run"] + qkv + ["--kv-splits", "-1"], 2, "--kv-splits: Value -1 not in range 0 to 65535"),
    ("mask dtype", ["run"] + qkv + ["--mask", save("mask_i32.npy", np.ones((Lq, Lk), np.int32))], 2,
     "mask: dtype i32 is not supported"),
    ("scale not a number", ["run"] + qkv + ["--scale", "abc"], 2, "--scale: 'abc' is not a number"),
    ("scale zero", ["run"] + qkv + ["--scale", "0"], 2, "--scale: '0' must be non-zero"),
    ("scale NaN", ["run"] + qkv + ["--scale", "nan"], 2, "--scale: 'nan' is not a finite float"),
    ("causal value", ["run"] + qkv + ["--causal", "sideways"], 2, "--causal: sideways not in {none,top-left,bottom-right}"),
    ("key lengths not integers", ["run"] + qkv + ["--key-lengths", "1,x"], 2, "--key-lengths item 2: 'x' is not an integer"),
    ("key lengths count", ["run"] + qkv + ["--key-lengths", "3"], 2,
     "key_lengths: has 1 entries; needs one per batch (B = 2)"),
    ("key length too long", ["run"] + qkv + ["--key-lengths", "3,10"], 2, "key_lengths[1]: 10 is outside [0, Lk = 9]"),
    ("key length negative", ["run"] + qkv + ["--key-lengths", "3,-1"], 2, "key_lengths[1]: -1 is outside [0, Lk = 9]"),
    ("weights on fused", ["run"] + qkv + ["--path", "fused", "--weights", path("w.npy")], 2,
     "--weights: the weights exist only on the explicit path"),
    ("device name", ["run"] + qkv + ["--device", "no-such-device"], 2,
     "--device: no Vulkan device matches name 'no-such-device'"),
    ("device index out of range", ["run"] + qkv + ["--device", "99"], 2, "--device: no Vulkan device matches index 99"),
    ("unwritable output", ["run"] + qkv + ["--out", "/nonexistent-dir/out.npy"], 2, "/nonexistent-dir/out.npy"),
    # packed sequences: q [total_q, Hq, D] = [6, 4, 16], k / v [total_k, Hkv, D] = [9, 2, 16]
    ("cu-seqlens dtype", ["run", "--q", save("pq.npy", np.zeros((6, Hq, D), np.float32)), "--k", save("pk.npy", np.zeros((9, Hkv, D), np.float32)),
                          "--v", path("pk.npy"), "--cu-seqlens-q", save("cu_f32.npy", np.array([0, 6], np.float32)),
                          "--cu-seqlens-k", save("cu_k.npy", np.array([0, 9], np.int32))], 2,
     "--cu-seqlens-q: " + path("cu_f32.npy") + " has shape [2] and dtype f32; expected [S + 1] int32 offsets"),
    ("cu-seqlens last offset", ["run", "--q", path("pq.npy"), "--k", path("pk.npy"), "--v", path("pk.npy"),
                                "--cu-seqlens-q", save("cu_q5.npy", np.array([0, 2, 5], np.int32)),
                                "--cu-seqlens-k", save("cu_k2.npy", np.array([0, 4, 9], np.int32))], 2,
     "cu_seqlens_q: the last offset 5 must equal q's 6 tokens"),
    ("cu-seqlens decreasing", ["run", "--q", path("pq.npy"), "--k", path("pk.npy"), "--v", path("pk.npy"),
                               "--cu-seqlens-q", save("cu_q_dec.npy", np.array([0, 4, 3, 6], np.int32)),
                               "--cu-seqlens-k", save("cu_k3.npy", np.array([0, 4, 5, 9], np.int32))], 2,
     "cu_seqlens_q[2]: 3 is less than the previous offset 4 (offsets must not decrease)"),
    ("cu-seqlens without k offsets", ["run", "--q", path("pq.npy"), "--k", path("pk.npy"), "--v", path("pk.npy"),
                                      "--cu-seqlens-q", path("cu_q5.npy")], 2,
     "--cu-seqlens-q: needs --cu-seqlens-k too (or --cu-seqlens for both)"),
    # vkattn linear
    ("linear feature map", ["linear"] + qkv + ["--feature-map", "cosine"], 2, "--feature-map: cosine not in {elu,identity}"),
    ("linear rank 3 q", ["linear", "--q", path("q3.npy"), "--k", k, "--v", v], 2,
     "q: " + path("q3.npy") + " has shape [4, 5, 16]; expected a non-empty rank 4 [B, Hq, Lq, D]"),
    ("linear k head dim", ["linear", "--q", q, "--k", path("k24.npy"), "--v", v], 2, "k: head dim 24 does not match q's 16"),
    ("linear f16 k with f32 q", ["linear", "--q", q, "--k", path("k16.npy"), "--v", v], 2, "k: dtype f16 does not match q's f32"),
    ("linear key length too long", ["linear"] + qkv + ["--key-lengths", "3,10"], 2, "key_lengths[1]: 10 is outside [0, Lk = 9]"),
    ("linear missing file", ["linear", "--q", q, "--k", path("missing.npy"), "--v", v], 2,
     path("missing.npy") + ": cannot open (No such file or directory)"),
    # vkattn additive
    ("additive missing weights file", additive + ["--weights", path("missing.safetensors")], 2,
     path("missing.safetensors") + ": cannot open"),
    ("additive weights not safetensors", additive + ["--weights", path("text.npy")], 2,
     path("text.npy") + ": header length 7935391400498849128 exceeds the 100 MiB limit"),
    ("additive missing w_k", additive + ["--weights", add_w_no_k], 2, "additive_no_wk.safetensors: no tensor named 'w_k' (has: v_a, w_q)"),
    ("additive w_q shape", additive + ["--weights", add_w_bad_q], 2, "w_q: shape [8, 17] must be [8, 16]"),
    ("additive A over 512", additive + ["--weights", add_w_wide], 1, "w_q: attention width A = 520 exceeds the supported maximum 512"),
    ("additive score", additive + ["--weights", add_w, "--score", "dot"], 2, "--score: dot not in {bahdanau,general}"),
    ("additive mask shape", additive + ["--weights", add_w, "--mask", path("mask_bad.npy")], 2,
     "mask: shape [5, 10] must be [Lq, Lk] = [5, 9]"),
    ("additive general w missing", additive + ["--weights", add_w, "--score", "general"], 2,
     "additive.safetensors: no tensor named 'w' (has: v_a, w_k, w_q)"),
    # vkattn mha
    ("mha heads do not divide", ["mha", "--weights", mha_w, "--x", x, "--heads", "5"], 2,
     "mha.safetensors: tensor 'in_proj_weight' has 48 rows, not a multiple of heads + 2 kv_heads = 15"),
    ("mha kv heads", ["mha", "--weights", mha_w, "--x", x, "--heads", "4", "--kv-heads", "3"], 2,
     "kv_heads: 3 must be >= 1 and divide heads = 4"),
    ("mha x width", ["mha", "--weights", mha_w, "--x", save("x12.npy", np.zeros((B, Lq, 12), np.float32)), "--heads", "2"], 2,
     "x_q: expected [B, Lq, E] with width 16, got shape [2, 5, 12]"),
    ("mha x rank", ["mha", "--weights", mha_w, "--x", q, "--heads", "2"], 2,
     "--x: " + q + " has shape [2, 4, 5, 16]; expected a non-empty rank-3 array"),
    ("mha missing out_proj.weight", ["mha", "--weights", mha_no_out, "--x", x, "--heads", "2"], 2,
     "mha_no_out.safetensors: no tensor named 'out_proj.weight' (has: in_proj_weight)"),
    ("mha truncated weights", ["mha", "--weights", mha_trunc, "--x", x, "--heads", "2"], 2,
     "mha_trunc.safetensors: tensor 'out_proj.weight': truncated"),
    ("mha missing --heads", ["mha", "--weights", mha_w, "--x", x], 2, "--heads is required"),
    # vkattn heatmap
    ("heatmap head out of range", ["heatmap", "--q", q, "--k", k, "--head", "9", "--out", path("h.png")], 2,
     "--head: 9 is out of range; the weights have H = 4 (valid: 0..3)"),
    ("heatmap batch out of range", ["heatmap", "--q", q, "--k", k, "--batch", "5", "--out", path("h.png")], 2,
     "--batch: 5 is out of range; the weights have B = 2 (valid: 0..1)"),
    ("heatmap random with files", ["heatmap", "--random", "8", "--q", q, "--out", path("h.png")], 2,
     "--random: makes its own q, k and v; do not combine it with --q, --k, --v or --mask"),
    ("heatmap without q", ["heatmap", "--k", k, "--out", path("h.png")], 2,
     "--q: required (give --q and --k, and optionally --v and --mask; or --random L for a demo)"),
    ("heatmap k head dim", ["heatmap", "--q", q, "--k", path("k24.npy"), "--out", path("h.png")], 2, "k: head dim 24 does not match q's 16"),
    # vkattn decode
    ("decode heads not a multiple", ["decode", "--heads", "6", "--kv-heads", "4", "--steps", "1", "--prompt", "4"], 2,
     "--heads: 6 is not a multiple of --kv-heads 4"),
    ("decode capacity", ["decode", "--capacity", "10", "--prompt", "16", "--steps", "4"], 2,
     "--capacity: 10 is less than --prompt + --steps = 20"),
    ("decode dtype", ["decode", "--dtype", "u8", "--steps", "1", "--prompt", "4"], 2, "--dtype: u8 is not supported (f32, f16 or bf16)"),
    ("decode q8 cache head dim", ["decode", "--kv-dtype", "q8", "--head-dim", "40", "--steps", "1", "--prompt", "4"], 2,
     "dtype: a q8_0 cache needs head_dim and value_dim multiples of 32 (its block), got 40 and 40"),
    ("decode head dim", ["decode", "--head-dim", "600"], 2, "--head-dim: Value 600 not in range 1 to 512"),
]


def reference(qa, ka, va):
    qa, ka, va = (x.astype(np.float64) for x in (qa, ka, va))
    g = qa.shape[1] // ka.shape[1]
    ka, va = np.repeat(ka, g, axis=1), np.repeat(va, g, axis=1)
    s = np.einsum("bhid,bhjd->bhij", qa, ka) / np.sqrt(qa.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    return np.einsum("bhij,bhjd->bhid", w / w.sum(-1, keepdims=True), va)


def good_run():
    """A correct run after the bad one: the program still computes the right answer."""
    out = path("good_out.npy")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([VKATTN, "run"] + qkv + ["--out", out], capture_output=True, text=True)
    if p.returncode != 0:
        return f"good run failed ({p.returncode}): {p.stderr.strip()}"
    err = float(np.max(np.abs(np.load(out) - reference(np.load(q), np.load(k), np.load(v)))))
    return None if err <= 1e-5 else f"good run: error {err}"


def doc_rows():
    rows = []
    for line in open(DOC, encoding="utf-8"):
        line = line.rstrip()
        if line.startswith("| CLI |"):
            rows.append(line)
    return rows


def table_row(name, status, part):
    return f"| CLI | {name} | exit {status} | `{part.replace('|', chr(92) + '|')}` |"


# What a correct run after a bad one can catch: the bad and the correct runs are separate processes,
# so only on-disk state a bad run left behind (the pipeline cache, tuning table and roofline in vkattn's
# cache folder). So a correct run follows every bad input that changed that folder, and every Nth one
# (default 8) and the last whatever they did. (Every row took a correct run until December 2026: ~5 s
# each on lavapipe, its pipeline compiled again in each process, 654 s of the CI's ctest.)
GOOD_RUN_EVERY = max(1, int(os.environ.get("VKATTN_BAD_INPUTS_GOOD_RUN_EVERY", "8")))
CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vkattn")


def cache_state():
    """Name and content digest of every file in vkattn's cache folder (a file rewritten with the same
    bytes, as the pipeline cache is after every run, is no change)."""
    state = {}
    for root, _, files in os.walk(CACHE_DIR):
        for f in files:
            try:
                with open(os.path.join(root, f), "rb") as fh:
                    state[os.path.join(root, f)] = hashlib.sha256(fh.read()).hexdigest()
            except FileNotFoundError:
                pass
    return state


def main():
    names = set()
    good_runs = 0
    for i, (name, args, status, needle) in enumerate(CASES):
        if name in names:
            failures.append(f"duplicate case name {name!r}")
        names.add(name)
        before = cache_state()
        p = subprocess.run([VKATTN] + args, capture_output=True, text=True)
        changed_cache = cache_state() != before
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if p.returncode != status or len(lines) != 1 or not lines[0].startswith("vkattn: error: ") or needle not in lines[0]:
            failures.append(f"{name}: exit {p.returncode} (wanted {status}), stderr {p.stderr!r} (wanted one line with {needle!r})")
        else:
            print(f"bad input ok: {name}: {lines[0]}")
        if changed_cache or (i + 1) % GOOD_RUN_EVERY == 0 or i + 1 == len(CASES):
            good_runs += 1
            problem = good_run()
            if problem:
                failures.append(f"after {name}: {problem}")
    # The documented table is this list: same rows, both ways. Paths in messages are temporary; the
    # table shows them as <tmp>.
    want = [table_row(n, s, re.sub(re.escape(d) + r"/", "<tmp>/", part)) for n, _, s, part in CASES]
    have = doc_rows()
    for r in want:
        if r not in have:
            failures.append(f"{DOC} lacks (or differs in) the row: {r}")
    for r in have:
        if r not in want:
            failures.append(f"{DOC} has a CLI row no test checks: {r}")
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        print(f"cli bad inputs: {len(CASES)} cases, {len(failures)} failed")
        return 1
    after = "each" if GOOD_RUN_EVERY == 1 else f"each that changed {CACHE_DIR}, every {GOOD_RUN_EVERY}th and the last"
    print(f"cli bad inputs: {len(CASES)} cases passed; {good_runs} correct runs, after {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
