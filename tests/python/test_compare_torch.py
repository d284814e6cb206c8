"""bench/compare_torch.py's --from-bench mode: vkattn's times from a `vkattn bench --json` file, PyTorch run here.

Run by ctest as python_compare_torch, or by hand:
    python3 -m unittest -v tests/python/test_compare_torch.py

The file is made from rows of the committed bench/results/bench.json: a decode row (bottom-right causal,
Lq 4, GQA), a cross row, an explicit row (not compared: sdpa returns no weights) and a decode row marked
skipped (no vkattn time: torch is not run for it). Checked: the rows compared and left out, vkattn's
median and flop count taken from the file (the script's flop count must equal the bench's own), the
ratio as the two GFLOP/s figures' quotient, and that vkattn's Python module is never imported (the GPU
kit runs this mode under a Python the module was not built for). Needs PyTorch, like python_torch.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "compare_torch.py")
COMMITTED = os.path.join(ROOT, "bench", "results", "bench.json")
COMPARED = ["decode f16 Lq4 Lk4096 H32/8 D128", "cross f16 Lq4096 Lk77 H8 D64"]


class FromBench(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        with open(COMMITTED) as f:
            doc = json.load(f)
        rows = {r["name"]: r for r in doc["rows"]}
        skipped = dict(rows["decode f16 Lq1 Lk7680 H64/8 D64"], status="skipped", note="estimated 30 s > 20 s",
                       median_ms=None)
        doc["rows"] = [rows[n] for n in COMPARED] + [rows["explicit f32 H8 N256 D64"], skipped]
        self.doc = doc
        self.bench = self.path("bench.json")
        with open(self.bench, "w") as f:
            json.dump(doc, f)
        # A vkattn module that fails when imported: the mode must not need it.
        os.mkdir(self.path("fake"))
        with open(self.path("fake", "vkattn.py"), "w") as f:
            f.write("raise RuntimeError('compare_torch imported vkattn in --from-bench mode')\n")

    def path(self, *parts):
        return os.path.join(self.dir.name, *parts)

    def run_script(self, *args):
        env = dict(os.environ, PYTHONPATH=self.path("fake"), PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)

    def test_rows_times_and_ratio(self):
        out = self.path("compare.json")
        p = self.run_script("--from-bench", self.bench, "--threads", "1", "--json", out)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out) as f:
            result = json.load(f)
        self.assertEqual(result["bench_file"], os.path.abspath(self.bench))
        self.assertEqual(result["vkattn_device"]["name"], self.doc["device"]["name"])
        names = [r["case"]["name"] for r in result["results"]]
        self.assertEqual(names, COMPARED + ["decode f16 Lq1 Lk7680 H64/8 D64"])  # not the explicit row
        rows = {r["name"]: r for r in self.doc["rows"]}
        for r in result["results"][:2]:
            row, vk, t = rows[r["case"]["name"]], r["vkattn"], r["torch"]
            self.assertEqual(vk["status"], "ok")
            self.assertAlmostEqual(vk["median_s"], row["median_ms"] / 1e3, places=12)
            # the script's flops for the case equal the bench's own count (its gflop column, 6 digits)
            self.assertAlmostEqual(vk["gflops"] * vk["median_s"] / row["gflop"], 1.0, places=5)
            self.assertGreater(t["median_s"], 0)
            self.assertAlmostEqual(r["ratio"], vk["gflops"] / t["gflops"], places=9)
            self.assertIn(row["name"], p.stdout)
        skipped = result["results"][2]
        self.assertEqual(skipped["vkattn"]["status"], "skipped")
        self.assertIsNone(skipped["ratio"])
        self.assertNotIn("median_s", skipped["torch"])
        self.assertIn("vkattn/torch", p.stdout)

    def test_filter(self):
        p = self.run_script("--from-bench", self.bench, "--filter", "Lq4 ", "--threads", "1")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("decode f16 Lq4 Lk4096 H32/8 D128", p.stdout)
        self.assertNotIn("cross f16", p.stdout)
        p = self.run_script("--from-bench", self.bench, "--filter", "explicit")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no prefill, decode or cross row", p.stderr)

    def test_fake_module_fails_in_process_mode(self):
        # the guard above can fail: the in-process mode imports the module and stops on the fake one
        p = self.run_script("--filter", "decode f16 Lq1 Lk1024 H32/8 D64")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("compare_torch imported vkattn", p.stderr)

    def test_refuses_other_files(self):
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            json.dump({"rows": []}, f)
        p = self.run_script("--from-bench", bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is not a `vkattn bench --json` file", p.stderr)
        p = self.run_script("--from-bench", self.path("missing.json"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot read", p.stderr)


if __name__ == "__main__":
    unittest.main()
