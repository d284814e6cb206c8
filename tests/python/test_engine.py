"""The Python module beyond scaled_dot_product_attention: Context, Tensor handles, attention with every
option, KvCache, multi-head attention, additive and linear attention, each against a float64 numpy
reference written here.

Run by ctest as python_engine (PYTHONPATH=<build>/python), or by hand:
    PYTHONPATH=build/python python3 -m unittest -v tests/python/test_engine.py

Every call shares one context (the module's default) and the shapes stay few (head dim 16): each new
compute pipeline costs seconds to compile on lavapipe.
"""

import json
import math
import os
import struct
import tempfile
import unittest

import numpy as np

import vkattn

B, HQ, HKV, LQ, LK, D, DV = 2, 4, 2, 5, 11, 16, 8
F32_TOL = 1e-5
F16_TOL = 2e-3

_rng = np.random.default_rng(4321)


def randn(*shape, dtype=np.float32):
    return _rng.standard_normal(shape).astype(dtype)


def softmax_rows(scores, allowed):
    """Softmax over the last axis of the allowed entries; a row with none gives zeros and lse -inf."""
    s = np.where(allowed, scores, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    p = np.where(allowed, np.exp(s - top), 0.0)
    total = p.sum(axis=-1, keepdims=True)
    weights = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    with np.errstate(divide="ignore"):
        lse = np.where(total[..., 0] > 0, top[..., 0] + np.log(total[..., 0]), -np.inf)
    return weights, lse


def ref_attention(q, k, v, scale=None, causal="none", key_lengths=None, mask=None, window=None, alibi=None,
                  softcap=0.0, sinks=None):
    """The engine's documented semantics in float64: (out, lse, weights)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    b, hq, lq, d = q.shape
    lk = k.shape[2]
    k = np.repeat(k, hq // k.shape[1], axis=1)
    v = np.repeat(v, hq // v.shape[1], axis=1)
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    i = np.arange(lq)[:, None]
    j = np.arange(lk)[None, :]
    ip = i + lk - lq
    if alibi is not None:
        s = s - np.asarray(alibi, dtype=np.float64)[None, :, None, None] * np.abs(j - ip)
    allowed = np.ones((b, hq, lq, lk), dtype=bool)
    if causal == "top_left":
        allowed &= j <= i
    elif causal == "bottom_right":
        allowed &= j <= ip
    if key_lengths is not None:
        allowed &= j[None, None] < np.asarray(key_lengths)[:, None, None, None]
    if window is not None:
        left, right = window
        if left >= 0:
            allowed &= j >= ip - left
        if right >= 0:
            allowed &= j <= ip + right
    if mask is not None:
        if mask.dtype == np.bool_:
            allowed &= mask
        else:
            s = s + mask.astype(np.float64)
    if sinks is not None:  # one more always-visible column per row: the head's sink logit, with no value
        col = np.broadcast_to(np.asarray(sinks, np.float64)[None, :, None, None], s.shape[:-1] + (1,))
        weights, lse = softmax_rows(np.concatenate([s, col], -1),
                                    np.concatenate([allowed, np.ones(col.shape, bool)], -1))
        weights = weights[..., :-1]
    else:
        weights, lse = softmax_rows(s, allowed)
    return weights @ v, lse, weights


class EngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ctx = vkattn.default_context()
        cls.q = randn(B, HQ, LQ, D)
        cls.k = randn(B, HKV, LK, D)
        cls.v = randn(B, HKV, LK, DV)

    def assertClose(self, got, want, tol=F32_TOL):
        got = np.asarray(got, dtype=np.float64)
        self.assertEqual(got.shape, np.shape(want))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)

    # --- Context, devices, Tensor ----------------------------------------------------------------------

    def test_context_and_devices(self):
        self.assertEqual(self.ctx.device, vkattn.device())
        self.assertIn("name", self.ctx.device)
        stats = self.ctx.stats()
        for key in ("memory_allocations", "submissions", "pipelines", "uploads", "downloads", "device_memory_in_use"):
            self.assertIn(key, stats)
        listed = vkattn.devices()
        self.assertGreaterEqual(len(listed), 1)
        self.assertEqual(sum(d["selected"] for d in listed), 1)
        for d in listed:
            self.assertIn("reason", d)
            self.assertIn("index", d)

    def test_tensor_round_trip(self):
        for a in (randn(3, 5), randn(2, 3, dtype=np.float16), np.arange(7, dtype=np.int32),
                  np.array([True, False, True])):
            t = self.ctx.tensor(a)
            self.assertIsInstance(t, vkattn.Tensor)
            self.assertEqual(t.shape, a.shape)
            want = a.astype(np.uint8) if a.dtype == np.bool_ else a
            self.assertEqual(t.dtype, want.dtype)
            np.testing.assert_array_equal(t.numpy(), want)
        t = self.ctx.tensor(np.arange(4, dtype=np.float64), dtype="f16")
        self.assertEqual(t.dtype, np.float16)
        np.testing.assert_array_equal(t.numpy(), np.arange(4, dtype=np.float16))
        with self.assertRaisesRegex(TypeError, "^array: dtype float64"):
            self.ctx.tensor(np.zeros(3))
        with self.assertRaisesRegex(ValueError, "^dtype: 'x'"):
            self.ctx.tensor(np.zeros(3), dtype="x")

    def test_handles_keep_data_on_the_device(self):
        tq, tk, tv = (self.ctx.tensor(x) for x in (self.q, self.k, self.v))
        first = vkattn.attention(tq, tk, tv)
        self.assertIsInstance(first, vkattn.Tensor)
        before = self.ctx.stats()
        for _ in range(2):
            out = vkattn.attention(tq, tk, tv)
        after = self.ctx.stats()
        self.assertEqual(after["uploads"], before["uploads"])
        self.assertEqual(after["upload_bytes"], before["upload_bytes"])
        self.assertEqual(after["downloads"], before["downloads"])
        self.assertEqual(after["pipelines"], before["pipelines"])
        self.assertClose(out.numpy(), ref_attention(self.q, self.k, self.v)[0])
        self.assertEqual(self.ctx.stats()["downloads"], after["downloads"] + 1)
        # numpy in: three uploads and one download per call.
        before = self.ctx.stats()
        vkattn.attention(self.q, self.k, self.v)
        after = self.ctx.stats()
        self.assertEqual(after["uploads"] - before["uploads"], 3)
        self.assertEqual(after["downloads"] - before["downloads"], 1)

    def test_tensor_of_another_context(self):
        other = vkattn.Context(device="cpu")
        self.assertEqual(other.device["type"], "cpu")
        foreign = other.tensor(self.k)
        with self.assertRaisesRegex(ValueError, "^k: a Tensor of another Context"):
            vkattn.attention(self.ctx.tensor(self.q), foreign, self.ctx.tensor(self.v))

    # --- attention -------------------------------------------------------------------------------------

    def test_attention_options(self):
        lengths = [9, 4]
        bool_mask = _rng.random((LQ, LK)) > 0.3
        float_mask = np.where(_rng.random((B, 1, LQ, LK)) > 0.3, 0.5, -np.inf).astype(np.float32)
        slopes = vkattn.alibi_slopes(HQ)
        # Every option is in at least one case; options that select a pipeline of their own (window,
        # ALiBi, softcap: specialisation constants) share cases, so that the test compiles few
        # pipelines on lavapipe. The combined case fails if any one of them is dropped on the way in.
        cases = [
            dict(),
            dict(scale=0.3, causal="top_left"),
            dict(causal="bottom_right", key_lengths=lengths),
            dict(key_lengths=lengths),
            dict(mask=bool_mask),
            dict(mask=float_mask),
            dict(window=(2, 0), causal="bottom_right"),
            dict(softcap=2.0, alibi_slopes=slopes, window=(4, -1), key_lengths=lengths),
            dict(sinks=np.linspace(-1.0, 2.0, HQ), key_lengths=[0, 4], causal="bottom_right"),
        ]
        for opts in cases:
            with self.subTest(**{k: (v if not isinstance(v, np.ndarray) else v.dtype.name) for k, v in opts.items()}):
                ref_opts = dict(opts)
                if "alibi_slopes" in ref_opts:
                    ref_opts["alibi"] = ref_opts.pop("alibi_slopes")
                want, want_lse, _ = ref_attention(self.q, self.k, self.v, **ref_opts)
                got = vkattn.attention(self.q, self.k, self.v, return_lse=True, **opts)
                self.assertIsInstance(got, vkattn.AttentionResult)
                self.assertIsNone(got.weights)
                self.assertClose(got.out, want)
                self.assertClose(got.lse, want_lse)

    def test_attention_weights_and_paths(self):
        want, want_lse, want_w = ref_attention(self.q, self.k, self.v, causal="bottom_right", key_lengths=[11, 3])
        got = vkattn.attention(self.q, self.k, self.v, causal="bottom_right", key_lengths=[11, 3],
                               return_weights=True, return_lse=True, path="explicit")
        self.assertClose(got.out, want)
        self.assertClose(got.lse, want_lse)
        self.assertClose(got.weights, want_w)
        fused = vkattn.attention(self.q, self.k, self.v, causal="bottom_right", key_lengths=[11, 3], path="fused")
        self.assertIsInstance(fused, np.ndarray)
        self.assertClose(fused, want)

    def test_attention_f16_handles(self):
        q16, k16, v16 = (x.astype(np.float16) for x in (self.q, self.k, self.v))
        out = vkattn.attention(self.ctx.tensor(q16), self.ctx.tensor(k16), self.ctx.tensor(v16), causal="top_left")
        self.assertIsInstance(out, vkattn.Tensor)
        self.assertEqual(out.dtype, np.float16)
        self.assertEqual(out.shape, (B, HQ, LQ, DV))
        self.assertClose(out.numpy(), ref_attention(q16, k16, v16, causal="top_left")[0], F16_TOL)
        out32 = vkattn.attention(q16, k16, v16, causal="top_left", out_dtype="f32")
        self.assertEqual(out32.dtype, np.float32)

    def test_attention_errors_name_the_argument(self):
        q, k, v = self.q, self.k, self.v
        with self.assertRaisesRegex(ValueError, "^causal: 'left'"):
            vkattn.attention(q, k, v, causal="left")
        with self.assertRaisesRegex(TypeError, "^causal: True"):
            vkattn.attention(q, k, v, causal=True)
        with self.assertRaisesRegex(ValueError, "^path: 'slow'"):
            vkattn.attention(q, k, v, path="slow")
        with self.assertRaisesRegex(TypeError, "^window: 3"):
            vkattn.attention(q, k, v, window=3)
        with self.assertRaisesRegex(TypeError, "^q: dtype int32"):
            vkattn.attention(q.astype(np.int32), k, v)
        with self.assertRaisesRegex(ValueError, "^out_dtype: 'i32'"):
            vkattn.attention(q, k, v, out_dtype="i32")
        with self.assertRaisesRegex(TypeError, "^key_lengths: expected a 1-D sequence of ints"):
            vkattn.attention(q, k, v, key_lengths=[1.5, 2.0])
        with self.assertRaisesRegex(TypeError, "^ctx: "):
            vkattn.attention(q, k, v, ctx="cpu")
        with self.assertRaisesRegex(ValueError, "key_lengths"):
            vkattn.attention(q, k, v, key_lengths=[1])           # the engine's check: size must be B
        with self.assertRaisesRegex(ValueError, "alibi_slopes"):
            vkattn.attention(q, k, v, alibi_slopes=[0.5])         # Hq values needed
        with self.assertRaisesRegex(ValueError, "^sinks: has 1 values"):
            vkattn.attention(q, k, v, sinks=[0.5])
        with self.assertRaisesRegex(ValueError, "^sinks: shape"):
            vkattn.attention(q, k, v, sinks=np.zeros((2, 2)))

    # --- KvCache ---------------------------------------------------------------------------------------

    def test_kv_cache_decode(self):
        cache = vkattn.KvCache(B, HKV, 16, D, DV, dtype="f32")
        self.assertEqual(cache.lengths, [0, 0])
        keys, values = randn(B, HKV, 8, D), randn(B, HKV, 8, DV)
        queries = randn(B, HQ, 8, D)
        cache.append(keys[:, :, :6], values[:, :, :6])               # prefill 6 tokens
        out = cache.attend(queries[:, :, :6])
        self.assertClose(out, ref_attention(queries[:, :, :6], keys[:, :, :6], values[:, :, :6],
                                            causal="bottom_right")[0])
        for n in (6, 7):                                              # two decode steps, one token each
            cache.append(cache.context.tensor(keys[:, :, n:n + 1]), values[:, :, n:n + 1])
            self.assertEqual(cache.lengths, [n + 1, n + 1])
            got = cache.attend(queries[:, :, n:n + 1], return_lse=True)
            want, want_lse, _ = ref_attention(queries[:, :, n:n + 1], keys[:, :, :n + 1], values[:, :, :n + 1],
                                              causal="bottom_right")
            self.assertClose(got.out, want)
            self.assertClose(got.lse, want_lse)
        cache.clear()
        self.assertEqual(cache.lengths, [0, 0])
        # Uneven appends: batch 1 takes 2 of the 3 rows.
        cache.append(keys[:, :, :3], values[:, :, :3], counts=[3, 2])
        self.assertEqual(cache.lengths, [3, 2])
        got = cache.attend(queries[:, :, :1])
        for b, n in enumerate((3, 2)):
            want = ref_attention(queries[b:b + 1, :, :1], keys[b:b + 1, :, :n], values[b:b + 1, :, :n],
                                 causal="bottom_right")[0]
            self.assertClose(got[b:b + 1], want)

    def test_kv_cache_errors(self):
        with self.assertRaisesRegex(ValueError, "^dtype: 'i32'"):
            vkattn.KvCache(1, 1, 4, D, dtype="i32")
        cache = vkattn.KvCache(1, 1, 4, D, dtype="f32")
        with self.assertRaisesRegex(TypeError, "^k_new: dtype float16"):
            cache.append(randn(1, 1, 1, D, dtype=np.float16), randn(1, 1, 1, D, dtype=np.float16))
        with self.assertRaisesRegex(ValueError, "^causal: 'top_left'"):
            cache.attend(randn(1, 1, 1, D), causal="top_left")
        with self.assertRaisesRegex(ValueError, "capacity"):
            vkattn.KvCache(1, 1, 0, D, dtype="f32")

    # --- packed sequences and the paged cache ------------------------------------------------------------

    def test_attention_varlen_and_paged_cache(self):
        q_len, k_len = [3, 0, 5], [4, 2, 5]
        cu_q, cu_k = np.cumsum([0] + q_len).astype(np.int32), np.cumsum([0] + k_len).astype(np.int32)
        q, k, v = randn(cu_q[-1], HQ, D), randn(cu_k[-1], HKV, D), randn(cu_k[-1], HKV, DV)
        got = vkattn.attention_varlen(q, k, v, cu_q, cu_k, causal="bottom_right", return_lse=True)
        self.assertEqual(got.out.shape, (cu_q[-1], HQ, DV))
        self.assertEqual(got.lse.shape, (HQ, cu_q[-1]))
        for s in range(3):
            if q_len[s] == 0:
                continue
            qs = q[cu_q[s]:cu_q[s + 1]].transpose(1, 0, 2)[None]
            ks, vs = (x[cu_k[s]:cu_k[s + 1]].transpose(1, 0, 2)[None] for x in (k, v))
            want, want_lse, _ = ref_attention(qs, ks, vs, causal="bottom_right")
            self.assertClose(got.out[cu_q[s]:cu_q[s + 1]], want[0].transpose(1, 0, 2))
            self.assertClose(got.lse[:, cu_q[s]:cu_q[s + 1]], want_lse[0])
        with self.assertRaisesRegex(ValueError, "cu_seqlens_q\\[0\\]: must be 0"):
            vkattn.attention_varlen(q, k, v, [1, 8], [0, 11])
        # The paged cache: a sequence, a fork of it (shared pages), one decode step of both.
        cache = vkattn.PagedKvCache(8, 4, HKV, D, DV, dtype="f32")
        a = cache.add_sequence()
        cache.append([a], k[:6], v[:6], [0, 6])
        b = cache.fork(a)
        self.assertEqual(cache.stats()["pages_shared"], 2)
        cache.append([b, a], k[6:9], v[6:9], [0, 1, 3])
        qd = randn(2, HQ, D)
        got = cache.attend(qd, [a, b], [0, 1, 2])
        for row, rows in enumerate((list(range(6)) + [7, 8], list(range(7)))):
            want = ref_attention(qd[row][None, :, None], k[rows].transpose(1, 0, 2)[None], v[rows].transpose(1, 0, 2)[None])[0]
            self.assertClose(got[row], want[0, :, 0])
        cache.free(b)
        with self.assertRaisesRegex(ValueError, "sequences\\[1\\]: sequence 1 was freed"):
            cache.attend(qd, [a, b], [0, 1, 2])

    # --- multi-head attention --------------------------------------------------------------------------

    @staticmethod
    def mha_state(e=32, heads=2):
        return {"in_proj_weight": randn(3 * e, e) * 0.2, "in_proj_bias": randn(3 * e) * 0.1,
                "out_proj.weight": randn(e, e) * 0.2, "out_proj.bias": randn(e) * 0.1}

    @staticmethod
    def ref_mha(state, heads, xq, xk, xv, causal="none"):
        """nn.MultiheadAttention's forward (batch_first) in float64: (out, head-averaged weights)."""
        w = {n: a.astype(np.float64) for n, a in state.items()}
        e = w["out_proj.weight"].shape[0]
        d = e // heads
        wq, wk, wv = np.split(w["in_proj_weight"], 3)
        bq, bk, bv = np.split(w["in_proj_bias"], 3)

        def split(x, wt, bias):
            y = x.astype(np.float64) @ wt.T + bias
            return y.reshape(y.shape[0], y.shape[1], heads, d).transpose(0, 2, 1, 3)

        out, _, weights = ref_attention(split(xq, wq, bq), split(xk, wk, bk), split(xv, wv, bv), causal=causal)
        b, _, lq, _ = out.shape
        concat = out.transpose(0, 2, 1, 3).reshape(b, lq, e)
        return concat @ w["out_proj.weight"].T + w["out_proj.bias"], weights.mean(axis=1)

    def test_mha_from_dict_and_file(self):
        state = self.mha_state()
        weights = vkattn.load_mha_weights(state, heads=2)
        self.assertEqual((weights.embed_dim, weights.heads, weights.head_dim, weights.packed), (32, 2, 16, True))
        x = randn(B, LQ, 32)
        mem = randn(B, LK, 32)
        out, w = vkattn.multi_head_attention(weights, x, need_weights=True, causal="top_left")
        want, want_w = self.ref_mha(state, 2, x, x, x, causal="top_left")
        self.assertClose(out, want)
        self.assertClose(w, want_w)
        cross = vkattn.multi_head_attention(weights, x, mem, mem)
        self.assertClose(cross, self.ref_mha(state, 2, x, mem, mem)[0])
        # The same weights from a .safetensors file, under a prefix.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mha.safetensors")
            write_safetensors(path, {"layer." + n: a for n, a in state.items()})
            from_file = vkattn.load_mha_weights(path, heads=2, prefix="layer.")
            self.assertClose(vkattn.multi_head_attention(from_file, x, mem, mem), self.ref_mha(state, 2, x, mem, mem)[0])

    def test_mha_separate_projections(self):
        e = 32
        state = {"q_proj_weight": randn(e, e) * 0.2, "k_proj_weight": randn(e // 2, e) * 0.2,
                 "v_proj_weight": randn(e // 2, e) * 0.2, "out_proj.weight": randn(e, e) * 0.2}
        weights = vkattn.load_mha_weights(state, heads=2, kv_heads=1)
        self.assertFalse(weights.packed)
        x = randn(B, LQ, e)
        wq, wk, wv, wo = (state[n].astype(np.float64) for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                                "out_proj.weight"))
        heads = lambda y, h: y.reshape(B, LQ, h, 16).transpose(0, 2, 1, 3)  # noqa: E731
        o, _, _ = ref_attention(heads(x @ wq.T, 2), heads(x @ wk.T, 1), heads(x @ wv.T, 1))
        want = o.transpose(0, 2, 1, 3).reshape(B, LQ, e) @ wo.T
        self.assertClose(vkattn.multi_head_attention(weights, x), want)

    def test_mha_errors_name_the_tensor(self):
        state = self.mha_state()
        with self.assertRaisesRegex(ValueError, "^kv_heads: 3 must be >= 1 and divide heads = 2"):
            vkattn.load_mha_weights(state, heads=2, kv_heads=3)
        with self.assertRaisesRegex(ValueError, "'out_proj.weight'"):
            vkattn.load_mha_weights({n: a for n, a in state.items() if n != "out_proj.weight"}, heads=2)
        bad = dict(state, **{"in_proj_bias": randn(5)})
        with self.assertRaisesRegex(ValueError, "'in_proj_bias' must be \\[96\\]"):
            vkattn.load_mha_weights(bad, heads=2)
        with self.assertRaisesRegex(ValueError, "rows, not a multiple of heads \\+ 2 kv_heads = 9"):
            vkattn.load_mha_weights(state, heads=3)
        with self.assertRaisesRegex(TypeError, "^weights: "):
            vkattn.multi_head_attention(state, randn(1, 2, 32))
        weights = vkattn.load_mha_weights(state, heads=2)
        with self.assertRaisesRegex(ValueError, "x_q"):
            vkattn.multi_head_attention(weights, randn(1, 2, 8))

    # --- additive and linear attention -----------------------------------------------------------------

    def test_additive(self):
        a = 16
        q, k, v = randn(1, 2, LQ, 8), randn(1, 2, LK, 8), randn(1, 2, LK, DV)
        w_q, w_k, v_a, bias = randn(a, 8) * 0.3, randn(a, 8) * 0.3, randn(a), randn(a) * 0.1
        proj_q = q.astype(np.float64) @ w_q.T.astype(np.float64)
        proj_k = k.astype(np.float64) @ w_k.T.astype(np.float64) + bias
        scores = np.tanh(proj_q[:, :, :, None, :] + proj_k[:, :, None, :, :]) @ v_a.astype(np.float64)
        j = np.arange(LK)[None, :]
        allowed = np.broadcast_to(j < np.array([7])[:, None, None, None], scores.shape)
        weights, lse = softmax_rows(scores, allowed)
        got = vkattn.additive_attention(q, k, v, w_q, w_k, v_a, bias, key_lengths=[7], return_weights=True,
                                        return_lse=True)
        self.assertClose(got.out, weights @ v.astype(np.float64))
        self.assertClose(got.weights, weights)
        self.assertClose(got.lse, lse)

    @staticmethod
    def ref_linear(q, k, v, causal="none", key_lengths=None, feature_map="elu_plus_one"):
        q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
        phi = (lambda x: np.where(x > 0, x + 1.0, np.exp(x))) if feature_map == "elu_plus_one" else (lambda x: x)
        lq, lk = q.shape[2], k.shape[2]
        k = np.repeat(k, q.shape[1] // k.shape[1], axis=1)
        v = np.repeat(v, q.shape[1] // v.shape[1], axis=1)
        i, j = np.arange(lq)[:, None], np.arange(lk)[None, :]
        seen = np.ones((q.shape[0], 1, lq, lk), dtype=bool)
        if causal == "top_left":
            seen &= j <= i
        elif causal == "bottom_right":
            seen &= j <= i + lk - lq
        if key_lengths is not None:
            seen &= j[None, None] < np.asarray(key_lengths)[:, None, None, None]
        a = (phi(q) @ np.swapaxes(phi(k), -1, -2)) * seen
        num = a @ v
        den = a.sum(axis=-1, keepdims=True) + 1e-6
        return np.where(seen.any(axis=-1, keepdims=True), num / den, 0.0)

    def test_linear(self):
        for opts in (dict(), dict(causal="top_left"), dict(causal="bottom_right", key_lengths=[11, 6])):
            with self.subTest(**opts):
                got = vkattn.linear_attention(self.q, self.k, self.v, **opts)
                self.assertClose(got, self.ref_linear(self.q, self.k, self.v, **opts), 1e-4)
        with self.assertRaisesRegex(ValueError, "^feature_map: 'relu'"):
            vkattn.linear_attention(self.q, self.k, self.v, feature_map="relu")

    def test_matmul(self):
        rng = np.random.default_rng(7)
        a = rng.standard_normal((2, 131, 70)).astype(np.float32)
        w = rng.standard_normal((45, 70)).astype(np.float32)
        bias = rng.standard_normal(45).astype(np.float32)
        want = a.astype(np.float64) @ w.astype(np.float64).T + bias
        self.assertClose(vkattn.matmul(a, w, bias), want, 1e-4)
        self.assertClose(vkattn.matmul(a, np.ascontiguousarray(w.T), transpose_w=False), want - bias, 1e-4)
        h = vkattn.matmul(a.astype(np.float16), w.astype(np.float16), out_dtype="f32")
        self.assertEqual(h.dtype, np.float32)
        self.assertClose(h, a.astype(np.float16).astype(np.float64) @ w.astype(np.float16).astype(np.float64).T, 2e-2)
        with self.assertRaisesRegex(ValueError, "^w: shape"):
            vkattn.matmul(a, w[:, :69])


def write_safetensors(path, tensors):
    """A .safetensors file of float32 tensors (the format: header length, JSON header, data)."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))



class HeatmapTest(unittest.TestCase):
    """vkattn.heatmap draws weights as `vkattn heatmap` does: PNG and SVG by extension, UTF-8 token labels."""

    def test_png_and_svg_with_utf8_tokens(self):
        rng = np.random.default_rng(5)
        w = rng.random((1, 2, 3, 4)).astype(np.float32)
        w /= w.sum(axis=-1, keepdims=True)
        with tempfile.TemporaryDirectory() as tmp:
            png = os.path.join(tmp, "w.png")
            self.assertEqual(vkattn.heatmap(w, png, query_tokens=["l'", "économie", "naïve"],
                                            key_tokens=["the", "economy", "–", "Straße"], head=1), png)
            with open(png, "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", head[16:24])
            self.assertGreater(width, 100)
            self.assertGreater(height, 100)
            svg = os.path.join(tmp, "w.svg")
            vkattn.heatmap(w, svg, mode="grid", title="Straße")
            with open(svg, encoding="utf-8") as f:
                self.assertIn("<svg", f.read(4096))

    def test_errors_name_the_argument(self):
        w = np.full((1, 1, 2, 3), 1 / 3, dtype=np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "w.png")
            with self.assertRaisesRegex(ValueError, "query_tokens"):
                vkattn.heatmap(w, out, query_tokens=["a"])
            with self.assertRaisesRegex(ValueError, "^mode: 'all'"):
                vkattn.heatmap(w, out, mode="all")
            with self.assertRaisesRegex(ValueError, "head"):
                vkattn.heatmap(w, out, head=4)
            with self.assertRaisesRegex(ValueError, "weights: expected \\[B, H, Lq, Lk\\]"):
                vkattn.heatmap(w[0], out)
            with self.assertRaisesRegex(TypeError, "^key_tokens"):
                vkattn.heatmap(w, out, key_tokens="abc")


class BenchTest(unittest.TestCase):
    """vkattn.bench runs `vkattn bench`'s cases: rows as dicts with the --json file's fields, checked."""

    def test_rows_are_measured_and_checked(self):
        rows = vkattn.bench("quick", filter=["decode", "explicit"], repeat=3, max_seconds_per_case=0, progress=False)
        self.assertEqual(len(rows), 2)
        self.assertTrue(any(r["kind"] == "decode" for r in rows) and any(r["kind"] == "explicit" for r in rows))
        for r in rows:
            self.assertEqual(r["status"], "ok", r["note"])
            self.assertEqual(r["check"], "pass")
            self.assertGreaterEqual(r["repeats"], 3)
            self.assertGreater(r["median_ms"], 0)
            self.assertLessEqual(r["min_ms"], r["median_ms"])
            self.assertLessEqual(r["median_ms"], r["max_ms"])
            self.assertAlmostEqual(r["gflops"], r["gflop"] / (r["median_ms"] / 1e3), delta=r["gflops"] * 1e-3)
            self.assertTrue(r["variant"])
            self.assertEqual(r["device"], vkattn.device()["name"])
        unchecked = vkattn.bench("quick", filter="decode", repeat=3, check=False, progress=False)
        self.assertEqual(unchecked[0]["check"], "off")

    def test_errors_name_the_argument(self):
        with self.assertRaisesRegex(ValueError, "^shapes: unknown set 'nope'"):
            vkattn.bench("nope")
        with self.assertRaisesRegex(ValueError, "^filter: no case"):
            vkattn.bench("quick", filter="no such case")
        with self.assertRaisesRegex(ValueError, "^repeat: 0"):
            vkattn.bench("quick", filter="decode", repeat=0)
        with self.assertRaisesRegex(ValueError, "^max_seconds_per_case"):
            vkattn.bench("quick", filter="decode", max_seconds_per_case=-1)
        with self.assertRaisesRegex(TypeError, "^filter"):
            vkattn.bench("quick", filter=[3])


if __name__ == "__main__":
    unittest.main()
