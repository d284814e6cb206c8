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

With --from-bench FILE, vkattn's side is not run here: its times are the rows of a `vkattn bench --json`
file (GPU timestamps of the kernels, median of repeated runs), and only PyTorch runs, on the same shapes
(the rows' B, heads, lengths, head dims, dtype and causal mask; prefill, decode and cross rows), so no
Python module of vkattn is needed (the GPU kit, scripts/gpu/, runs it this way under another Python).
Run the bench and this script on the same machine, one after the other: the table then compares the
two on one GPU. torch's side is timed with CUDA events around each call, so it holds the launch too.

Needs python3-torch (Debian) or a pip torch, numpy, and (without --from-bench) vkattn's Python module.
tests/python/test_compare_torch.py runs the --from-bench mode on a committed bench file (ctest
python_compare_torch).

    /usr/bin/python3 bench/compare_torch.py                      # a modest default set
    /usr/bin/python3 bench/compare_torch.py --filter "decode f16 Lq1" --json out.json
    python3 bench/compare_torch.py --from-bench bench.json --json compare.json   # times from vkattn bench
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
vkattn = None  # the module, imported by import_vkattn() only where vkattn runs in this process


def import_vkattn():
    global vkattn
    try:
        import vkattn as module
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "build", "python"))  # the module in the build tree (README)
        try:
            import vkattn as module
        except ImportError as e:
            sys.exit("compare_torch: vkattn's Python module is not importable (%s): build it (README quick start), set "
                     "PYTHONPATH to the build tree's python folder, or compare with a bench file (--from-bench)" % e)
    vkattn = module


TARGET_SECONDS = 0.2  # like vkattn bench: repeat until this much time was measured
MIN_REPEATS, MAX_REPEATS = 3, 100
MAX_SCORE_BYTES = 2 << 30  # the written-out fallback materialises Q K^T; skip cases above this


def case(kind, name, hq, hkv, lq, lk, d, dtype, causal, b=1, dv=None):
    return dict(kind=kind, name=name, B=b, Hq=hq, Hkv=hkv, Lq=lq, Lk=lk, D=d, Dv=d if dv is None else dv, dtype=dtype,
                causal=causal)


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
    return 2.0 * c["B"] * c["Hq"] * visible_pairs(c["Lq"], c["Lk"], c["causal"]) * (c["D"] + c["Dv"])


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
    # Drawn where they are used: on CUDA the GPU sizes (128k keys, N=16k at H32) would take seconds on the CPU.
    g = torch.Generator(device=device).manual_seed(0)

    def draw(shape):
        return torch.randn(shape, generator=g, device=device).to(dtype=dtype)

    q = draw((c["B"], c["Hq"], c["Lq"], c["D"]))
    k = draw((c["B"], c["Hkv"], c["Lk"], c["D"]))
    v = draw((c["B"], c["Hkv"], c["Lk"], c["Dv"]))
    group = c["Hq"] // c["Hkv"]
    if group > 1:  # grouped-query attention: share each K/V head (outside the timed region)
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    mask = causal_mask(c, device)
    is_causal = c["causal"] == "top-left" and c["Lq"] == c["Lk"]
    if hasattr(F, "scaled_dot_product_attention"):
        if is_causal:
            return (lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)), "sdpa"
        return (lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)), "sdpa"
    if c["B"] * c["Hq"] * c["Lq"] * c["Lk"] * 4 > MAX_SCORE_BYTES:
        return None, "skipped: written-out attention would need a %.1f GiB score matrix" % (
            c["B"] * c["Hq"] * c["Lq"] * c["Lk"] * 4 / 2**30)
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
    q = ctx.tensor(rng.standard_normal((c["B"], c["Hq"], c["Lq"], c["D"])).astype(dtype))
    k = ctx.tensor(rng.standard_normal((c["B"], c["Hkv"], c["Lk"], c["D"])).astype(dtype))
    v = ctx.tensor(rng.standard_normal((c["B"], c["Hkv"], c["Lk"], c["Dv"])).astype(dtype))
    causal = {"none": "none", "top-left": "top_left", "bottom-right": "bottom_right"}[c["causal"]]
    try:
        med, lo, hi = time_wall(lambda: vkattn.attention(q, k, v, causal=causal))
    except vkattn.Error as e:
        return dict(status="error", note=str(e))
    return dict(status="ok", median_s=med, min_s=lo, max_s=hi, gflops=flops(c) / med / 1e9)


# The bench rows PyTorch's scaled_dot_product_attention computes as well (explicit rows also return the
# weights, local rows a sliding window, linear rows another function: none of them is compared).
BENCH_KINDS = ("prefill", "decode", "cross")
BENCH_CAUSAL = {"none": "none", "top-left": "top-left", "bottom-right": "bottom-right"}


def bench_file_cases(path, filters):
    """(case, row) for each row of a `vkattn bench --json` file that sdpa computes too, after the filters.

    Rows that did not run (skipped over the time budget, errors) come back too, with their status, so the
    table says why they have no ratio. Exits with a message naming the file when it is not such a file."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("compare_torch: --from-bench: cannot read '%s' (%s)" % (path, e))
    if not isinstance(doc, dict) or doc.get("format") != "vkattn-bench" or not isinstance(doc.get("rows"), list):
        sys.exit("compare_torch: --from-bench: '%s' is not a `vkattn bench --json` file (format vkattn-bench)" % path)
    out = []
    for r in doc["rows"]:
        if r.get("kind") not in BENCH_KINDS or r.get("causal") not in BENCH_CAUSAL:
            continue
        if filters and not any(f in r["name"] for f in filters):
            continue
        c = case(r["kind"], r["name"], r["Hq"], r["Hkv"], r["Lq"], r["Lk"], r["D"], r["dtype"], BENCH_CAUSAL[r["causal"]],
                 b=r["B"], dv=r["Dv"])
        out.append((c, r))
    return doc, out


def bench_row_result(c, row):
    """vkattn's side of a case from its bench row: the GPU-timestamped median, as run_vkattn returns it."""
    if row.get("status") != "ok" or not row.get("median_ms"):
        return dict(status=row.get("status", "missing"), note=row.get("note", ""))
    med = row["median_ms"] / 1e3
    return dict(status="ok", median_s=med, min_s=(row.get("min_ms") or row["median_ms"]) / 1e3,
                max_s=(row.get("max_ms") or row["median_ms"]) / 1e3, gflops=flops(c) / med / 1e9,
                timer=row.get("timer", ""), variant=row.get("variant", ""), check=row.get("check", ""))


def print_table(header, lines):
    widths = [max(len(str(r[i])) for r in lines + [header]) for i in range(len(header))]
    for i, row in enumerate([header, tuple("-" * w for w in widths)] + lines):
        print("  ".join(str(x).rjust(w) if j >= 2 and i != 0 else str(x).ljust(w)
                        for j, (x, w) in enumerate(zip(row, widths))).rstrip())


def compare_rows(cases, vkattn_side, cuda, torch_if_vkattn_failed=True, after_case=None):
    """Runs torch on each case; vkattn_side(case) gives vkattn's result; after_case(results) follows each
    case (the JSON file is rewritten there, so a run stopped part-way keeps its rows). Returns (table
    lines, results)."""
    lines, results = [], []
    for c in cases:
        print("compare_torch: %s ..." % c["name"], file=sys.stderr, flush=True)
        vk = vkattn_side(c)
        if vk.get("status") == "ok" or torch_if_vkattn_failed:
            t = run_torch(c, cuda)
        else:
            t = dict(impl="not run (no vkattn time)")
        vk_g = vk.get("gflops") if vk.get("status") == "ok" else None
        ratio = vk_g / t["gflops"] if vk_g and t.get("gflops") else None
        vk_text = "%.2f" % vk_g if vk_g else (vk.get("status", "missing") + (": " + vk["note"] if vk.get("note") else ""))
        lines.append((c["name"], t["impl"], "%.3f" % (t["median_s"] * 1e3) if "median_s" in t else "-",
                      "%.3f" % (vk["median_s"] * 1e3) if vk_g else "-", "%.2f" % t["gflops"] if "gflops" in t else "-",
                      vk_text, "%.2fx" % ratio if ratio else "-"))
        results.append(dict(case=c, torch=t, vkattn=vk, ratio=ratio))
        if after_case:
            after_case(results)
    return lines, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filter", action="append", default=[],
                    help="cases whose name contains TEXT (repeatable); default: a modest set of prefill and decode cases "
                         "(with --from-bench: every prefill, decode and cross row of the file)")
    ap.add_argument("--from-bench", metavar="FILE",
                    help="take vkattn's times from this `vkattn bench --json` file instead of running vkattn here "
                         "(no Python module needed); torch runs the same shapes")
    ap.add_argument("--device", help="vkattn's device: an index, a type (discrete, integrated, cpu) or a name part")
    ap.add_argument("--threads", type=int,
                    help="torch CPU threads (default: torch's own choice; printed; lavapipe uses every CPU)")
    ap.add_argument("--json", help="also write the comparison to FILE")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.from_bench and args.device:
        sys.exit("compare_torch: --device chooses where vkattn runs here; with --from-bench it ran in `vkattn bench`")
    cuda = torch.cuda.is_available()
    where = torch.cuda.get_device_name(0) if cuda else "CPU, %d threads" % torch.get_num_threads()
    header = ("case", "torch impl", "torch ms", "vkattn ms", "torch GFLOP/s", "vkattn GFLOP/s", "vkattn/torch")
    written = {}

    def write_json(results):
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(torch=torch.__version__, torch_device=where, cuda=cuda, vkattn_device=written["device"],
                               results=results, **written["source"]), f, indent=1)

    if args.from_bench:
        doc, pairs = bench_file_cases(args.from_bench, args.filter)
        if not pairs:
            sys.exit("compare_torch: --from-bench: no prefill, decode or cross row of '%s' matches" % args.from_bench)
        vk_device = doc.get("device", {})
        rows = {c["name"]: r for c, r in pairs}
        print("torch %s on %s; vkattn on %s (from %s, %s)" % (torch.__version__, where, vk_device.get("name", "?"),
                                                          args.from_bench, doc.get("date", "no date")))
        if cuda and vk_device.get("type") == "cpu":
            print("note: vkattn ran on a CPU device and torch on CUDA: the ratio compares two machines' parts")
        print("torch: median of repeated runs (>= %.0f ms measured, after a warm-up), %s; vkattn: the bench's median "
              "(%s)\n" % (TARGET_SECONDS * 1e3, "CUDA events around each call" if cuda else "wall clock",
                          "GPU timestamps of the kernels" if all(r.get("timer") in ("gpu", "")
                                                                  for r in rows.values()) else "see each row's timer"))
        written.update(device=vk_device, source=dict(bench_file=os.path.abspath(args.from_bench), bench_date=doc.get("date")))
        lines, results = compare_rows([c for c, _ in pairs], lambda c: bench_row_result(c, rows[c["name"]]), cuda,
                                      torch_if_vkattn_failed=False, after_case=write_json)
    else:
        all_cases = standard_cases() + layer_cases()
        if args.filter:
            cases = [c for c in all_cases if any(f in c["name"] for f in args.filter)]
        else:
            cases = [c for c in all_cases if c["name"] in DEFAULT_SET]
        if not cases:
            sys.exit("compare_torch: no case matches --filter")
        import_vkattn()
        ctx = vkattn.Context(device=args.device)
        vk_device = ctx.device
        print("torch %s on %s; vkattn on %s" % (torch.__version__, where, vk_device["name"]))
        print("GFLOP/s at the median of repeated runs (>= %.0f ms measured, after a warm-up)\n" % (TARGET_SECONDS * 1e3))
        written.update(device=vk_device, source=dict(in_process=True))
        lines, results = compare_rows(cases, lambda c: run_vkattn(ctx, c), cuda, after_case=write_json)
    print_table(header, lines)
    if args.json:
        write_json(results)
        print("\nwrote " + args.json)


if __name__ == "__main__":
    main()
