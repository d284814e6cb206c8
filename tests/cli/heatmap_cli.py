#!/usr/bin/env python3
"""`vkattn heatmap` end to end: .npy inputs written by numpy go in; the PNG that comes out is decoded here
(a small PNG reader on zlib) and, in every pixel row of each heatmap panel, the brightest pixel must be in the
column of that row's largest weight (numpy's float64 reference) for a single head, the grid of heads and the
mean over heads. Also checks the image size, the --npy weights, downsampling, token labels, the random demo,
SVG output with accented (UTF-8) token labels whose glyphs must all be in the SVG, and that bad arguments
give one clear line on stderr and exit status 2.
Usage: heatmap_cli.py <path to vkattn>"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections import Counter

import numpy as np

VKATTN = sys.argv[1]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read_png(path):
    """8-bit RGB or RGBA, non-interlaced PNG -> (height, width, 3) uint8 array."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:  # sub: a running sum along each channel
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(stride) & 255
        elif f == 2:  # up
            cur = (line + prev) & 255
        elif f in (3, 4):  # average, Paeth: depend on the reconstructed left neighbour, byte by byte
            x, b, c = line.tolist(), prev.tolist(), [0] * bpp + prev.tolist()[:-bpp]
            r = [0] * stride
            for i in range(stride):
                a = r[i - bpp] if i >= bpp else 0
                if f == 3:
                    pred = (a + b[i]) >> 1
                else:
                    pp = a + b[i] - c[i]
                    pa, pb, pc = abs(pp - a), abs(pp - b[i]), abs(pp - c[i])
                    pred = a if pa <= pb and pa <= pc else (b[i] if pb <= pc else c[i])
                r[i] = (x[i] + pred) & 255
            cur = np.array(r, dtype=np.int32)
        else:
            raise ValueError(f"{path}: bad filter {f}")
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3].astype(np.uint8)


def reference_weights(q, k, causal="none"):
    """float64 softmax(q k^T / sqrt(D)) on [B, H, L, D] arrays (Hq == Hkv here)."""
    q, k = q.astype(np.float64), k.astype(np.float64)
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(q.shape[-1])
    if causal == "top-left":
        i, j = np.arange(q.shape[2])[:, None], np.arange(k.shape[2])[None, :]
        s = np.where(j <= i, s, -np.inf)
    s -= s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def heatmap(args):
    return subprocess.run([VKATTN, "heatmap"] + args, capture_output=True, text=True)


def panels_of(stderr):
    return [tuple(int(v) for v in m) for m in
            re.findall(r"panel \d+: x (\d+) y (\d+) cell (\d+) rows (\d+) cols (\d+)", stderr)]


def check_brightest(name, img, panel, matrix):
    """Every pixel row of the panel: the first brightest pixel lies in the row's largest weight's column."""
    x0, y0, cell, rows, cols = panel
    if (rows, cols) != matrix.shape:
        fail(f"{name}: panel has {rows} x {cols} cells, weights {matrix.shape}")
        return
    area = img[y0:y0 + rows * cell, x0:x0 + cols * cell].astype(np.float64)
    lum = area @ np.array([0.2126, 0.7152, 0.0722])
    got = lum.argmax(axis=1) // cell                      # per pixel row
    want = np.repeat(matrix.argmax(axis=1), cell)
    bad = np.nonzero(got != want)[0]
    if len(bad):
        fail(f"{name}: {len(bad)} of {len(got)} pixel rows brightest in the wrong column (first: pixel row {bad[0]}, "
             f"column {got[bad[0]]} instead of {want[bad[0]]})")
    else:
        print(f"{name}: brightest pixel in the largest weight's column in all {len(got)} pixel rows")


def run_ok(name, args):
    p = heatmap(args + ["--verbose"])
    if p.returncode != 0:
        fail(f"{name}: vkattn heatmap {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return None
    return p


def check_image(name, p, png):
    img = read_png(png)
    m = re.search(r"\((\d+) x (\d+) px", p.stdout)
    if not m or (int(m.group(2)), int(m.group(1))) != img.shape[:2]:
        fail(f"{name}: the PNG is {img.shape[1]} x {img.shape[0]}, the tool reported {p.stdout.strip()!r}")
    return img


SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def svg_glyphs(path):
    """The glyphs an SVG written by cairo draws: a Counter of glyph outlines (the path data of each
    <symbol id="glyphF-N"> that a <use> places), one entry per glyph drawn."""
    root = ET.parse(path).getroot()
    outlines = {}
    for sym in root.iter(SVG_NS + "symbol"):
        if sym.get("id", "").startswith("glyph"):
            outlines[sym.get("id")] = " ".join(p.get("d", "").strip() for p in sym.iter(SVG_NS + "path"))
    used = Counter()
    for use in root.iter(SVG_NS + "use"):
        ref = use.get(XLINK_HREF, "").lstrip("#")
        if ref in outlines:
            used[outlines[ref]] += 1
    return used


def contours(outline):
    """The closed contours ("M ... Z") of a glyph outline."""
    return [("M" + c).strip() for c in outline.split("M")[1:] if "Z" in c]


def top_of(contour):
    """The smallest y (the highest point on screen) of a contour's coordinates."""
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", contour)]
    return min(nums[1::2])


def check_svg_accents(d, path):
    """`vkattn heatmap --out x.svg` with accented labels: a valid SVG of the reported size, whose glyphs are
    those of the labels. The same weights are drawn with the query token "économie" and with "economie";
    the two SVGs must draw the same number of glyphs and differ by exactly one: where one draws "e" the
    other draws a glyph made of that "e"'s contours plus at least one more above them (the accent). A label
    dropped, cut, or drawn with "?", U+FFFD or the font's missing-glyph box fails this."""
    w = np.array([[0.70, 0.20, 0.10], [0.15, 0.15, 0.70], [0.10, 0.75, 0.15]], dtype=np.float32)
    np.save(path("fr.npy"), w)
    open(path("en.txt"), "w", encoding="utf-8").write("the\nEuropean\neconomy\n")
    docs = {}
    for name, first in (("accent", "économie"), ("plain", "economie")):
        open(path(f"fr_{name}.txt"), "w", encoding="utf-8").write(f"l'\n{first}\neuropéenne\n")
        p = run_ok(f"svg {name}", ["--weights-npy", path("fr.npy"), "--query-tokens", path(f"fr_{name}.txt"),
                                   "--key-tokens", path("en.txt"), "--title", "English → French: l’économie",
                                   "--out", path(f"fr_{name}.svg")])
        if not p:
            return
        raw = open(path(f"fr_{name}.svg"), "rb").read()
        if not raw.startswith(b"<?xml") or b"<svg" not in raw:
            fail(f"svg {name}: not an SVG document: {raw[:80]!r}")
            return
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            fail(f"svg {name}: not well-formed XML: {e}")
            return
        m = re.search(r"\((\d+) x (\d+) px", p.stdout)
        size = (root.get("width"), root.get("height"))
        if root.tag != SVG_NS + "svg" or not m or size != (m.group(1) + "px", m.group(2) + "px"):
            fail(f"svg {name}: root {root.tag} of size {size}, the tool reported {p.stdout.strip()!r}")
            return
        docs[name] = svg_glyphs(path(f"fr_{name}.svg"))
    a, b = docs["accent"], docs["plain"]
    only_a, only_b = list((a - b).elements()), list((b - a).elements())
    if sum(a.values()) != sum(b.values()) or len(only_a) != 1 or len(only_b) != 1:
        fail(f"svg: {sum(a.values())} glyphs with \"économie\", {sum(b.values())} with \"economie\"; "
             f"{len(only_a)} and {len(only_b)} differ (want equal counts, one glyph each)")
        return
    accent, e = contours(only_a[0]), contours(only_b[0])
    extra = [c for c in accent if c not in e]
    if not e or any(c not in accent for c in e) or not extra or not all(top_of(c) < min(map(top_of, e)) for c in extra):
        fail(f"svg: the glyph drawn for \"é\" is not the \"e\" plus an accent above it ({len(accent)} contours, "
             f"{len(e)} of \"e\", {len(extra)} more)")
        return
    print(f"svg: valid {size[0]} x {size[1]} SVG; {sum(a.values())} glyphs drawn, \"é\" drawn as the \"e\" "
          f"({len(e)} contours) plus {len(extra)} accent contour(s) above it")


def clear_maxima(w):
    """The largest weight of each row beats the second largest by 0.02 (unambiguous after 8-bit colours)."""
    s = np.sort(w, axis=-1)
    return bool(np.all(s[..., -1] - s[..., -2] > 0.02))


def main():
    d = tempfile.mkdtemp(prefix="vkattn-heatmap-")
    path = lambda n: os.path.join(d, n)
    B, H, Lq, Lk, D = 2, 3, 9, 14, 16
    # Each query is a multiple of one key plus noise: clear row maxima. In row i two heads aim at key a and
    # head i % 3 at another key b, so each head has its own pattern and the mean's maximum (a) is not the
    # odd head's. Seeds are tried in order until every row of every head and of the mean has a clear maximum.
    for seed in range(100):
        rng = np.random.default_rng(seed)
        k = rng.standard_normal((B, H, Lk, D)).astype(np.float32)
        a = rng.integers(0, Lk, size=(B, 1, Lq))
        b = (a + rng.integers(1, Lk, size=(B, 1, Lq))) % Lk
        target = np.where(np.arange(Lq)[None, None, :] % H == np.arange(H)[None, :, None], b, a)
        strength = rng.uniform(0.6, 2.0, size=(B, H, Lq, 1))
        q = (strength * np.take_along_axis(k, target[..., None].repeat(D, -1), axis=2) +
             0.3 * rng.standard_normal((B, H, Lq, D))).astype(np.float32)
        v = rng.standard_normal((B, H, Lk, D)).astype(np.float32)
        w = reference_weights(q, k)
        if clear_maxima(w) and clear_maxima(w.mean(axis=1)):
            break
    else:
        fail("no seed gives clear row maxima")
        return 1
    print(f"inputs: seed {seed}, B {B} H {H} Lq {Lq} Lk {Lk} D {D}")
    for n, x in (("q", q), ("k", k), ("v", v)):
        np.save(path(f"{n}.npy"), x)
    files = ["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy"), "--max-cells", "0"]

    # One head, with the raw weights.
    p = run_ok("single", files + ["--batch", "1", "--head", "2", "--out", path("single.png"), "--npy", path("w.npy")])
    if p:
        img = check_image("single", p, path("single.png"))
        panels = panels_of(p.stderr)
        if len(panels) != 1:
            fail(f"single: {len(panels)} panels reported")
        else:
            check_brightest("single (batch 1, head 2)", img, panels[0], w[1, 2])
        got = np.load(path("w.npy"))
        err = np.abs(got.astype(np.float64) - w).max() if got.shape == w.shape else np.inf
        print(f"--npy weights: shape {got.shape} {got.dtype}, max abs err {err:.2e}")
        if got.shape != w.shape or got.dtype != np.float32 or not err < 1e-5:
            fail(f"--npy: shape {got.shape} {got.dtype}, max abs err {err} (want {w.shape} float32, < 1e-5)")

    # Every head in a grid (3 heads: 2 columns, 2 rows).
    p = run_ok("grid", files + ["--batch", "0", "--grid", "--out", path("grid.png")])
    if p:
        img = check_image("grid", p, path("grid.png"))
        panels = panels_of(p.stderr)
        if len(panels) != H:
            fail(f"grid: {len(panels)} panels reported, want {H}")
        else:
            for h in range(H):
                check_brightest(f"grid (batch 0, head {h})", img, panels[h], w[0, h])

    # Weights another command wrote (--weights-npy) draw exactly as the same weights computed here.
    titled = ["--batch", "1", "--head", "2", "--title", "same title"]
    p1 = run_ok("computed, titled", files + titled + ["--out", path("computed.png")])
    p2 = run_ok("--weights-npy", ["--weights-npy", path("w.npy"), "--max-cells", "0"] + titled + ["--out", path("from_npy.png")])
    if p1 and p2:
        a, b = read_png(path("computed.png")), read_png(path("from_npy.png"))
        if a.shape != b.shape or not np.array_equal(a, b):
            fail(f"--weights-npy: the PNG differs from the computed one ({a.shape} vs {b.shape})")
        else:
            print(f"--weights-npy: same {a.shape[1]} x {a.shape[0]} picture as the computed weights")
    np.save(path("avg.npy"), w.mean(axis=1).astype(np.float32))  # [B, Lq, Lk]: a layer's head average, one panel
    p = run_ok("--weights-npy [B, Lq, Lk]", ["--weights-npy", path("avg.npy"), "--batch", "1", "--out", path("avg.png")])
    if p:
        check_image("--weights-npy [B, Lq, Lk]", p, path("avg.png"))

    # The mean over heads.
    p = run_ok("mean", files + ["--batch", "1", "--mean", "--out", path("mean.png")])
    if p:
        img = check_image("mean", p, path("mean.png"))
        panels = panels_of(p.stderr)
        if len(panels) != 1:
            fail(f"mean: {len(panels)} panels reported")
        else:
            check_brightest("mean (batch 1)", img, panels[0], w[1].mean(axis=0))

    # [B, L, H, D] files, causal, token labels, downsampled to at most 5 cells per axis.
    for n, x in (("q", q), ("k", k), ("v", v)):
        np.save(path(f"{n}_blhd.npy"), np.ascontiguousarray(x.transpose(0, 2, 1, 3)))
    open(path("q.txt"), "w").write("".join(f"q{i}\n" for i in range(Lq)))
    open(path("k.txt"), "w").write("".join(f"key{j}\n" for j in range(Lk)))
    p = run_ok("pooled", ["--q", path("q_blhd.npy"), "--k", path("k_blhd.npy"), "--layout", "blhd", "--causal", "top-left",
                          "--query-tokens", path("q.txt"), "--key-tokens", path("k.txt"), "--max-cells", "5",
                          "--title", "pooled", "--out", path("pooled.png"), "--npy", path("wc.npy")])
    if p:
        check_image("pooled", p, path("pooled.png"))
        panels = panels_of(p.stderr)
        if len(panels) != 1 or panels[0][3:] != (5, 5):
            fail(f"pooled: want one panel of 5 x 5 cells, got {p.stderr.strip()}")
        got, want = np.load(path("wc.npy")), reference_weights(q, k, causal="top-left")
        if got.shape != want.shape or not np.abs(got - want).max() < 1e-5:
            fail("pooled: the causal weights written by --npy differ from numpy's")
        else:
            print("pooled: 5 x 5 cells; causal blhd weights match numpy")

    # The random demo.
    p = run_ok("random", ["--random", "6", "--heads", "2", "--grid", "--out", path("random.png")])
    if p:
        check_image("random", p, path("random.png"))
        if len(panels_of(p.stderr)) != 2:
            fail(f"random: want 2 panels, got {p.stderr.strip()}")

    # SVG output, labels in French.
    check_svg_accents(d, path)

    # Bad arguments: exit status 2 and one line naming the problem.
    open(path("q8.txt"), "w").write("".join(f"q{i}\n" for i in range(8)))
    base = ["--q", path("q.npy"), "--k", path("k.npy"), "--out", path("bad.png")]
    bad = [
        (base + ["--query-tokens", path("q8.txt")],
         "--query-tokens: 8 tokens (lines), but the weights have Lq = 9; give one token per line"),
        (base + ["--key-tokens", path("q.txt")],
         "--key-tokens: 9 tokens (lines), but the weights have Lk = 14; give one token per line"),
        (base + ["--head", "3"], "--head: 3 is out of range; the weights have H = 3 (valid: 0..2)"),
        (base + ["--batch", "2"], "--batch: 2 is out of range; the weights have B = 2 (valid: 0..1)"),
        (["--q", path("missing.npy"), "--k", path("k.npy"), "--out", path("bad.png")], "--q: " + path("missing.npy")),
        (base + ["--key-tokens", path("missing.txt")], f"--key-tokens: cannot open '{path('missing.txt')}'"),
        (base + ["--grid", "--mean"], "--grid excludes --mean"),
        (base + ["--max-cells", "-1"], "--max-cells"),
        (["--k", path("k.npy"), "--out", path("bad.png")], "--q: required"),
        (["--random", "8", "--q", path("q.npy"), "--out", path("bad.png")], "--random: makes its own q, k and v"),
        (base + ["--heads", "2"], "--heads: only for --random L"),
        (["--weights-npy", path("w.npy"), "--q", path("q.npy"), "--out", path("bad.png")],
         "--weights-npy: draws weights from a file; do not combine it with --random, --q, --k, --v or --mask"),
        (["--weights-npy", path("missing.npy"), "--out", path("bad.png")], "--weights-npy: " + path("missing.npy")),
        (["--weights-npy", path("vec.npy"), "--out", path("bad.png")], "--weights-npy: " + path("vec.npy") + " has shape [5]"),
        (["--q", path("q.npy"), "--k", path("k.npy"), "--out", os.path.join(d, "no", "dir", "x.png")],
         "--out: cannot write '" + os.path.join(d, "no", "dir", "x.png") + "': No such file or directory"),
        (["--weights-npy", path("w.npy"), "--out", path("x.jpg")],
         f"--out: '{path('x.jpg')}' has the extension .jpg; the extension chooses the format: .png or .svg"),
        (["--random", "8", "--out", path("noext")],
         f"--out: '{path('noext')}' has no extension; the extension chooses the format: .png or .svg"),
        (["--weights-npy", path("w.npy"), "--max-cells", "0", "--query-tokens", path("latin1.txt"), "--out", path("bad.png")],
         "--query-tokens: line 3 is not valid UTF-8 (byte 4 of the line); labels are drawn as UTF-8 text, save the file as UTF-8"),
    ]
    open(path("latin1.txt"), "wb").write(b"".join(b"q%d\n" % i for i in range(Lq)).replace(b"q2", b"caf\xe9"))
    np.save(path("vec.npy"), np.ones(5, dtype=np.float32))
    for args, needle in bad:
        p = heatmap(args)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if p.returncode != 2 or needle not in p.stderr or len(lines) != 1:
            fail(f"bad input {args[-2:]}: exit {p.returncode}, stderr {p.stderr!r} (wanted exit 2, one line with {needle!r})")
        else:
            print(f"bad input ok: {lines[0]}")

    if failures:
        print(f"cli heatmap: {len(failures)} failed")
        return 1
    print("cli heatmap: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
