#!/usr/bin/python3
"""Runs vkattn's bench shapes through PyTorch and through vkattn; prints GFLOP/s of both and the ratio.

PyTorch runs on CUDA (scaled_dot_product_attention) when torch.cuda.is_available(), else on the CPU
(scaled_dot_product_attention where this torch has it, else softmax(Q K^T) V written out). vkattn runs
in the same process through its Python module (build/python, docs/python.md): q, k and v are uploaded
once as device tensors and each timed call is vkattn.attention on them, whose output stays on the
device, so both sides are timed the same way: the wall time of a call that returns when its result is
ready, median of repeated runs after a warm-up (on CUDA, torch's events instead). Both sides count the
same flops for a case (2*B*Hq*(D+Dv) per visible query/key pair, causal pairs counted exactly), so the
ratio is a time ratio. vkattn's own GPU-timestamp numbers for the same case names come from
`vkattn bench --shapes standard --filter <case>`.

Two layer rows besides attention: "matmul f32 M1024 N1024 K1024" (vkattn.matmul, Y = A W^T, against
torch.matmul(A, W.T); 2 M N K flops) and "mha f32 B1 L1024 E512 H8" (vkattn.multi_head_attention
against torch.nn.MultiheadAttention with the same weights, batch_first, need_weights=False; flops of
the four projections and the attention core). `vkattn bench --shapes matmul` / `--shapes mha` time
the same names with GPU timestamps.

Not part of CI. Needs python3-torch (Debian) or a pip torch, numpy, and vkattn's Python module.

    /usr/bin/python3 bench/compare_torch.py                      # a modest default set
    /usr/bin/python3 bench/compare_torch.py --filter "decode f16 Lq1" --json out.json
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("compare_torch: PyTorch is not installed (Debian: apt-get install python3-torch)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import vkattn
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))  # the module in the build tree (README)
    try:
        import vkattn
    except ImportError as e:
        sys.exit("compare_torch: vkattn's Python module is not importable (%s): build it (README quick start), or set "
                 "PYTHONPATH to the build tree's python folder" % e)
TARGET_SECONDS = 0.2  # like vkattn bench: repeat until this much time was measured
MIN_REPEATS, MAX_REPEATS = 3, 100
MAX_SCORE_BYTES = 2 << 30  # the written-out fallback materialises Q K^T; skip cases above this


def case(kind, name, hq, hkv, lq, lk, d, dtype, causal):
    return dict(kind=kind, name=name, Hq=hq, Hkv=hkv, Lq=lq, Lk=lk, D=d, dtype=dtype, causal=causal)


def standard_cases():
    """The prefill and decode cases of `vkattn bench --shapes standard`, with the same names."""
    cases = []
    for dt in ("f32", "f16"):
        for causal in (False, True):
            for h in (8, 32):
                for d in (64, 128):
                    for n in (512, 1024, 2048, 4096, 8192, 16384):
                        name = f"prefill {dt}{' causal' if causal else ''} H{h} N{n} D{d}"
                        cases.append(case("prefill", name, h, h, n, n, d, dt, "top-left" if causal else "none"))
    for lq in (1, 4):
        for hq, hkv in ((32, 8), (64, 8)):
            for d in (64, 128):
                for lk in (1024, 4096, 7680, 32768):
                    name = f"decode f16 Lq{lq} Lk{lk} H{hq}/{hkv} D{d}"
                    cases.append(case("decode", name, hq, hkv, lq, lk, d, "f16", "bottom-right"))
    return cases


def layer_cases():
    """The matmul and mha rows (the names of `vkattn bench --shapes matmul` and `--shapes mha`)."""
    cases = []
    for dt in ("f32", "f16"):
        cases.append(dict(kind="matmul", name=f"matmul {dt} M1024 N1024 K1024", M=1024, N=1024, K=1024, dtype=dt))
    cases.append(dict(kind="matmul", name="matmul f32 M1000 N333 K517", M=1000, N=333, K=517, dtype="f32"))
    cases.append(dict(kind="mha", name="mha f32 B1 L1024 E512 H8", B=1, L=1024, E=512, H=8, dtype="f32"))
    return cases


DEFAULT_SET = [
    "matmul f32 M1024 N1024 K1024", "mha f32 B1 L1024 E512 H8",
    "prefill f32 H8 N512 D64", "prefill f32 causal H8 N512 D64", "prefill f16 H8 N1024 D64",
    "prefill f32 H8 N2048 D64", "decode f16 Lq1 Lk1024 H32/8 D128", "decode f16 Lq1 Lk4096 H32/8 D128",
    "decode f16 Lq4 Lk4096 H32/8 D128",
]


def visible_pairs(lq, lk, causal):
    if causal == "none":
        return lq * lk
    shift = lk - lq if causal == "bottom-right" else 0
    return sum(min(max(i + shift + 1, 0), lk) for i in range(lq))


def flops(c):
    if c["kind"] == "matmul":
        return 2.0 * c["M"] * c["N"] * c["K"]
    if c["kind"] == "mha":  # q, k, v and out projections, then Q K^T and P V over the H heads
        return 4 * 2.0 * c["B"] * c["L"] * c["E"] * c["E"] + 2 * 2.0 * c["B"] * c["L"] * c["L"] * c["E"]
    return 2.0 * c["Hq"] * visible_pairs(c["Lq"], c["Lk"], c["causal"]) * (2 * c["D"])


def causal_mask(c, device):
    """Boolean [Lq, Lk], True = attend; None when every key is visible."""
    if c["causal"] == "none":
        return None
    shift = c["Lk"] - c["Lq"] if c["causal"] == "bottom-right" else 0
    i = torch.arange(c["Lq"], device=device).unsqueeze(1)
    j = torch.arange(c["Lk"], device=device).unsqueeze(0)
    mask = j <= i + shift
    return None if bool(mask.all()) else mask


def layer_inputs(c):
    """The case's inputs as numpy float32 arrays (both sides get the same values)."""
    rng = np.random.default_rng(0)
    if c["kind"] == "matmul":
        return dict(a=rng.standard_normal((c["M"], c["K"])).astype(np.float32),
                    w=(rng.standard_normal((c["N"], c["K"])) / np.sqrt(c["K"])).astype(np.float32))
    return dict(x=rng.standard_normal((c["B"], c["L"], c["E"])).astype(np.float32))


def torch_mha(c):
    """nn.MultiheadAttention of the case with fixed random weights (vkattn loads its state dict)."""
    torch.manual_seed(0)
    return torch.nn.MultiheadAttention(c["E"], c["H"], batch_first=True).eval()


def torch_callable(c, device, dtype):
    """(function running the case once, description of the implementation)."""
    if c["kind"] == "matmul":
        x = layer_inputs(c)
        a, w = torch.from_numpy(x["a"]).to(device, dtype), torch.from_numpy(x["w"]).to(device, dtype)
        return (lambda: torch.matmul(a, w.t())), "matmul"
    if c["kind"] == "mha":
        layer = torch_mha(c).to(device, dtype)
        x = torch.from_numpy(layer_inputs(c)["x"]).to(device, dtype)
        return (lambda: layer(x, x, x, need_weights=False)), "nn.MultiheadAttention"
    g = torch.Generator(device="cpu").manual_seed(0)
    shape_q, shape_kv = (1, c["Hq"], c["Lq"], c["D"]), (1, c["Hkv"], c["Lk"], c["D"])
    q = torch.randn(shape_q, generator=g).to(device=device, dtype=dtype)
    k = torch.randn(shape_kv, generator=g).to(device=device, dtype=dtype)
    v = torch.randn(shape_kv, generator=g).to(device=device, dtype=dtype)
    group = c["Hq"] // c["Hkv"]
    if group > 1:  # grouped-query attention: share each K/V head (outside the timed region)
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    mask = causal_mask(c, device)
    is_causal = c["causal"] == "top-left" and c["Lq"] == c["Lk"]
    if hasattr(F, "scaled_dot_product_attention"):
        if is_causal:
            return (lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)), "sdpa"
        return (lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)), "sdpa"
    if c["Hq"] * c["Lq"] * c["Lk"] * 4 > MAX_SCORE_BYTES:
        return None, "skipped: written-out attention would need a %.1f GiB score matrix" % (
            c["Hq"] * c["Lq"] * c["Lk"] * 4 / 2**30)
    scale = c["D"] ** -0.5

    def written_out():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        return torch.matmul(torch.softmax(s, dim=-1), v)

    return written_out, "softmax(QK^T)V"


def time_torch(fn, cuda):
    """Median, min, max seconds of repeated runs after one warm-up."""
    fn()
    if cuda:
        torch.cuda.synchronize()
    times = []
    while len(times) < MAX_REPEATS:
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        if len(times) >= MIN_REPEATS and sum(times) >= TARGET_SECONDS:
            break
    return statistics.median(times), min(times), max(times)


def run_torch(c, cuda):
    device = "cuda" if cuda else "cpu"
    wanted = torch.float16 if c["dtype"] == "f16" else torch.float32
    for dtype in ((wanted,) if wanted == torch.float32 else (wanted, torch.float32)):
        with torch.no_grad():
            try:
                fn, impl = torch_callable(c, device, dtype)
                if fn is None:
                    return dict(impl=impl)
                med, lo, hi = time_torch(fn, cuda)
            except RuntimeError as e:  # e.g. half matmul not implemented on this CPU build
                if dtype == torch.float32:
                    return dict(impl="error: %s" % str(e).splitlines()[0])
                continue
        note = "" if dtype == wanted else " [in f32: no f16 here]"
        return dict(impl=impl + note, dtype=str(dtype).replace("torch.", ""), median_s=med, min_s=lo, max_s=hi,
                    gflops=flops(c) / med / 1e9)
    return dict(impl="error")


def time_wall(fn):
    """Median, min, max seconds of repeated calls after one warm-up (which also builds the pipelines)."""
    fn()
    times = []
    while len(times) < MAX_REPEATS:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= MIN_REPEATS and sum(times) >= TARGET_SECONDS:
            break
    return statistics.median(times), min(times), max(times)


def run_vkattn(ctx, c):
    """The case through the module: inputs uploaded once, the timed call on device tensors."""
    if c["kind"] in ("matmul", "mha"):
        dtype = np.float16 if c["dtype"] == "f16" else np.float32
        x = {n: ctx.tensor(v.astype(dtype)) for n, v in layer_inputs(c).items()}
        if c["kind"] == "matmul":
            fn = lambda: vkattn.matmul(x["a"], x["w"])
        else:
            weights = vkattn.load_mha_weights(torch_mha(c).state_dict(), c["H"], dtype=c["dtype"], ctx=ctx)
            fn = lambda: vkattn.multi_head_attention(weights, x["x"])
        try:
            med, lo, hi = time_wall(fn)
        except vkattn.Error as e:
            return dict(status="error", note=str(e))
        return dict(status="ok", median_s=med, min_s=lo, max_s=hi, gflops=flops(c) / med / 1e9)
    rng = np.random.default_rng(0)
    dtype = np.float16 if c["dtype"] == "f16" else np.float32
    q = ctx.tensor(rng.standard_normal((1, c["Hq"], c["Lq"], c["D"])).astype(dtype))
    k = ctx.tensor(rng.standard_normal((1, c["Hkv"], c["Lk"], c["D"])).astype(dtype))
    v = ctx.tensor(rng.standard_normal((1, c["Hkv"], c["Lk"], c["D"])).astype(dtype))
    causal = {"none": "none", "top-left": "top_left", "bottom-right": "bottom_right"}[c["causal"]]
    try:
        med, lo, hi = time_wall(lambda: vkattn.attention(q, k, v, causal=causal))
    except vkattn.Error as e:
        return dict(status="error", note=str(e))
    return dict(status="ok", median_s=med, min_s=lo, max_s=hi, gflops=flops(c) / med / 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filter", action="append", default=[],
                    help="cases whose name contains TEXT (repeatable); default: a modest set of prefill and decode cases")
    ap.add_argument("--device", help="vkattn's device: an index, a type (discrete, integrated, cpu) or a name part")
    ap.add_argument("--threads", type=int,
                    help="torch CPU threads (default: torch's own choice; printed; lavapipe uses every CPU)")
    ap.add_argument("--json", help="also write the comparison to FILE")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    all_cases = standard_cases() + layer_cases()
    if args.filter:
        cases = [c for c in all_cases if any(f in c["name"] for f in args.filter)]
    else:
        cases = [c for c in all_cases if c["name"] in DEFAULT_SET]
    if not cases:
        sys.exit("compare_torch: no case matches --filter")
    cuda = torch.cuda.is_available()

    ctx = vkattn.Context(device=args.device)
    vk_device = ctx.device
    where = torch.cuda.get_device_name(0) if cuda else "CPU, %d threads" % torch.get_num_threads()
    print("torch %s on %s; vkattn on %s" % (torch.__version__, where, vk_device["name"]))
    print("GFLOP/s at the median of repeated runs (>= %.0f ms measured, after a warm-up)\n" % (TARGET_SECONDS * 1e3))
    header = ("case", "torch impl", "torch ms", "torch GFLOP/s", "vkattn ms", "vkattn GFLOP/s", "vkattn/torch")
    lines, results = [], []
    for c in cases:
        print("compare_torch: torch %s ..." % c["name"], file=sys.stderr, flush=True)
        t = run_torch(c, cuda)
        print("compare_torch: vkattn %s ..." % c["name"], file=sys.stderr, flush=True)
        vk = run_vkattn(ctx, c)
        vk_g = vk.get("gflops") if vk.get("status") == "ok" else None
        ratio = vk_g / t["gflops"] if vk_g and t.get("gflops") else None
        vk_text = "%.2f" % vk_g if vk_g else (vk.get("status", "missing") + (": " + vk["note"] if vk.get("note") else ""))
        lines.append((c["name"], t["impl"], "%.2f" % (t["median_s"] * 1e3) if "median_s" in t else "-",
                      "%.2f" % t["gflops"] if "gflops" in t else "-",
                      "%.2f" % (vk["median_s"] * 1e3) if vk_g else "-", vk_text, "%.2fx" % ratio if ratio else "-"))
        results.append(dict(case=c, torch=t, vkattn=vk, ratio=ratio))
    widths = [max(len(str(r[i])) for r in lines + [header]) for i in range(len(header))]
    for i, row in enumerate([header, tuple("-" * w for w in widths)] + lines):
        print("  ".join(str(x).rjust(w) if j >= 2 and i != 0 else str(x).ljust(w)
                        for j, (x, w) in enumerate(zip(row, widths))).rstrip())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, torch_device=where, vkattn_device=vk_device,
                           results=results), f, indent=1)
        print("\nwrote " + args.json)


if __name__ == "__main__":
    main()
