"""vkattn.scaled_dot_product_attention against a float64 numpy reference with PyTorch's semantics.

Run by ctest as python_sdpa (PYTHONPATH=<build>/python), or by hand:
    PYTHONPATH=build/python python3 -m unittest -v tests/python/test_sdpa.py

Every call shares the module's one default context, and the shapes stay few (E = 16, Ev = 8 or 16):
each new compute pipeline costs seconds to compile on lavapipe.
"""

import math
import sys
import types
import unittest
from unittest import mock

import numpy as np

import vkattn

L, S, E, EV = 7, 13, 16, 8   # not multiples of any tile
F32_TOL = 1e-5
F16_TOL = 2e-3


def reference(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's documented reference implementation, in float64, with fully masked rows giving zeros."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    lq, s = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = np.zeros((lq, s))
    if is_causal:
        bias[~np.tril(np.ones((lq, s), dtype=bool))] = -np.inf
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            bias = np.where(attn_mask, 0.0, -np.inf) + bias
        else:
            bias = attn_mask.astype(np.float64) + bias
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scores = q @ np.swapaxes(k, -1, -2) * scale + bias
    top = scores.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    p = np.exp(scores - top)
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    return p @ v


_rng = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return _rng.standard_normal(shape).astype(dtype)


def qkv(lead, hk=None, l=L, s=S, e=E, ev=EV, dtype=np.float32):
    """query lead + (l, e); key/value with the head dim (lead[-1]) replaced by hk when given."""
    kv_lead = lead if hk is None else lead[:-1] + (hk,)
    return randn(*lead, l, e, dtype=dtype), randn(*kv_lead, s, e, dtype=dtype), randn(*kv_lead, s, ev, dtype=dtype)


class FakeTensor:
    """What vkattn needs of a torch.Tensor: detach(), cpu(), numpy(), device.type, dtype."""

    def __init__(self, array, device="cpu"):
        self.array = array
        self.device = types.SimpleNamespace(type=device)
        self.dtype = array.dtype

    def detach(self):
        return self

    def cpu(self):
        return FakeTensor(self.array)

    def numpy(self):
        return self.array


def fake_torch():
    module = types.ModuleType("torch")
    module.Tensor = FakeTensor
    module.from_numpy = FakeTensor
    return module


class ScaledDotProductAttention(unittest.TestCase):

    def check(self, got, want, dtype=np.float32):
        self.assertIsInstance(got, np.ndarray)
        self.assertEqual(got.dtype, np.dtype(dtype))
        self.assertEqual(got.shape, want.shape)
        tol = F32_TOL if dtype == np.float32 else F16_TOL
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)

    # --- shapes -------------------------------------------------------------------------------------

    def test_no_leading_dims(self):
        q, k, v = qkv(())
        self.check(vkattn.scaled_dot_product_attention(q, k, v), reference(q, k, v))

    def test_one_leading_dim(self):
        q, k, v = qkv((3,))
        self.check(vkattn.scaled_dot_product_attention(q, k, v), reference(q, k, v))

    def test_two_leading_dims(self):
        q, k, v = qkv((2, 3))
        self.check(vkattn.scaled_dot_product_attention(q, k, v), reference(q, k, v))

    def test_three_leading_dims_value_dim_equal_to_e(self):
        q, k, v = qkv((2, 2, 3), ev=E)
        self.check(vkattn.scaled_dot_product_attention(q, k, v), reference(q, k, v))

    def test_non_contiguous_inputs(self):
        # (N, L, H, E) as a framework's projection makes it, viewed as (N, H, L, E)
        q, k, v = (np.swapaxes(np.ascontiguousarray(np.swapaxes(x, 1, 2)), 1, 2) for x in qkv((2, 3)))
        self.assertFalse(q.flags.c_contiguous)
        self.check(vkattn.scaled_dot_product_attention(q, k, v), reference(q, k, v))

    def test_byte_swapped_inputs(self):
        q, k, v = qkv(())
        mask = randn(L, S).astype(">f8")
        got = vkattn.scaled_dot_product_attention(q.astype(">f4"), k, v.astype(">f4"), attn_mask=mask)
        self.check(got, reference(q, k, v, mask))

    # --- causal, masks, scale -------------------------------------------------------------------------

    def test_causal_top_left_with_fewer_queries_than_keys(self):
        q, k, v = qkv((2, 3))
        self.check(vkattn.scaled_dot_product_attention(q, k, v, is_causal=True), reference(q, k, v, is_causal=True))

    def test_causal_top_left_with_more_queries_than_keys(self):
        q, k, v = qkv((2, 3), l=S, s=L)
        self.check(vkattn.scaled_dot_product_attention(q, k, v, is_causal=True), reference(q, k, v, is_causal=True))

    def test_bool_mask_broadcast_from_l_s(self):
        q, k, v = qkv((2, 3))
        mask = _rng.random((L, S)) < 0.7
        mask[:, 0] = True
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_bool_mask_per_batch(self):
        q, k, v = qkv((2, 3))
        mask = _rng.random((2, 1, L, S)) < 0.7
        mask[..., 0] = True
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_float_mask_broadcast_from_l_s(self):
        q, k, v = qkv((2, 3))
        mask = randn(L, S)
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_float_mask_per_batch(self):
        q, k, v = qkv((2, 3))
        mask = randn(2, 1, L, S)
        mask[1, 0, 2, 5:] = -np.inf
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_float_mask_per_head_float64(self):
        q, k, v = qkv((2, 3))
        mask = _rng.standard_normal((3, L, S))  # float64: converted to float32
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_padding_mask_over_keys_with_two_batch_dims(self):
        q, k, v = qkv((2, 2, 3))
        mask = np.ones((2, 2, 1, 1, S), dtype=bool)
        mask[0, 1, ..., 9:] = False
        mask[1, 0, ..., 4:] = False
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_mask_over_the_only_leading_dim(self):
        q, k, v = qkv((3,))
        mask = randn(3, 1, S)
        self.check(vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask), reference(q, k, v, mask))

    def test_scale(self):
        q, k, v = qkv((2, 3))
        self.check(vkattn.scaled_dot_product_attention(q, k, v, scale=0.3), reference(q, k, v, scale=0.3))

    def test_fully_masked_row_gives_zeros(self):
        q, k, v = qkv((2, 3))
        mask = np.ones((L, S), dtype=bool)
        mask[4] = False
        out = vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        self.assertTrue(np.all(out[..., 4, :] == 0))  # PyTorch: NaN
        self.check(out, reference(q, k, v, mask))

    # --- grouped-query attention ----------------------------------------------------------------------

    def test_enable_gqa(self):
        q, k, v = qkv((2, 4), hk=2)
        self.check(vkattn.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                   reference(q, k, v, enable_gqa=True))

    def test_gqa_heads_without_enable_gqa_are_an_error(self):
        q, k, v = qkv((2, 4), hk=2)
        with self.assertRaisesRegex(ValueError, "^key: .*enable_gqa"):
            vkattn.scaled_dot_product_attention(q, k, v)

    def test_gqa_heads_that_do_not_divide_are_an_error(self):
        q, k, v = qkv((2, 4), hk=3)
        with self.assertRaisesRegex(ValueError, "^key: 3 heads"):
            vkattn.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    # --- float16 --------------------------------------------------------------------------------------

    def test_float16_in_float16_out(self):
        q, k, v = qkv((2, 3), dtype=np.float16)
        mask = _rng.random((L, S)) < 0.7
        mask[:, 0] = True
        got = vkattn.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        self.check(got, reference(q, k, v, mask), dtype=np.float16)

    # --- errors ---------------------------------------------------------------------------------------

    def test_dropout_is_an_error(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "^dropout_p: 0.5"):
            vkattn.scaled_dot_product_attention(q, k, v, dropout_p=0.5)

    def test_integer_dtypes_are_type_errors_naming_the_argument(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(TypeError, "^query: dtype int32"):
            vkattn.scaled_dot_product_attention(q.astype(np.int32), k, v)
        with self.assertRaisesRegex(TypeError, "^value: dtype int32"):
            vkattn.scaled_dot_product_attention(q, k, v.astype(np.int32))
        with self.assertRaisesRegex(TypeError, "^attn_mask: dtype int32"):
            vkattn.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((L, S), dtype=np.int32))

    def test_mixed_dtypes_are_type_errors(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(TypeError, "^key: dtype float16 differs from query's float32"):
            vkattn.scaled_dot_product_attention(q, k.astype(np.float16), v)

    def test_lists_are_type_errors(self):
        with self.assertRaisesRegex(TypeError, "^query: builtins.list"):
            vkattn.scaled_dot_product_attention([[1.0]], np.ones((1, 1), np.float32), np.ones((1, 1), np.float32))

    def test_mismatched_e_names_key(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "^key: last dim 8 does not match query's 16"):
            vkattn.scaled_dot_product_attention(q, k[:, :8], v)

    def test_mismatched_lengths_name_value(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "^value: length 12"):
            vkattn.scaled_dot_product_attention(q, k, v[:12])

    def test_mismatched_batch_dims_name_key(self):
        q, k, v = qkv((2, 3))
        with self.assertRaisesRegex(ValueError, "^key: batch dims"):
            vkattn.scaled_dot_product_attention(q, k[:1], v[:1])

    def test_mask_that_does_not_broadcast_names_attn_mask(self):
        q, k, v = qkv((2, 3))
        with self.assertRaisesRegex(ValueError, "^attn_mask: shape \\(4, 1, 7, 13\\) does not broadcast"):
            vkattn.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 1, L, S), dtype=bool))

    def test_causal_with_a_mask_is_an_error(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "^attn_mask: must be None when is_causal"):
            vkattn.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((L, S), dtype=bool), is_causal=True)

    def test_engine_errors_are_value_errors_with_the_engine_message(self):
        q, k, v = qkv(())
        with self.assertRaisesRegex(ValueError, "scale"):
            vkattn.scaled_dot_product_attention(q, k, v, scale=float("inf"))

    def test_error_classes(self):
        for cls in (vkattn.UnsupportedError, vkattn.NoDeviceError, vkattn.OutOfMemoryError,
                    vkattn.DeviceLostError, vkattn.VulkanError):
            self.assertTrue(issubclass(cls, vkattn.Error))
        self.assertTrue(issubclass(vkattn.Error, RuntimeError))

    # --- PyTorch tensors, through a stand-in module (PyTorch is not needed) ---------------------------

    def test_torch_tensors_come_back_as_torch_tensors(self):
        q, k, v = qkv((2, 3))
        mask = _rng.random((L, S)) < 0.7
        mask[:, 0] = True
        with mock.patch.dict(sys.modules, {"torch": fake_torch()}):
            got = vkattn.scaled_dot_product_attention(FakeTensor(q), FakeTensor(k), FakeTensor(v),
                                                      attn_mask=FakeTensor(mask))
        self.assertIsInstance(got, FakeTensor)
        self.check(got.numpy(), reference(q, k, v, mask))

    def test_numpy_in_numpy_out_while_torch_is_imported(self):
        q, k, v = qkv(())
        with mock.patch.dict(sys.modules, {"torch": fake_torch()}):
            got = vkattn.scaled_dot_product_attention(q, k, v)
        self.check(got, reference(q, k, v))

    def test_torch_tensor_off_the_cpu_is_a_type_error(self):
        q, k, v = qkv(())
        with mock.patch.dict(sys.modules, {"torch": fake_torch()}):
            with self.assertRaisesRegex(TypeError, "^key: a torch tensor on device 'cuda'"):
                vkattn.scaled_dot_product_attention(FakeTensor(q), FakeTensor(k, device="cuda"), FakeTensor(v))

    def test_fake_tensor_without_torch_imported_is_a_type_error(self):
        q, k, v = qkv(())
        with mock.patch.dict(sys.modules):
            sys.modules.pop("torch", None)
            with self.assertRaisesRegex(TypeError, "^query: "):
                vkattn.scaled_dot_product_attention(FakeTensor(q), k, v)

    # --- the device -----------------------------------------------------------------------------------

    def test_device(self):
        info = vkattn.device()
        for key in ("name", "vendor", "type", "subgroup_size", "fp16", "shared_memory_bytes", "profile"):
            self.assertIn(key, info)
        self.assertIsInstance(info["name"], str)
        self.assertGreater(info["subgroup_size"], 0)


if __name__ == "__main__":
    unittest.main()
