"""vkattn against PyTorch itself (Debian's python3-torch, installed by scripts/install_deps.sh).

Run by ctest as python_torch (PYTHONPATH=<build>/python), or by hand:
    PYTHONPATH=build/python python3 -m unittest -v tests/python/test_torch.py

Two things are compared with what PyTorch computes:
- scaled_dot_product_attention on torch tensors, with PyTorch's own
  torch.nn.functional.scaled_dot_product_attention where the installed PyTorch has it (2.0 on; GQA from 2.5),
  and otherwise (Debian's 1.13) with PyTorch's matmul-softmax-matmul in float64, the formula its
  documentation gives: leading dims 0-3, bool and float masks broadcast, causal, GQA, f16/f32, Lq != Lk.
- a small nn.Module model (embedding, nn.MultiheadAttention, feed-forward) whose attention module is
  swapped for one that calls vkattn.multi_head_attention with the same module's state dict: the model's
  output and attention weights equal PyTorch's, for self- and cross-attention, key padding and causal masks.

PyTorch is required: without it this test fails (it does not skip), since the issue's parity claim is
made against it.
"""

import math
import unittest

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("python_torch needs PyTorch (Debian/Ubuntu: apt-get install python3-torch, "
                      "or scripts/install_deps.sh)") from e

import vkattn

L, S, E, EV = 7, 13, 16, 8   # not multiples of any tile
F32_TOL = 1e-5
F16_TOL = 2e-3
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
TORCH_VERSION = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
HAS_SDPA_GQA = HAS_SDPA and TORCH_VERSION >= (2, 5)

torch.manual_seed(1234)


def torch_sdpa(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """What PyTorch computes: its own function where it has one (with GQA where it takes enable_gqa),
    else PyTorch's documented formula (matmul, softmax, matmul) in float64. Returns float64."""
    if enable_gqa and not HAS_SDPA_GQA:
        rep = q.shape[-3] // k.shape[-3]
        k, v = k.repeat_interleave(rep, dim=-3), v.repeat_interleave(rep, dim=-3)
    if HAS_SDPA:
        kwargs = {"scale": scale} if scale is not None else {}
        if HAS_SDPA_GQA and enable_gqa:
            kwargs["enable_gqa"] = True
        return F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=attn_mask,
                                              is_causal=is_causal, **kwargs)
    q, k, v = q.double(), k.double(), v.double()
    lq, s = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = torch.zeros(lq, s, dtype=torch.float64)
    if is_causal:
        bias = bias.masked_fill(~torch.ones(lq, s, dtype=torch.bool).tril(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            bias = torch.zeros_like(bias).masked_fill(~attn_mask, float("-inf")) + bias
        else:
            bias = attn_mask.double() + bias
    weights = torch.softmax(q @ k.transpose(-2, -1) * scale + bias, dim=-1)
    return weights @ v


def qkv(lead, hk=None, l=L, s=S, e=E, ev=EV, dtype=torch.float32):
    kv_lead = lead if hk is None else lead[:-1] + (hk,)
    return (torch.randn(*lead, l, e).to(dtype), torch.randn(*kv_lead, s, e).to(dtype),
            torch.randn(*kv_lead, s, ev).to(dtype))


class ScaledDotProductAttentionVsTorch(unittest.TestCase):
    def check(self, got, want, dtype=torch.float32):
        self.assertIsInstance(got, torch.Tensor)
        self.assertEqual(got.dtype, dtype)
        self.assertEqual(tuple(got.shape), tuple(want.shape))
        self.assertFalse(torch.isnan(got).any().item(), "NaN in vkattn's output")
        tol = F16_TOL if dtype == torch.float16 else F32_TOL
        torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)

    def test_leading_dims_zero_to_three(self):
        for lead in ((), (3,), (2, 3), (2, 1, 3)):
            with self.subTest(lead=lead):
                q, k, v = qkv(lead)
                self.check(vkattn.scaled_dot_product_attention(q, k, v), torch_sdpa(q, k, v))

    def test_causal_top_left_with_lq_not_lk(self):
        for l, s in ((L, S), (S, L)):
            with self.subTest(l=l, s=s):
                q, k, v = qkv((2, 3), l=l, s=s)
                self.check(vkattn.scaled_dot_product_attention(q, k, v, is_causal=True),
                           torch_sdpa(q, k, v, is_causal=True))

    def test_bool_and_float_masks_broadcast(self):
        q, k, v = qkv((2, 3))
        keep = torch.rand(2, 1, L, S) < 0.7
        keep[..., 0] = True  # no fully masked row: PyTorch gives NaN there, vkattn zeros (documented)
        for mask in (keep, keep[0, 0], torch.randn(L, S), torch.randn(1, 3, 1, S), torch.randn(2, 3, L, S)):
            with self.subTest(shape=tuple(mask.shape), dtype=mask.dtype):
                self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                           torch_sdpa(q, k, v, attn_mask=mask))

    def test_gqa_and_scale(self):
        q, k, v = qkv((2, 4), hk=2)
        mask = torch.rand(2, 1, L, S) < 0.7
        mask[..., 0] = True
        got = vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True, scale=0.3)
        self.check(got, torch_sdpa(q, k, v, attn_mask=mask, enable_gqa=True, scale=0.3))

    def test_float16_in_float16_out(self):
        q, k, v = qkv((2, 3), dtype=torch.float16)
        got = vkattn.scaled_dot_product_attention(q, k, v, is_causal=True)
        self.check(got, torch_sdpa(q, k, v, is_causal=True), dtype=torch.float16)

    def test_fully_masked_row_is_zero_where_torch_gives_nan(self):
        q, k, v = qkv(())
        keep = torch.ones(L, S, dtype=torch.bool)
        keep[2] = False
        got = vkattn.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        self.assertTrue(torch.equal(got[2], torch.zeros(EV)))
        want = torch_sdpa(q, k, v, attn_mask=keep)
        self.assertTrue(torch.isnan(want[2]).all().item(), "PyTorch no longer gives NaN here: update docs/python.md")
        rows = [i for i in range(L) if i != 2]
        torch.testing.assert_close(got[rows].double(), want[rows], rtol=F32_TOL, atol=F32_TOL)

    def test_dropout_is_refused_like_an_argument(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "^dropout_p"):
            vkattn.scaled_dot_product_attention(q, k, v, dropout_p=0.1)


# --- a model whose nn.MultiheadAttention is replaced by vkattn's -----------------------------------------

class VkattnMultiheadAttention(torch.nn.Module):
    """A drop-in for a batch_first nn.MultiheadAttention at inference: the same parameters (its state dict,
    loaded once into vkattn.load_mha_weights), the same forward signature for the arguments used here."""

    def __init__(self, mha):
        super().__init__()
        assert mha.batch_first
        self.num_heads = mha.num_heads
        self.weights = vkattn.load_mha_weights(dict(mha.state_dict()), heads=mha.num_heads)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        key_lengths = None
        if key_padding_mask is not None:
            # PyTorch: True = padding. vkattn: key lengths (padding at the end), checked to be that shape.
            lengths = (~key_padding_mask).sum(dim=1)
            trailing = torch.arange(key_padding_mask.shape[1])[None, :] >= lengths[:, None]
            assert torch.equal(trailing, key_padding_mask), "padding must be at the end"
            key_lengths = [int(n) for n in lengths]
        mask = None
        if attn_mask is not None:
            mask = (~attn_mask).numpy() if attn_mask.dtype == torch.bool else attn_mask.float().numpy()
        result = vkattn.multi_head_attention(self.weights, query, key, value, key_lengths=key_lengths, mask=mask,
                                             need_weights=need_weights, average_weights=average_attn_weights)
        if need_weights:
            out, weights = result
            return out, torch.from_numpy(np.asarray(weights))
        return result, None


class TinyModel(torch.nn.Module):
    """Token embedding, one attention block with a residual, a feed-forward head: what an encoder layer does."""

    def __init__(self, vocab=50, e=32, heads=4, kdim=None):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, e)
        self.attn = torch.nn.MultiheadAttention(e, heads, batch_first=True, kdim=kdim, vdim=kdim)
        self.norm = torch.nn.LayerNorm(e)
        self.head = torch.nn.Sequential(torch.nn.Linear(e, 64), torch.nn.GELU(), torch.nn.Linear(64, vocab))

    def forward(self, tokens, memory=None, key_padding_mask=None, attn_mask=None):
        x = self.embed(tokens)
        kv = x if memory is None else memory
        a, w = self.attn(x, kv, kv, key_padding_mask=key_padding_mask, attn_mask=attn_mask, need_weights=True)
        return self.head(self.norm(x + a)), w


class MultiheadAttentionModel(unittest.TestCase):
    def run_both(self, model, *args, **kwargs):
        model.eval()
        with torch.no_grad():
            want, want_w = model(*args, **kwargs)
            original = model.attn
            model.attn = VkattnMultiheadAttention(original)
            try:
                got, got_w = model(*args, **kwargs)
            finally:
                model.attn = original
        self.assertFalse(torch.isnan(got).any().item())
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(got_w, want_w, rtol=1e-5, atol=1e-5)
        return got

    def test_self_attention_with_key_padding(self):
        model = TinyModel()
        tokens = torch.randint(0, 50, (3, 11))
        padding = torch.zeros(3, 11, dtype=torch.bool)
        padding[1, 8:] = True
        padding[2, 5:] = True
        self.run_both(model, tokens)
        self.run_both(model, tokens, key_padding_mask=padding)

    def test_causal_mask(self):
        model = TinyModel()
        tokens = torch.randint(0, 50, (2, 9))
        causal = torch.ones(9, 9, dtype=torch.bool).triu(1)  # PyTorch: True = not allowed
        self.run_both(model, tokens, attn_mask=causal)
        self.run_both(model, tokens, attn_mask=torch.zeros(9, 9).masked_fill(causal, float("-inf")))

    def test_cross_attention_with_other_key_width(self):
        model = TinyModel(kdim=24)
        tokens = torch.randint(0, 50, (2, 6))
        memory = torch.randn(2, 10, 24)
        self.run_both(model, tokens, memory=memory)

    def test_the_swap_changes_something_when_weights_differ(self):
        # The comparison can fail: the same swap with another layer's weights gives another output.
        model, other = TinyModel(), TinyModel()
        tokens = torch.randint(0, 50, (1, 7))
        model.eval()
        with torch.no_grad():
            want, _ = model(tokens)
            original = model.attn
            model.attn = VkattnMultiheadAttention(other.attn)
            got, _ = model(tokens)
            model.attn = original
        self.assertFalse(torch.allclose(got, want, rtol=1e-4, atol=1e-4))


if __name__ == "__main__":
    unittest.main()
