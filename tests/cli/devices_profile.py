#!/usr/bin/env python3
"""`vkattn devices --profile P`: each limits profile's clamped limits and the kernel variants they
lead to; an unknown profile (flag or VKATTN_PROFILE) is one line naming it, exit 2.
Usage: devices_profile.py <path to vkattn>"""
import os
import re
import subprocess
import sys

VKATTN = sys.argv[1]
PROFILES = ["desktop", "mobile", "no-subgroup", "no-fp16", "small-shared"]
failures = []
env = {k: v for k, v in os.environ.items() if k not in ("VKATTN_PROFILE", "VKATTN_FUSED_KERNEL")}


def run(args, extra_env=None):
    return subprocess.run([VKATTN] + args, capture_output=True, text=True, env={**env, **(extra_env or {})})


def selected_block(text):
    """The lines of the selected device (marked '* ')."""
    blocks = re.split(r"\n(?=[* ] \[\d+\])", text)
    for b in blocks:
        if b.lstrip("\n").startswith("* "):
            return b
    return ""


def field(block, name):
    m = re.search(r"^    " + re.escape(name) + r"\s+(.*)$", block, re.M)
    return m.group(1) if m else None


def first_number(text):
    return int(re.match(r"(\d+)", text).group(1))


outputs = {}
for p in PROFILES:
    r = run(["devices", "--profile", p])
    if r.returncode != 0:
        failures.append(f"devices --profile {p}: exit {r.returncode}: {r.stderr.strip()}")
        continue
    block = selected_block(r.stdout)
    outputs[p] = block
    if not (field(block, "limits profile") or "").startswith(p):
        failures.append(f"{p}: limits profile line is {field(block, 'limits profile')!r}")
    if "kernel variants:" not in block:
        failures.append(f"{p}: no kernel variants listed")

if "desktop" in outputs and "mobile" in outputs:
    desk, mob = outputs["desktop"], outputs["mobile"]
    probed_shared = first_number(field(desk, "shared memory"))
    probed_inv = first_number(field(desk, "workgroup").split("max ")[1])
    if first_number(field(mob, "shared memory")) != min(probed_shared, 16384):
        failures.append(f"mobile: shared memory {field(mob, 'shared memory')!r}")
    if first_number(field(mob, "workgroup").split("max ")[1]) != min(probed_inv, 128):
        failures.append(f"mobile: workgroup {field(mob, 'workgroup')!r}")
    if not field(mob, "fp16 arithmetic").startswith("no"):
        failures.append(f"mobile: fp16 arithmetic {field(mob, 'fp16 arithmetic')!r}")
    if "basic no, arithmetic no, shuffle no" not in field(mob, "subgroup size"):
        failures.append(f"mobile: subgroup {field(mob, 'subgroup size')!r}")
    if probed_shared > 16384 and "[probed: " not in field(mob, "shared memory"):
        failures.append("mobile: the probed shared memory is not shown next to the clamped value")
    # Every variant listed under mobile fits: shared bytes <= 16 KiB, rows/tiles within 128 invocations.
    for m in re.finditer(r"(\d+) B shared", mob):
        if int(m.group(1)) > 16384:
            failures.append(f"mobile: a fused variant needs {m.group(0)}")
    for m in re.finditer(r"\[rows(\d+),", mob):
        if int(m.group(1)) > 128:
            failures.append(f"mobile: rowwise variant with {m.group(1)} rows")
    for m in re.finditer(r"convert_f32_to_f16\[wg(\d+)\]", mob):
        if int(m.group(1)) > 128:
            failures.append(f"mobile: convert workgroup {m.group(1)}")
    if probed_shared > 16384 and desk.split("kernel variants:")[1] == mob.split("kernel variants:")[1]:
        failures.append("mobile: the same kernel variants as desktop")
    # no-fp16: no kernel uses fp16 arithmetic, so the same variants. no-subgroup: the same variants except
    # that the tiled kernel loses its subgroup-shuffle reduction (",sg"), which must then be gone, and
    # with it the tiled line's shared bytes change (the shared-memory reduction's partial scores).
    def variants(text):
        return text.split("kernel variants:")[1]
    def without_tiled_bytes(text):
        return re.sub(r"(fused\.[^ ]*\]) \d+ B;", r"\1 B;", text)
    if "no-fp16" in outputs and variants(outputs["no-fp16"]) != variants(desk):
        failures.append("no-fp16: variants differ from desktop although no kernel uses fp16 arithmetic")
    if "no-subgroup" in outputs:
        nosg = variants(outputs["no-subgroup"])
        if ",sg" in nosg:
            failures.append("no-subgroup: a variant still uses subgroup shuffles (,sg)")
        if without_tiled_bytes(nosg) != without_tiled_bytes(variants(desk).replace(",sg", "")):
            failures.append("no-subgroup: variants differ from desktop beyond the subgroup reduction")

for args, extra, needle in ((["devices", "--profile", "phone"], None, "--profile: 'phone'"),
                            (["devices"], {"VKATTN_PROFILE": "phone"}, "VKATTN_PROFILE: 'phone'")):
    r = run(args, extra)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if r.returncode != 2 or len(lines) != 1 or needle not in r.stderr or "small-shared" not in r.stderr:
        failures.append(f"{args} {extra}: exit {r.returncode}, stderr {r.stderr!r}")

# The environment chooses the profile when the flag is absent; the flag wins over it.
r = run(["devices"], {"VKATTN_PROFILE": "small-shared"})
if not (field(selected_block(r.stdout), "limits profile") or "").startswith("small-shared"):
    failures.append("VKATTN_PROFILE=small-shared did not apply")
r = run(["devices", "--profile", "desktop"], {"VKATTN_PROFILE": "small-shared"})
if not (field(selected_block(r.stdout), "limits profile") or "").startswith("desktop"):
    failures.append("--profile desktop did not override VKATTN_PROFILE")

# `devices --design-for NAME`: a reference device's variants and design table; every row fits its
# shared memory (also clamped by a profile); `--verbose` prints the table for the probed devices.
for name, shared in (("nvidia", 49152), ("amd", 65536), ("intel", 65536), ("mobile", 32768)):
    for prof, limit in (("desktop", shared), ("small-shared", min(shared, 16384))):
        r = run(["devices", "--design-for", name, "--profile", prof])
        if r.returncode != 0 or "design per unit" not in r.stdout:
            failures.append(f"--design-for {name} --profile {prof}: exit {r.returncode}, {r.stderr.strip()!r}")
            continue
        rows = re.findall(r"^\s+(?:key block|K/V tile|tile|block) .*?(\d+)\s+(\d+)$", r.stdout, re.M)
        if len(rows) < 4:
            failures.append(f"--design-for {name} --profile {prof}: {len(rows)} design rows")
        for shared_bytes, per_cu in rows:
            if int(shared_bytes) > limit or int(per_cu) < 1:
                failures.append(f"--design-for {name} --profile {prof}: a row needs {shared_bytes} B ({per_cu} per CU), limit {limit}")
r = run(["devices", "--design-for", "geforce"])
lines = [l for l in r.stderr.splitlines() if l.strip()]
if r.returncode != 2 or len(lines) != 1 or "design-for: 'geforce'" not in r.stderr:
    failures.append(f"--design-for geforce: exit {r.returncode}, stderr {r.stderr!r}")
r = run(["devices", "--verbose"])
if "design per unit" not in selected_block(r.stdout):
    failures.append("devices --verbose: no design table for the selected device")

for f in failures:
    print("FAIL:", f)
print(f"devices_profile: {len(PROFILES)} profiles, {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
