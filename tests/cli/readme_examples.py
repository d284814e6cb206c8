#!/usr/bin/env python3
"""Runs the README's attention-family example block (between `<!-- family-examples -->` and the end
of the fenced block) in a scratch copy of the paths it names, with the built `vkattn` as
build/tools/vkattn, and fails on any non-zero exit or missing output.
Usage: readme_examples.py <path to vkattn> <source dir>"""
import os
import re
import subprocess
import sys
import tempfile

VKATTN, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
m = re.search(r"<!-- family-examples -->\s*```sh\n(.*?)```", readme, re.S)
if not m:
    sys.exit("README.md: no family-examples block")
block = m.group(1)

with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "build", "tools"))
    os.symlink(VKATTN, os.path.join(tmp, "build", "tools", "vkattn"))
    for d in ("docs", "tests"):
        os.symlink(os.path.join(SRC, d), os.path.join(tmp, d))
    # `python3` in the block is the interpreter running this test (the one with numpy).
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp, capture_output=True, text=True, env=env)
    print(p.stdout[-4000:])
    print(p.stderr[-4000:], file=sys.stderr)
    if p.returncode != 0:
        sys.exit(f"the README example block exited with {p.returncode}")
    outputs = re.findall(r"--(?:out|npy|weights-out) \$F/(\S+)", block)
    missing = [o for o in outputs if not os.path.getsize(os.path.join(tmp, "family", o))]
    if missing:
        sys.exit(f"empty outputs: {missing}")
    if "check of the last step: pass" not in p.stdout:
        sys.exit("vkattn decode did not report a passing check")
    print(f"README family examples: {block.count(chr(10) + '$V ')} commands ran, {len(outputs)} outputs written")
