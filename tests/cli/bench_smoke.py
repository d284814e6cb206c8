#!/usr/bin/env python3
"""`vkattn bench` end to end on the default device: a small filtered run writes JSON and CSV whose rows
passed their reference check; compare and plot read the JSON; bad files give one line and exit 2.
Usage: bench_smoke.py <path to vkattn>"""
import json
import os
import subprocess
import sys
import tempfile

VKATTN = sys.argv[1]
failures = []


def run(args, ok=True):
    p = subprocess.run([VKATTN] + args, capture_output=True, text=True)
    if ok and p.returncode != 0:
        failures.append(f"vkattn {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p


def expect_one_line_error(args, needle):
    p = run(args, ok=False)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode != 2 or len(lines) != 1 or needle not in p.stderr:
        failures.append(f"vkattn {' '.join(args)}: exit {p.returncode}, stderr {p.stderr!r}; wanted one line with {needle!r}")


d = tempfile.mkdtemp(prefix="vkattn-bench-")
js, csv, png = (os.path.join(d, n) for n in ("q.json", "q.csv", "p.png"))
cache = os.path.join(d, "cache")
os.environ["XDG_CACHE_HOME"] = cache  # a fresh roofline measurement, not one cached by an earlier run
run(["bench", "--shapes", "quick", "--filter", "prefill f32 H8 N256", "--repeat", "3", "--json", js, "--csv", csv])
if os.path.exists(js):
    doc = json.load(open(js))
    rows = doc.get("rows", [])
    if doc.get("format") != "vkattn-bench" or not rows:
        failures.append(f"bench json: unexpected document {str(doc)[:300]}")
    for r in rows:
        if not str(r.get("check", "")).startswith("pass") or not (r.get("gflops") or 0) > 0:
            failures.append(f"bench row not passing or without GFLOP/s: {r}")
    if not open(csv).readline().strip():
        failures.append("bench csv is empty")
    p = run(["bench", "compare", js, js])
    if "1.00x" not in p.stdout:
        failures.append(f"bench compare of a file with itself lacks 1.00x: {p.stdout[-400:]}")
    run(["bench", "plot", js, "--out", png])
    if not os.path.exists(png) or open(png, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
        failures.append("bench plot did not write a PNG")
    svg = os.path.join(d, "p.svg")  # the extension of --out chooses the format
    run(["bench", "plot", js, "--out", svg])
    head = open(svg, "rb").read() if os.path.exists(svg) else b""
    if not head.startswith(b"<?xml") or b"<svg" not in head or not head.rstrip().endswith(b"</svg>"):
        failures.append(f"bench plot did not write an SVG: {head[:80]!r}")
    expect_one_line_error(["bench", "plot", js, "--out", os.path.join(d, "p.jpg")],
                          "--out: '" + os.path.join(d, "p.jpg") + "' has the extension .jpg")
else:
    failures.append("bench wrote no JSON")

# The matmul set's odd size (one pipeline, ~0.1 s a run): a checked row with GFLOP/s and % of the peak.
mm = os.path.join(d, "mm.json")
run(["bench", "--shapes", "matmul", "--filter", "M1000 N333 K517", "--repeat", "3", "--json", mm])
mm_rows = json.load(open(mm)).get("rows", []) if os.path.exists(mm) else []
if [r.get("name") for r in mm_rows] != ["matmul f32 M1000 N333 K517"] or not all(
        str(r.get("check", "")).startswith("pass") and (r.get("gflops") or 0) > 0 and (r.get("pct_peak") or 0) > 0
        for r in mm_rows):
    failures.append(f"bench --shapes matmul: unexpected rows {str(mm_rows)[:400]}")

# The overhead set (one shape, to stay short under the sanitizers): four modes, and the host work each
# mode is built to avoid, per operation (the times themselves are not held to anything here: the
# machine is shared).
ov = os.path.join(d, "overhead.json")
run(["bench", "--shapes", "overhead", "--filter", "decode Hq8/Hkv2 Lk64", "--repeat", "1", "--json", ov])
if os.path.exists(ov):
    rows = json.load(open(ov)).get("rows", [])
    if len(rows) != 4:
        failures.append(f"bench overhead: {len(rows)} rows, wanted 1 shape x 4 modes")
    for r in rows:
        mode = r.get("mode", "")
        if not (r.get("host_us_per_op") or 0) > 0:
            failures.append(f"bench overhead row without host_us_per_op: {r}")
        if r.get("allocations_per_op") != 0 or r.get("descriptor_pools_per_op") != 0:
            failures.append(f"bench overhead: a steady-state {mode} operation allocated memory or created a pool: {r}")
        want = {"sync": 1.0, "recorded x32": 0.0, "batched x32": 1 / 32}.get(mode, 0.0)
        if abs(r.get("submissions_per_op", -1) - want) > 1e-9 or abs(r.get("waits_per_op", -1) - want) > 1e-9:
            failures.append(f"bench overhead: {mode} made {r.get('submissions_per_op')} submissions and "
                            f"{r.get('waits_per_op')} waits per operation, wanted {want}")
else:
    failures.append("bench --shapes overhead wrote no JSON")

expect_one_line_error(["bench", "--shapes", "overhead", "--filter", "no such shape"],
                      "--filter: no shape of the overhead set")

truncated = os.path.join(d, "truncated.json")
open(truncated, "w").write('{"format": "vkattn-bench", "rows": [')
expect_one_line_error(["bench", "compare", os.path.join(d, "missing.json")], "missing.json")
expect_one_line_error(["bench", "compare", truncated], "truncated.json")
expect_one_line_error(["bench", "--json", "/nonexistent-dir/x.json"], "x.json")

for f in failures:
    print("FAIL:", f)
print(f"bench smoke: {'all checks passed' if not failures else str(len(failures)) + ' failed'}")
sys.exit(1 if failures else 0)
