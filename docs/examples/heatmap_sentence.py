#!/usr/bin/env python3
"""Synthetic attention inputs for the sentence in sentence_tokens.txt, for the `vkattn heatmap` example
(docs/heatmap.md). No language model is involved: the keys are random orthonormal vectors, one per token,
and each query is built by hand as a weighted sum of the keys of the tokens it should attend to (plus a
little noise), so that q·k reproduces a chosen score pattern. Four heads, each a familiar pattern:

  head 0  "coreference": "it" -> "cat", "sat" -> "cat", "tired" -> "it" / "cat", ...
  head 1  previous token
  head 2  the token itself (and the other "the" for "the")
  head 3  the sentence's first word (an "attention sink")

Writes q.npy, k.npy and v.npy ([1, 4, 10, 16] float32) into the directory given (default: the current one).
Run `vkattn heatmap` on them with --scale 1: the scores are then exactly q·k.
Usage: heatmap_sentence.py [OUT_DIR]"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS = open(os.path.join(HERE, "sentence_tokens.txt")).read().split("\n")[:-1]
L, H, D = len(TOKENS), 4, 16


def at(word, nth=0):
    """Position of the nth occurrence of a word."""
    return [i for i, t in enumerate(TOKENS) if t == word][nth]


def coreference():
    """Per query token: {key position: score}."""
    cat, it, the0, the1 = at("cat"), at("it"), at("the", 0), at("the", 1)
    return {
        the0: {cat: 2.0, the0: 1.0},
        cat: {cat: 1.5, at("sat"): 1.0},
        at("sat"): {cat: 2.5, at("on"): 1.0},
        at("on"): {at("mat"): 2.0, at("sat"): 1.0},
        the1: {at("mat"): 2.0, the1: 0.5},
        at("mat"): {at("on"): 1.5, at("mat"): 1.0},
        at("because"): {at("sat"): 1.5, at("was"): 1.0},
        it: {cat: 4.0, it: 0.5},
        at("was"): {it: 2.0, at("tired"): 1.0},
        at("tired"): {it: 2.5, cat: 2.0},
    }


def previous_token():
    return {i: {max(i - 1, 0): 3.0} for i in range(L)}


def itself():
    pattern = {i: {i: 3.0} for i in range(L)}
    for i in (at("the", 0), at("the", 1)):
        pattern[i] = {at("the", 0): 2.5, at("the", 1): 2.5}
    return pattern


def first_word():
    return {i: {0: 2.5, i: 1.0} for i in range(L)}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(2024)
    q = np.zeros((1, H, L, D))
    k = np.zeros((1, H, L, D))
    for h, pattern in enumerate((coreference(), previous_token(), itself(), first_word())):
        keys = np.linalg.qr(rng.standard_normal((D, D)))[0][:L]  # L orthonormal rows: q·k_j picks out one key
        k[0, h] = keys
        for i in range(L):
            q[0, h, i] = sum(score * keys[j] for j, score in pattern[i].items()) + 0.15 * rng.standard_normal(D)
    v = rng.standard_normal((1, H, L, D))
    for name, x in (("q", q), ("k", k), ("v", v)):
        np.save(os.path.join(out_dir, f"{name}.npy"), x.astype(np.float32))
    print(f"wrote q.npy, k.npy, v.npy ([1, {H}, {L}, {D}] float32) to {out_dir}")


if __name__ == "__main__":
    main()
