#!/usr/bin/env python3
"""The JSON files of `vkattn bench --json`, written and read back with nlohmann/json:
- what `vkattn bench --json` writes is strict JSON (no NaN/Infinity: unmeasured figures are null),
  with the same keys, in the same order, and the same value types as the committed
  bench/results/*.json files, so files written before and after stay interchangeable;
- `bench compare` reads a fresh file, a file of skipped rows (nulls) and every committed file, and
  prints each row's figure as it is in the file; `bench plot` draws a committed file;
- the first format (a bare array of rows) still loads;
- a malformed, truncated or wrong file gives exit 2 and one line naming the file and the problem.
Usage: bench_json_files.py <path to vkattn> <source dir>"""
import glob
import json
import os
import subprocess
import sys
import tempfile

VKATTN, SRC = sys.argv[1], sys.argv[2]
COMMITTED = sorted(glob.glob(os.path.join(SRC, "bench", "results", "*.json")))
CASE = "prefill f32 H8 N256"
# The format, key for key, as `vkattn bench --json` writes it (bench/README.md, "JSON").
TOP_KEYS = ["format", "format_version", "vkattn_version", "date", "shapes", "filter", "max_seconds_per_case",
            "device", "roofline", "rows"]
DEVICE_KEYS = ["name", "vendor", "type", "driver", "driver_info", "api_version", "timestamps"]
ROOFLINE_KEYS = ["fp32_gflops", "fp16_gflops", "copy_gbps", "ridge_fp32", "fp32_config", "fp16_config", "copy_config",
                 "fp32_note", "fp16_note", "copy_note", "from_cache", "measured_at"]
ROW_KEYS = ["name", "kind", "status", "note", "device", "vendor", "device_type", "driver", "driver_info", "api_version",
            "B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv", "dtype", "causal", "path", "variant", "timer", "repeats",
            "median_ms", "min_ms", "max_ms", "gflop", "gflops", "gbytes", "gbps", "arithmetic_intensity", "peak_kind",
            "peak_gflops", "copy_gbps", "ridge", "pct_peak", "pct_copy_bandwidth", "pct_roofline", "bound", "check",
            "max_abs_err", "check_bound", "peak_memory_mib", "in_out_mib", "memory_ratio", "estimated_seconds",
            "wall_seconds"]
INTEGER_KEYS = {"format_version", "B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv", "repeats"}
failures = []


def run(args, ok=True):
    p = subprocess.run([VKATTN] + args, capture_output=True, text=True, errors="replace")
    if ok and p.returncode != 0:
        failures.append(f"vkattn {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p


def strict_load(path):
    """The document, refusing NaN/Infinity (JSON has neither; Python's json would accept them)."""
    def refuse(word):
        raise ValueError(f"{path}: non-JSON literal {word}")
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=refuse)


def kind_of(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__  # str, list, dict


def compatible(key, new, old):
    """Same JSON type; a figure may be null in one file and a number in the other."""
    k_new, k_old = kind_of(new), kind_of(old)
    return k_new == k_old or {k_new, k_old} == {"number", "null"}


def check_keys(where, what, keys, wanted):
    if list(keys) != list(wanted):
        failures.append(f"{where}: {what} keys {list(keys)} differ from {list(wanted)}")


def check_format(path, doc):
    """The keys `vkattn bench --json` has written since format_version 1 gained the memory columns."""
    where = os.path.basename(path)
    check_keys(where, "top-level", doc, TOP_KEYS)
    check_keys(where, "device", doc.get("device", {}), DEVICE_KEYS)
    check_keys(where, "roofline", doc.get("roofline", {}), ROOFLINE_KEYS)
    for i, row in enumerate(doc.get("rows", [])):
        check_keys(where, f"row {i + 1}", row, ROW_KEYS)
    if doc.get("format") != "vkattn-bench" or doc.get("format_version") != 1:
        failures.append(f"{where}: format {doc.get('format')!r} version {doc.get('format_version')!r}")
    for key in INTEGER_KEYS:
        for obj in [doc] + doc.get("rows", []):
            if key in obj and type(obj[key]) is not int:
                failures.append(f"{where}: {key!r} = {obj[key]!r} is not an integer")


def check_like_committed(path, doc, reference, reference_path):
    """Every key of a committed file is written, in the same order, with the same JSON type."""
    where = f"{os.path.basename(path)} against {os.path.relpath(reference_path, SRC)}"
    pairs = [("top-level", doc, reference), ("device", doc.get("device", {}), reference["device"]),
             ("roofline", doc.get("roofline", {}), reference["roofline"])]
    pairs += [(f"row {i + 1}", row, reference["rows"][0]) for i, row in enumerate(doc.get("rows", []))]
    for what, new, old in pairs:
        common = [k for k in new if k in old]
        if common != list(old):
            failures.append(f"{where}: {what} keys {list(new)} lack or reorder {list(old)}")
        for key in old:
            if key in new and not compatible(key, new[key], old[key]):
                failures.append(f"{where}: {what} {key!r} is {kind_of(new[key])}, was {kind_of(old[key])}")


def compare_cells(paths, metric):
    """`bench compare --format markdown`: {case: [the cells after the name]} (first file's first)."""
    p = run(["bench", "compare", *paths, "--metric", metric, "--format", "markdown"])
    cells = {}
    for line in p.stdout.splitlines():
        parts = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and parts[0] not in ("case", "---"):
            cells[parts[0]] = parts[1:]
    return p, cells


def expected_cell(row, key, decimals):
    if row.get("status", "ok") != "ok":
        return row["status"]
    value = row.get(key)
    if value is None:
        return "n/a"
    cell = f"{value:.{decimals}f}"
    return cell + " (FAIL)" if str(row.get("check", "")).startswith("FAIL") else cell


def check_compare_reads(path, doc):
    """Each row's median time and GFLOP/s as `bench compare` prints them, against the file itself."""
    for metric, key, decimals in (("ms", "median_ms", 3), ("gflops", "gflops", 2)):
        p, cells = compare_cells([path], metric)
        for row in doc["rows"]:
            got = cells.get(row["name"], ["(missing)"])[0]
            if got != expected_cell(row, key, decimals):
                failures.append(f"compare {os.path.basename(path)} --metric {metric}: {row['name']!r} shows {got!r}, "
                                f"the file has {row.get(key)!r} (status {row.get('status')!r})")
    roof = doc.get("roofline", {}).get("fp32_gflops")
    if roof is not None and f"roofline fp32 {roof:.1f} GFLOP/s" not in p.stdout:
        failures.append(f"compare {os.path.basename(path)}: header lacks the roofline {roof:.1f}: {p.stdout[:400]!r}")


def expect_error(path, *needles):
    p = run(["bench", "compare", path], ok=False)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    wanted = (path,) + needles
    if p.returncode != 2 or len(lines) != 1 or not all(n in lines[0] for n in wanted):
        failures.append(f"bench compare {os.path.basename(path)}: exit {p.returncode}, stderr {p.stderr!r}; "
                        f"wanted exit 2 and one line with {list(wanted)!r}")


d = tempfile.mkdtemp(prefix="vkattn-bench-json-")
os.environ["XDG_CACHE_HOME"] = os.path.join(d, "cache")  # measured once, then cached for the second run
if not COMMITTED:
    failures.append("no bench/results/*.json to check against")
references = {path: strict_load(path) for path in COMMITTED}
reference_path = os.path.join(SRC, "bench", "results", "bench.json")

# 1. Written now: one measured row, and the same case skipped (every figure unmeasured: null); the
#    keys of the format, and those of each committed file with their types.
fresh, skipped = os.path.join(d, "fresh.json"), os.path.join(d, "skipped.json")
run(["bench", "--shapes", "quick", "--filter", CASE, "--repeat", "3", "--json", fresh])
run(["bench", "--shapes", "quick", "--filter", CASE, "--max-seconds-per-case", "0.000001", "--json", skipped])
for path in (fresh, skipped):
    if not os.path.exists(path):
        failures.append(f"bench wrote no {os.path.basename(path)}")
        continue
    try:
        doc = strict_load(path)
    except ValueError as e:
        failures.append(f"{os.path.basename(path)} is not strict JSON: {e}")
        continue
    check_format(path, doc)
    for ref_path, ref in references.items():
        check_like_committed(path, doc, ref, ref_path)
    check_compare_reads(path, doc)
if os.path.exists(skipped):
    row = strict_load(skipped)["rows"][0]
    if row.get("status") != "skipped" or any(row.get(k, "absent") is not None for k in ("median_ms", "gflops")):
        failures.append(f"skipped.json: wanted status skipped with null figures, got {row}")

# 2. Committed files: every one loads in compare (its figures as in the file) and in plot; a fresh
#    file sits beside a committed one.
for path, doc in references.items():
    check_compare_reads(path, doc)
    png = os.path.join(d, os.path.basename(path) + ".png")
    run(["bench", "plot", path, "--out", png])
    if not os.path.exists(png) or open(png, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
        failures.append(f"bench plot {os.path.relpath(path, SRC)} wrote no PNG")
if os.path.exists(fresh):
    p, cells = compare_cells([reference_path, fresh], "gflops")
    if CASE not in " ".join(cells):
        failures.append(f"compare committed + fresh lacks {CASE!r}: {p.stdout[-400:]!r}")

# 3. The first format: a bare array of rows, each naming its device.
first_format = os.path.join(d, "first_format.json")
with open(first_format, "w") as f:
    json.dump([{"name": "decode f16 Lq1", "device": "Old GPU (driver 1)", "gflops": 12.5}], f)
p = run(["bench", "compare", first_format])
if "Old GPU" not in p.stdout or "12.50" not in p.stdout:
    failures.append(f"first-format file not read: {p.stdout[-400:]!r}")

# 4. Bad files: one line, exit 2, the path and what is wrong.
committed_text = open(reference_path, encoding="utf-8").read()
bad = {
    "truncated.json": ('{"format": "vkattn-bench", "rows": [', "is not valid JSON", "parse error at line 1, column 37",
                       "unexpected end of input"),
    "half.json": (committed_text[: len(committed_text) // 2], "is not valid JSON", "parse error at line"),
    "empty.json": ("", "is not valid JSON", "unexpected end of input"),
    "text.json": ("median 74 ms\n", "is not valid JSON", "parse error at line 1, column 1"),
    "trailing.json": ('{"format": "vkattn-bench", "rows": []} x', "is not valid JSON", "expected end of input"),
    "nan.json": ('{"format": "vkattn-bench", "rows": [{"name": "a", "gflops": NaN}]}', "is not valid JSON",
                 "parse error at line 1, column 61"),
    "overflow.json": ('{"format": "vkattn-bench", "rows": [{"name": "a", "gflops": 1e999}]}', "is not valid JSON",
                      "number overflow"),
    "other.json": ('{"format": "something-else", "rows": []}', "is not a vkattn bench file"),
    "no_rows.json": ('{"format": "vkattn-bench", "rows": {}}', 'has no "rows" array'),
    "row_not_object.json": ('{"format": "vkattn-bench", "rows": [3]}', "row 1 is not an object"),
    "row_without_name.json": ('{"format": "vkattn-bench", "rows": [{"name": "a"}, {"kind": "prefill"}]}',
                              'row 2 has no "name" string'),
}
for name, (text, *needles) in bad.items():
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    expect_error(path, *needles)
not_utf8 = os.path.join(d, "not_utf8.json")
with open(not_utf8, "wb") as f:
    f.write(b'{"format": "vkattn-bench", "rows": [{"name": "\xff"}]}')
expect_error(not_utf8, "is not valid JSON", "invalid string: ill-formed UTF-8 byte", "last read: '\"\\xFF'")
expect_error(os.path.join(d, "missing.json"), "cannot read (No such file or directory)")
expect_error(d, "is a directory")

for f in failures:
    print("FAIL:", f)
print(f"bench JSON files: {len(COMMITTED)} committed file(s), {len(bad) + 3} bad files; "
      f"{'all checks passed' if not failures else str(len(failures)) + ' failed'}")
sys.exit(1 if failures else 0)
