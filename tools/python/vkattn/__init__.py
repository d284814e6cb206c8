"""vkattn from Python: attention on any Vulkan device (docs/python.md).

    import numpy as np, vkattn
    out = vkattn.scaled_dot_product_attention(q, k, v, is_causal=True)
    out = vkattn.attention(q, k, v, causal="bottom_right", window=(64, 0))

Beyond scaled_dot_product_attention, the engine's own interface: Context (a device, its statistics and
device tensors), Tensor (a device handle: data stays on the device between calls), attention (every option
of the engine), KvCache, load_mha_weights / multi_head_attention, additive_attention and linear_attention.
Every function takes numpy arrays or Tensor handles, and returns the kind its first input was.

scaled_dot_product_attention follows torch.nn.functional.scaled_dot_product_attention's semantics
(PyTorch's documentation), with these differences: a row whose keys are all masked out gives zeros (PyTorch
gives NaN), dropout_p must be 0 (vkattn is an inference engine), and scale must be finite and non-zero.

The computation runs in the extension module vkattn._vkattn on one default context, created on the first
call (the environment variable VKATTN_DEVICE selects the device; see device()).
"""

import collections
import json
import math
import os
import sys
from collections.abc import Mapping

import numpy as np

from ._vkattn import (  # noqa: F401  (the public names of the package)
    Context,
    DeviceLostError,
    Error,
    MhaWeights,
    NoDeviceError,
    OutOfMemoryError,
    Tensor,
    UnsupportedError,
    VulkanError,
    __version__,
    _attention,
    _default_context,
    alibi_slopes,
    device,
    devices,
)
from . import _vkattn as _core

__all__ = [
    "scaled_dot_product_attention",
    "attention",
    "AttentionResult",
    "KvCache",
    "attention_varlen",
    "PagedKvCache",
    "load_mha_weights",
    "multi_head_attention",
    "MhaWeights",
    "additive_attention",
    "linear_attention",
    "matmul",
    "heatmap",
    "bench",
    "alibi_slopes",
    "Context",
    "Tensor",
    "default_context",
    "device",
    "devices",
    "Error",
    "UnsupportedError",
    "NoDeviceError",
    "OutOfMemoryError",
    "DeviceLostError",
    "VulkanError",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))


# --- PyTorch tensors -----------------------------------------------------------------------------------
# vkattn never imports torch. A value is a PyTorch tensor when torch is already imported (a program that
# holds a tensor has imported it) and the value is an instance of sys.modules["torch"].Tensor. The tests
# put a small stand-in module there to exercise this path where PyTorch is not installed.

def _torch_module():
    return sys.modules.get("torch")


def _is_torch_tensor(x):
    torch = _torch_module()
    tensor_type = getattr(torch, "Tensor", None) if torch is not None else None
    return isinstance(tensor_type, type) and isinstance(x, tensor_type)


def _torch_to_numpy(x, name):
    device_type = getattr(getattr(x, "device", None), "type", "cpu")
    if device_type != "cpu":
        raise TypeError(f"{name}: a torch tensor on device '{device_type}' (vkattn takes CPU tensors: "
                        f"pass {name}.cpu())")
    try:
        return x.detach().cpu().numpy()
    except TypeError as e:  # e.g. bfloat16, which numpy has no type for
        raise TypeError(f"{name}: dtype {getattr(x, 'dtype', '?')} cannot be read ({e}); "
                        "expected float32 or float16") from None


def _as_array(x, name):
    """x as a numpy array (converted from a torch tensor), and whether it was a torch tensor."""
    if _is_torch_tensor(x):
        return _torch_to_numpy(x, name), True
    if isinstance(x, np.ndarray):
        if not x.dtype.isnative:  # byte-swapped data: in the machine's order, as the engine reads it
            x = x.astype(x.dtype.newbyteorder("="))
        return x, False
    raise TypeError(f"{name}: {type(x).__module__}.{type(x).__qualname__} is neither a numpy array "
                    "nor a torch tensor")


# --- scaled_dot_product_attention ----------------------------------------------------------------------

def _check_float(a, name):
    if a.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: dtype {a.dtype} (expected float32 or float16)")


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _mask_for_engine(mask, q_shape, s_len):
    """attn_mask, broadcastable to q_shape[:-1] + (S,) (PyTorch's rule), in the shape vkattn takes:
    [L, S] when it has no batch or head dims beyond size 1, else [B|1, Hq|1, L, S]; a boolean mask as
    uint8 (non-zero = attend), a float mask as float32 (added)."""
    if mask.dtype == np.bool_:
        mask = mask.astype(np.uint8)
    elif mask.dtype.kind == "f":
        mask = mask.astype(np.float32, copy=False)
    else:
        raise TypeError(f"attn_mask: dtype {mask.dtype} (expected bool, where True takes part, "
                        "or a float type, which is added)")
    full = tuple(q_shape[:-1]) + (s_len,)
    try:
        fits = np.broadcast_shapes(mask.shape, full) == full
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"attn_mask: shape {_shape_text(mask.shape)} does not broadcast to "
                         f"{_shape_text(full)} (query's leading dims, L, and key's S)")
    mask = mask.reshape((1,) * (len(full) - mask.ndim) + mask.shape)  # as many dims as full
    lead, ls = full[:-2], full[-2:]  # (N, ..., Hq), (L, S)
    mask_lead = mask.shape[:-2]
    if all(d == 1 for d in mask_lead):
        return np.ascontiguousarray(np.broadcast_to(mask.reshape(mask.shape[-2:]), ls))
    # [B|1, Hq|1, L, S]: all leading dims but the last collapse to B, the last is the head dim.
    batch = lead[:-1] if any(d != 1 for d in mask_lead[:-1]) else (1,) * (len(lead) - 1)
    head = lead[-1] if mask_lead[-1] != 1 else 1
    target = batch + (head,) + ls
    expanded = np.ascontiguousarray(np.broadcast_to(mask, target))
    return expanded.reshape(math.prod(batch), head, ls[0], ls[1])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, with PyTorch's semantics.

    query (N, ..., Hq, L, E), key (N, ..., H, S, E), value (N, ..., H, S, Ev): any number of leading batch
    dims (none included), the same in all three except the head dim (dim -3) with enable_gqa, where
    Hq % H == 0 and query head h uses key/value head h // (Hq // H). Returns (N, ..., Hq, L, Ev) in the
    inputs' dtype (float32 or float16), as a numpy array, or a torch tensor when query is one.

    attn_mask: None, boolean (True = takes part) or float (added to the scaled scores), broadcastable to
    (N, ..., Hq, L, S). is_causal: query i sees keys j <= i (top-left aligned, also when L != S); not
    together with attn_mask. scale: default 1/sqrt(E). dropout_p: only 0 (an inference engine).
    A row whose keys are all masked out gives zeros, where PyTorch gives NaN.
    """
    if dropout_p != 0.0:
        raise ValueError(f"dropout_p: {dropout_p} (vkattn is an inference engine: dropout is not "
                         "supported, pass 0.0)")
    q, q_torch = _as_array(query, "query")
    k, _ = _as_array(key, "key")
    v, _ = _as_array(value, "value")
    _check_float(q, "query")
    _check_float(k, "key")
    _check_float(v, "value")
    if k.dtype != q.dtype:
        raise TypeError(f"key: dtype {k.dtype} differs from query's {q.dtype}")
    if v.dtype != q.dtype:
        raise TypeError(f"value: dtype {v.dtype} differs from query's {q.dtype}")
    for a, name in ((q, "query"), (k, "key"), (v, "value")):
        if a.ndim < 2:
            raise ValueError(f"{name}: {a.ndim} dims (expected (N, ..., L, E), at least 2)")
    if not (k.ndim == q.ndim and v.ndim == q.ndim):
        bad, a = ("key", k) if k.ndim != q.ndim else ("value", v)
        raise ValueError(f"{bad}: {a.ndim} dims, query has {q.ndim}")
    L, E = q.shape[-2:]
    S = k.shape[-2]
    if k.shape[-1] != E:
        raise ValueError(f"key: last dim {k.shape[-1]} does not match query's {E}")
    if v.shape[-2] != S:
        raise ValueError(f"value: length {v.shape[-2]} (dim -2) does not match key's {S}")
    Ev = v.shape[-1]
    lead = q.shape[:-2]
    if k.shape[:-3] != lead[:-1] or v.shape[:-3] != lead[:-1]:
        bad, a = ("key", k) if k.shape[:-3] != lead[:-1] else ("value", v)
        raise ValueError(f"{bad}: batch dims {_shape_text(a.shape[:-3])} do not match query's "
                         f"{_shape_text(lead[:-1])}")
    if q.ndim >= 3:
        hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
        if hv != hk:
            raise ValueError(f"value: {hv} heads (dim -3), key has {hk}")
        if hk != hq:
            if not enable_gqa:
                raise ValueError(f"key: {hk} heads (dim -3) where query has {hq} (grouped-query attention "
                                 "needs enable_gqa=True)")
            if hk == 0 or hq % hk != 0:
                raise ValueError(f"key: {hk} heads (dim -3) do not divide query's {hq} (enable_gqa needs "
                                 "Hq % H == 0)")
    else:
        hq = hk = 1
    if is_causal and attn_mask is not None:
        raise ValueError("attn_mask: must be None when is_causal=True (as in PyTorch)")
    if scale is not None:
        scale = float(scale)

    mask = None
    if attn_mask is not None:
        m, _ = _as_array(attn_mask, "attn_mask")
        mask = _mask_for_engine(m, q.shape, S)

    out_shape = lead + (L, Ev)
    b = math.prod(lead[:-1]) if q.ndim >= 3 else 1
    if math.prod(out_shape) == 0 or S == 0:
        # Nothing to compute, or no keys at all: every row is fully masked, which gives zeros.
        out = np.zeros(out_shape, dtype=q.dtype)
    else:
        q4 = np.ascontiguousarray(q).reshape(b, hq, L, E)
        k4 = np.ascontiguousarray(k).reshape(b, hk, S, E)
        v4 = np.ascontiguousarray(v).reshape(b, hk, S, Ev)
        out = _attention(q4, k4, v4, mask, bool(is_causal), scale).reshape(out_shape)
    if q_torch:
        return _torch_module().from_numpy(out)
    return out


# --- the engine's interface: contexts, device tensors, every option --------------------------------------

def default_context():
    """The module's default Context: created on first use (VKATTN_DEVICE selects its device) and shared by
    every call made without ctx=."""
    return _default_context()


AttentionResult = collections.namedtuple("AttentionResult", "out lse weights")
AttentionResult.__doc__ = """What attention() returns when return_lse or return_weights is set: out [B, Hq, Lq, Dv];
lse [B, Hq, Lq] float32, each row's natural log-sum-exp (-inf for a row that sees no key), or None;
weights [B, Hq, Lq, Lk] float32, the softmax probabilities, or None. Each is the kind q was."""

_CAUSAL = ("none", "top_left", "bottom_right")


def _context_for(ctx, *values):
    """ctx when given; else the Context of the first Tensor handle among values; else the default."""
    if ctx is not None:
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx: {type(ctx).__module__}.{type(ctx).__qualname__} is not a vkattn.Context")
        return ctx
    for value in values:
        if isinstance(value, Tensor):
            return value.context
    return _default_context()


def _device_float(ctx, x, name):
    """As _device for the float inputs (float32 or float16), refusing other dtypes naming the argument."""
    if isinstance(x, Tensor):
        if x.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name}: dtype {x.dtype} (expected float32 or float16)")
        return x
    a, _ = _as_array(x, name)
    _check_float(a, name)
    return ctx._upload(a, None, name)


def _device_mask(ctx, mask):
    """The mask as the engine takes it: bool/uint8 (non-zero = attend) or float32/float16 (added)."""
    if mask is None or isinstance(mask, Tensor):
        return mask
    m, _ = _as_array(mask, "mask")
    if m.dtype.kind == "f" and m.dtype not in _FLOAT_DTYPES:
        m = m.astype(np.float32)
    elif m.dtype.kind not in "fb" and m.dtype != np.uint8:
        raise TypeError(f"mask: dtype {m.dtype} (expected bool or uint8, non-zero = attend, or a float type, "
                        "which is added)")
    return ctx._upload(m, None, "mask")


def _returned(value, as_numpy, as_torch):
    """A result Tensor as the caller's kind: the handle, a numpy array, or a torch tensor."""
    if value is None or not as_numpy:
        return value
    out = value.numpy()
    return _torch_module().from_numpy(out) if as_torch else out


def _choice(value, name, choices):
    if not isinstance(value, str):
        raise TypeError(f"{name}: {value!r} is not a string (expected one of {', '.join(map(repr, choices))})")
    if value not in choices:
        raise ValueError(f"{name}: {value!r} (expected one of {', '.join(map(repr, choices))})")
    return value


def _int_list(value, name):
    """A sequence of ints (key_lengths, counts) as a list, or None."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        value = value.numpy()
    a = np.asarray(value)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise TypeError(f"{name}: expected a 1-D sequence of ints, got {a.dtype} of shape {_shape_text(a.shape)}")
    if a.size and (a.min() < -2**31 or a.max() >= 2**31):
        raise ValueError(f"{name}: values outside the int32 range")
    return [int(x) for x in a]


def _out_dtype(value):
    if value is None:
        return None
    text = value if isinstance(value, str) else np.dtype(value).name
    if text not in ("f32", "float32", "f16", "float16", "bf16"):
        raise ValueError(f"out_dtype: {value!r} (expected 'f32'/'float32', 'f16'/'float16' or 'bf16')")
    return text


def _cache_operand(ctx, dtype, upload_as, x, name):
    """A cache's append / attend operand: a Tensor as is, else an array of the cache's numpy dtype uploaded."""
    if isinstance(x, Tensor):
        return x
    a, _ = _as_array(x, name)
    _check_float(a, name)
    if a.dtype != dtype:
        raise TypeError(f"{name}: dtype {a.dtype} differs from the cache's {np.dtype(dtype)}")
    return ctx._upload(a, upload_as, name)


def _per_head_floats(value, name):
    values = np.asarray(value.numpy() if isinstance(value, Tensor) else
                        (value.detach().cpu().numpy() if _is_torch_tensor(value) else value), dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name}: shape {_shape_text(values.shape)} (expected (Hq,))")
    return [float(x) for x in values]


def _attention_options(scale, causal, key_lengths, mask, window, alibi_slopes, softcap, path, return_lse,
                       return_weights, out_dtype, ctx, sinks=None):
    opts = {"causal": _choice(causal, "causal", _CAUSAL),
            "path": _choice(path, "path", ("auto", "fused", "explicit")),
            "key_lengths": _int_list(key_lengths, "key_lengths"),
            "mask": _device_mask(ctx, mask),
            "softcap": float(softcap),
            "return_lse": bool(return_lse),
            "return_weights": bool(return_weights),
            "out_dtype": _out_dtype(out_dtype)}
    if scale is not None:
        opts["scale"] = float(scale)
    if window is not None:
        try:
            left, right = window
            opts["window"] = (int(left), int(right))
        except (TypeError, ValueError):
            raise TypeError(f"window: {window!r} (expected a pair (left, right) of ints, -1 = unbounded)") from None
    if alibi_slopes is not None:
        opts["alibi_slopes"] = _per_head_floats(alibi_slopes, "alibi_slopes")
    if sinks is not None:
        opts["sinks"] = _per_head_floats(sinks, "sinks")
    return opts


def _result(triple, as_numpy, as_torch, return_lse, return_weights):
    out, lse, weights = (_returned(t, as_numpy, as_torch) for t in triple)
    if return_lse or return_weights:
        return AttentionResult(out, lse, weights)
    return out


def attention(q, k, v, *, scale=None, causal="none", key_lengths=None, mask=None, window=None,
              alibi_slopes=None, softcap=0.0, sinks=None, path="auto", return_lse=False, return_weights=False,
              out_dtype=None, ctx=None):
    """out = softmax(scale * q k^T + masks) v with every option of the engine (vkattn::attention_full).

    q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv], Hq % Hkv == 0 (query head h uses KV head
    h // (Hq // Hkv)); one dtype, float32 or float16; numpy arrays (any strides; copied to the device) or
    vkattn.Tensor handles (used in place). Returns out [B, Hq, Lq, Dv], the kind q is (numpy in, numpy out;
    Tensor in, Tensor out); with return_lse or return_weights an AttentionResult(out, lse, weights).

    scale: default 1/sqrt(D); finite, non-zero.
    causal: "none", "top_left" (query i sees keys j <= i) or "bottom_right" (j <= i + Lk - Lq).
    key_lengths: B ints, key j of batch b takes part iff j < key_lengths[b].
    mask: [Lq, Lk] or [B|1, Hq|1, Lq, Lk]; bool/uint8 (non-zero = attend) or float (added; -inf removes).
    window: (left, right): query i sees keys i' - left <= j <= i' + right, i' = i + Lk - Lq; -1 unbounded.
    alibi_slopes: Hq floats; adds -slope[h] * |j - i'| (vkattn.alibi_slopes(Hq) gives the standard ones).
    softcap: > 0 replaces each scaled score s by softcap * tanh(s / softcap); 0 is off.
    sinks: Hq floats, attention sinks (gpt-oss): per query head a logit that joins each row's softmax
      denominator and takes no value, so a row's weights sum to less than one (lse includes it).
    path: "auto", "fused" or "explicit" (the explicit path is the one that can return the weights).
    return_lse: also the natural log-sum-exp per row, [B, Hq, Lq] float32.
    return_weights: also the probabilities, [B, Hq, Lq, Lk] float32.
    out_dtype: "f32"/"f16" (default: q's dtype).
    ctx: the Context (default: that of the first Tensor argument, else the module's default).
    Masks combine: a key takes part only if every one allows it; a row left with no key gives zeros.
    """
    ctx = _context_for(ctx, q, k, v, mask)
    as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
    opts = _attention_options(scale, causal, key_lengths, mask, window, alibi_slopes, softcap, path,
                              return_lse, return_weights, out_dtype, ctx, sinks)
    tq, tk, tv = (_device_float(ctx, x, n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    return _result(ctx._attention(tq, tk, tv, opts), as_numpy, as_torch, return_lse, return_weights)


class KvCache:
    """A key/value cache on the device for autoregressive decoding (vkattn::KvCache).

    KvCache(batch, kv_heads, capacity, head_dim, value_dim=0, dtype="f16", ctx=None) holds keys
    [batch, kv_heads, capacity, head_dim] and values [.., value_dim or head_dim] in dtype ("f16", "f32",
    "bf16", or the 8- / 4-bit blocks "q8_0" / "q4_0", which quantise float32 appends on the device; see
    docs/formats.md) on ctx's device (default: the module's context), every length 0.

        cache = vkattn.KvCache(1, 2, 256, 64, dtype="f32")
        cache.append(k_step, v_step)          # [1, 2, n, 64] each
        out = cache.attend(q_step)            # q_step [1, Hq, n, 64]: bottom-right causal over the cache
    """

    def __init__(self, batch, kv_heads, capacity, head_dim, value_dim=0, dtype="f16", ctx=None):
        self._ctx = _context_for(ctx)
        if not isinstance(dtype, str):
            dtype = np.dtype(dtype).name
        # numpy's dtype of what append takes; bf16 and the block formats take float32 arrays, converted on upload
        self._dtype = {"f32": np.float32, "float32": np.float32, "f16": np.float16,
                       "float16": np.float16, "bf16": np.float32, "q8_0": np.float32, "q4_0": np.float32}.get(dtype)
        if self._dtype is None:
            raise ValueError(f"dtype: {dtype!r} (expected 'f16'/'float16', 'f32'/'float32', 'bf16', 'q8_0' or 'q4_0')")
        self._upload_as = "bf16" if dtype == "bf16" else None
        self._cache = self._ctx._kv_cache(int(batch), int(kv_heads), int(capacity), int(head_dim),
                                          int(value_dim), dtype)

    @property
    def context(self):
        """The Context the cache lives on."""
        return self._ctx

    @property
    def dtype(self):
        """The numpy dtype appends take: float16 for an f16 cache, float32 for f32, bf16, q8_0 and q4_0 ones."""
        return np.dtype(self._dtype)

    @property
    def lengths(self):
        """Tokens held per batch entry, a list of ints."""
        return self._cache.lengths

    @property
    def keys(self):
        """The key storage as a Tensor [B, Hkv, capacity, D]; rows past a batch's length are stale."""
        return self._cache.keys

    @property
    def values(self):
        """The value storage as a Tensor [B, Hkv, capacity, Dv]."""
        return self._cache.values

    def clear(self):
        """Sets every length to 0 (the storage is kept)."""
        self._cache.clear()

    def _operand(self, x, name):
        return _cache_operand(self._ctx, self._dtype, self._upload_as, x, name)

    def append(self, k_new, v_new, counts=None):
        """Appends k_new [B, Hkv, n, D] and v_new [B, Hkv, n, Dv] (the cache's dtype; arrays or Tensors) in
        place. counts: B ints in [0, n], the rows of each batch entry to take (None: all n), so that
        sequences can advance unevenly."""
        self._cache.append(self._operand(k_new, "k_new"), self._operand(v_new, "v_new"),
                           _int_list(counts, "counts"))

    def attend(self, q, *, scale=None, causal="bottom_right", mask=None, window=None, alibi_slopes=None,
               softcap=0.0, sinks=None, path="auto", return_lse=False, return_weights=False, out_dtype=None):
        """Attention of q [B, Hq, Lq, D] (the last Lq tokens of each sequence, already appended) over the
        cache: each batch's keys up to its length, query i of batch b seeing keys j <= lengths[b] - Lq + i
        (causal must be "bottom_right" or "none", which is the same here). Other options as attention();
        key_lengths are the cache's. q must be the cache's dtype. Returns what attention() returns."""
        if _choice(causal, "causal", _CAUSAL) == "top_left":
            raise ValueError("causal: 'top_left' (attention over a cache is bottom-right aligned: pass "
                             "'bottom_right' or 'none')")
        ctx = self._ctx
        as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
        opts = _attention_options(scale, causal, None, mask, window, alibi_slopes, softcap, path, return_lse,
                                  return_weights, out_dtype, ctx, sinks)
        triple = self._cache._attend(self._operand(q, "q"), opts)
        return _result(triple, as_numpy, as_torch, return_lse, return_weights)

    def __repr__(self):
        return f"<vkattn.KvCache lengths={self.lengths} dtype={self.dtype}>"


def attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, *, scale=None, causal="none", window=None,
                     alibi_slopes=None, softcap=0.0, sinks=None, path="auto", return_lse=False, return_weights=False,
                     out_dtype=None, ctx=None):
    """Packed variable-length sequences (vkattn::attention_varlen, FlashAttention's varlen): q [total_q, Hq, D],
    k [total_k, Hkv, D], v [total_k, Hkv, Dv]; cu_seqlens_q / cu_seqlens_k: S + 1 int offsets (0 first,
    non-decreasing, the last = the tokens). Sequence s attends only its own keys; causal, window and ALiBi
    are bottom-right aligned to each sequence's own lengths. Returns out [total_q, Hq, Dv]; lse is
    [Hq, total_q], weights (explicit path) 1-D, each sequence's [Hq, Lq_s, Lk_s] after the previous one's.
    Other options as attention() (no mask or key_lengths: each sequence's key range is its mask)."""
    ctx = _context_for(ctx, q, k, v)
    as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
    opts = _attention_options(scale, causal, None, None, window, alibi_slopes, softcap, path,
                              return_lse, return_weights, out_dtype, ctx, sinks)
    tq, tk, tv = (_device_float(ctx, x, n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    triple = ctx._attention_varlen(tq, tk, tv, _int_list(cu_seqlens_q, "cu_seqlens_q"), _int_list(cu_seqlens_k, "cu_seqlens_k"), opts)
    return _result(triple, as_numpy, as_torch, return_lse, return_weights)


class PagedKvCache:
    """A paged KV cache (vkattn::PagedKvCache): a pool of `pages` pages of `page_size` tokens (a power of two)
    shared by many sequences, each with its block table; fork shares a sequence's pages (copy-on-write).

        cache = vkattn.PagedKvCache(64, 16, kv_heads=2, head_dim=64, dtype="f32")
        a = cache.add_sequence()
        cache.append([a], k, v, [0, len(k)])        # k, v [T, Hkv, D] packed new tokens
        b = cache.fork(a)
        out = cache.attend(q, [a, b], [0, 1, 2])    # q [2, Hq, D]: the last token of each
    """

    def __init__(self, pages, page_size, kv_heads, head_dim, value_dim=0, dtype="f16", ctx=None):
        self._ctx = _context_for(ctx)
        if not isinstance(dtype, str):
            dtype = np.dtype(dtype).name
        self._dtype = {"f32": np.float32, "float32": np.float32, "f16": np.float16, "float16": np.float16}.get(dtype)
        if self._dtype is None:
            raise ValueError(f"dtype: {dtype!r} (expected 'f16'/'float16' or 'f32'/'float32')")
        self._cache = self._ctx._paged_kv_cache(int(pages), int(page_size), int(kv_heads), int(head_dim), int(value_dim), dtype)

    def add_sequence(self):
        """A new empty sequence; returns its id."""
        return self._cache.add_sequence()

    def fork(self, parent):
        """A new sequence sharing every page of `parent`; returns its id."""
        return self._cache.fork(int(parent))

    def free(self, sequence):
        """Releases the sequence's pages; its id is dead after."""
        self._cache.free(int(sequence))

    def trim(self, sequence, length):
        """Shortens the sequence to `length` tokens."""
        self._cache.trim(int(sequence), int(length))

    def length(self, sequence):
        return self._cache.length(int(sequence))

    def block_table(self, sequence):
        """The sequence's physical pages, logical page order."""
        return self._cache.block_table(int(sequence))

    def stats(self):
        """{pages, pages_free, pages_used, pages_shared, sequences, tokens}."""
        return self._cache.stats()

    def _operand(self, x, name):
        return _cache_operand(self._ctx, self._dtype, None, x, name)

    def append(self, sequences, k_new, v_new, cu_seqlens):
        """Appends packed new tokens k_new [T, Hkv, D], v_new [T, Hkv, Dv]: sequences[s] gets rows
        cu_seqlens[s] .. cu_seqlens[s + 1] - 1. Out of pages raises OutOfMemoryError and writes nothing."""
        self._cache.append([int(s) for s in sequences], self._operand(k_new, "k_new"), self._operand(v_new, "v_new"),
                           _int_list(cu_seqlens, "cu_seqlens"))

    def attend(self, q, sequences, cu_seqlens_q, *, scale=None, window=None, alibi_slopes=None, softcap=0.0,
               sinks=None, return_lse=False, out_dtype=None):
        """Attention of packed queries q [total_q, Hq, D] (rows cu_seqlens_q[s] .. are the last tokens of
        sequences[s], already appended) through the block tables, bottom-right causal per sequence.
        Returns out [total_q, Hq, Dv] (with return_lse an AttentionResult, lse [Hq, total_q])."""
        ctx = self._ctx
        as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
        opts = _attention_options(scale, "bottom_right", None, None, window, alibi_slopes, softcap, "auto", return_lse,
                                  False, out_dtype, ctx, sinks)
        triple = self._cache._attend(self._operand(q, "q"), [int(s) for s in sequences], _int_list(cu_seqlens_q, "cu_seqlens_q"), opts)
        return _result(triple, as_numpy, as_torch, return_lse, False)

    def __repr__(self):
        return f"<vkattn.PagedKvCache {self.stats()}>"


_MHA_NAMES = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
              "out_proj.weight", "out_proj.bias")


def _plan_mha(shapes, heads, kv_heads, prefix):
    """plan_mha_weights' rules (engine/layers/mha.cpp) over a state dict's shapes: (head_dim, packed).
    Errors are ValueError naming the tensor (with its prefix) or the option."""
    if heads < 1:
        raise ValueError(f"heads: must be >= 1, got {heads}")
    hkv = heads if kv_heads == 0 else kv_heads
    if hkv < 1 or heads % hkv != 0:
        raise ValueError(f"kv_heads: {hkv} must be >= 1 and divide heads = {heads}")

    def rank2(n):
        if prefix + n not in shapes:
            raise ValueError(f"state dict: no tensor named '{prefix + n}' (has: {', '.join(sorted(shapes))})")
        s = shapes[prefix + n]
        if len(s) != 2:
            raise ValueError(f"state dict: tensor '{prefix + n}' must have rank 2, has shape {_shape_text(s)}")
        if s[0] < 1 or s[1] < 1:
            raise ValueError(f"state dict: tensor '{prefix + n}' has an empty shape {_shape_text(s)}")
        return s

    so = rank2("out_proj.weight")
    e = so[0]
    if prefix + "in_proj_weight" in shapes:
        packed = True
        s = rank2("in_proj_weight")
        if s[0] % (heads + 2 * hkv) != 0:
            raise ValueError(f"state dict: tensor '{prefix}in_proj_weight' has {s[0]} rows, not a multiple of "
                             f"heads + 2 kv_heads = {heads + 2 * hkv}")
        d = s[0] // (heads + 2 * hkv)
        if s[1] != e:
            raise ValueError(f"state dict: tensor '{prefix}in_proj_weight' has {s[1]} columns; embed_dim "
                             f"(out_proj.weight rows) is {e}")
    elif prefix + "q_proj_weight" in shapes:
        packed = False
        sq = rank2("q_proj_weight")
        if sq[0] % heads != 0:
            raise ValueError(f"state dict: tensor '{prefix}q_proj_weight' has {sq[0]} rows, not a multiple of "
                             f"heads = {heads}")
        d = sq[0] // heads
        if sq[1] != e:
            raise ValueError(f"state dict: tensor '{prefix}q_proj_weight' must be [{sq[0]}, {e}], has shape "
                             f"{_shape_text(sq)}")
        for n in ("k_proj_weight", "v_proj_weight"):
            s = rank2(n)
            if s[0] != hkv * d:
                raise ValueError(f"state dict: tensor '{prefix}{n}' must have kv_heads * head_dim = {hkv * d} "
                                 f"rows, has shape {_shape_text(s)}")
    else:
        raise ValueError(f"state dict: neither '{prefix}in_proj_weight' nor '{prefix}q_proj_weight' is present")
    hd, kd = heads * d, hkv * d
    if so[1] != hd:
        raise ValueError(f"state dict: tensor '{prefix}out_proj.weight' must be [embed_dim, heads * head_dim] = "
                         f"[{e}, {hd}], has shape {_shape_text(so)}")
    for n, want in (("in_proj_bias", (hd + 2 * kd,)), ("out_proj.bias", (e,))):
        if prefix + n in shapes and tuple(shapes[prefix + n]) != want:
            raise ValueError(f"state dict: tensor '{prefix}{n}' must be [{want[0]}], has shape "
                             f"{_shape_text(shapes[prefix + n])}")
    return hkv, d, packed


def load_mha_weights(path_or_dict, heads, kv_heads=0, prefix="", dtype="f32", ctx=None):
    """nn.MultiheadAttention's parameters on the device, from a .safetensors file or a state dict.

    path_or_dict: a path (str or os.PathLike) of a .safetensors file, or a mapping of PyTorch's state-dict
    names to numpy arrays or torch CPU tensors: in_proj_weight [(H + 2 Hkv) D, E] (or q_proj_weight
    [H D, E], k_proj_weight [Hkv D, kdim], v_proj_weight [Hkv D, vdim]), optional in_proj_bias,
    out_proj.weight [E, H D], optional out_proj.bias; each name preceded by prefix (e.g.
    "encoder.layers.0.self_attn."). heads: H; kv_heads: Hkv (0: = heads). dtype: "f32" or "f16", how the
    weights are stored on the device. Errors name the tensor or option. Returns a vkattn.MhaWeights for
    multi_head_attention (on ctx, default the module's context).
    """
    ctx = _context_for(ctx)
    if not isinstance(dtype, str):
        dtype = np.dtype(dtype).name
    store = {"f32": np.float32, "float32": np.float32, "f16": np.float16, "float16": np.float16}.get(dtype)
    if store is None:
        raise ValueError(f"dtype: {dtype!r} (expected 'f32'/'float32' or 'f16'/'float16')")
    heads, kv_heads, prefix = int(heads), int(kv_heads), str(prefix)
    if isinstance(path_or_dict, (str, os.PathLike)):
        return ctx._load_mha_file(os.fspath(path_or_dict), heads, kv_heads, prefix, dtype)
    if not isinstance(path_or_dict, Mapping):
        raise TypeError(f"path_or_dict: {type(path_or_dict).__qualname__} is neither a path nor a mapping of "
                        "state-dict names to arrays")
    arrays = {}
    for name, value in path_or_dict.items():
        if not isinstance(name, str) or not name.startswith(prefix) or name[len(prefix):] not in _MHA_NAMES:
            continue  # other entries of a larger state dict are not this layer's
        a, _ = _as_array(value, name)
        if a.dtype.kind != "f":
            raise TypeError(f"{name}: dtype {a.dtype} (expected a float type)")
        arrays[name] = a
    hkv, d, packed = _plan_mha({n: a.shape for n, a in arrays.items()}, heads, kv_heads, prefix)
    tensors = {}
    for name, a in arrays.items():
        short = name[len(prefix):]
        if packed and short in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            continue  # nn.MultiheadAttention registers them as None when in_proj_weight is used
        tensors[short] = ctx._upload(a.astype(store), None, name)
    return ctx._mha_weights(heads, hkv, d, tensors)


def multi_head_attention(weights, x_q, x_k=None, x_v=None, *, causal="none", key_lengths=None, mask=None,
                         need_weights=False, average_weights=True, out_dtype=None, ctx=None):
    """nn.MultiheadAttention's forward (batch_first=True) with the weights of load_mha_weights.

    x_q [B, Lq, E]; x_k [B, Lk, kdim] (None: self-attention, x_k = x_q); x_v [B, Lk, vdim] (None: x_k);
    the weights' dtype; arrays or Tensor handles. causal: "none", "top_left" or "bottom_right".
    key_lengths: B ints (padding at the end, PyTorch's key_padding_mask for trailing padding). mask: as
    attention()'s, [Lq, Lk] or [B|1, H|1, Lq, Lk]. Returns out [B, Lq, E] the kind x_q is; with
    need_weights a pair (out, weights), weights float32 [B, Lq, Lk] averaged over heads (average_weights)
    or [B, H, Lq, Lk]. ctx: default the weights' Context.
    """
    if not isinstance(weights, MhaWeights):
        raise TypeError(f"weights: {type(weights).__qualname__} is not a vkattn.MhaWeights (use load_mha_weights)")
    ctx = _context_for(ctx if ctx is not None else weights.context)
    as_numpy, as_torch = not isinstance(x_q, Tensor), _is_torch_tensor(x_q)
    causal = _choice(causal, "causal", _CAUSAL)
    lengths = _int_list(key_lengths, "key_lengths")
    m = _device_mask(ctx, mask)
    tq = _device_float(ctx, x_q, "x_q")
    tk = None if x_k is None else _device_float(ctx, x_k, "x_k")
    tv = None if x_v is None else _device_float(ctx, x_v, "x_v")
    out, w = weights._forward(tq, tk, tv, causal, lengths, m, bool(need_weights), bool(average_weights),
                              _out_dtype(out_dtype))
    out, w = _returned(out, as_numpy, as_torch), _returned(w, as_numpy, as_torch)
    return (out, w) if need_weights else out


def additive_attention(q, k, v, w_q, w_k, v_a, bias=None, *, causal="none", key_lengths=None, mask=None,
                       return_lse=False, return_weights=False, out_dtype=None, ctx=None):
    """Bahdanau attention: score(i, j) = v_a . tanh(W_q q_i + W_k k_j + bias), softmax over the keys,
    out_i = sum_j p_ij v_j (vkattn::additive_attention).

    q [B, H, Lq, Dq], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv]; w_q [A, Dq], w_k [A, Dk], v_a [A], bias [A]
    or None; one dtype (float32 or float16); arrays or Tensor handles. A and Dv at most 512. The scores
    are not scaled. causal, key_lengths, mask, return_lse, return_weights, out_dtype as in attention().
    Returns out [B, H, Lq, Dv] the kind q is, or an AttentionResult.
    """
    ctx = _context_for(ctx, q, k, v, w_q, w_k, v_a, bias, mask)
    as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
    opts = _attention_options(None, causal, key_lengths, mask, None, None, 0.0, "auto", return_lse,
                              return_weights, out_dtype, ctx)
    del opts["path"], opts["softcap"]
    t = [_device_float(ctx, x, n) for x, n in ((q, "q"), (k, "k"), (v, "v"), (w_q, "w_q"), (w_k, "w_k"),
                                                (v_a, "v_a"))]
    tb = None if bias is None else _device_float(ctx, bias, "bias")
    return _result(ctx._additive(*t, tb, opts), as_numpy, as_torch, return_lse, return_weights)


def linear_attention(q, k, v, *, feature_map="elu_plus_one", causal="none", key_lengths=None, out_dtype=None,
                     ctx=None):
    """Linear attention (Katharopoulos et al. 2020): out_i = phi(q_i) . S_i / (phi(q_i) . z_i + 1e-6),
    S_i = sum_j phi(k_j) v_j^T and z_i = sum_j phi(k_j) over the keys row i sees (vkattn::linear_attention).

    q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv], Hq % Hkv == 0; one dtype (float32 or float16);
    arrays or Tensor handles. feature_map: "elu_plus_one" (elu(x) + 1) or "identity". causal: "none",
    "top_left" or "bottom_right". key_lengths: B ints. No scale, mask, window or softcap (softmax
    attention's). A row that sees no key gives zeros. Returns out [B, Hq, Lq, Dv] the kind q is.
    """
    ctx = _context_for(ctx, q, k, v)
    as_numpy, as_torch = not isinstance(q, Tensor), _is_torch_tensor(q)
    fm = _choice(feature_map, "feature_map", ("elu_plus_one", "identity"))
    causal = _choice(causal, "causal", _CAUSAL)
    lengths = _int_list(key_lengths, "key_lengths")
    tq, tk, tv = (_device_float(ctx, x, n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    return _returned(ctx._linear(tq, tk, tv, fm, causal, lengths, _out_dtype(out_dtype)), as_numpy, as_torch)

def matmul(a, w, bias=None, *, transpose_w=True, out_dtype=None, ctx=None):
    """Y = A W^T + bias (nn.Linear's layout; transpose_w=False: Y = A W), f32 accumulation (vkattn::matmul).

    a [..., M, K] (rank 2 to 4); w [N, K] ([K, N] with transpose_w=False); bias [N] or None; one dtype
    (float32 or float16); arrays or Tensor handles. Returns y [..., M, N] the kind a is, in out_dtype
    (default a's dtype).
    """
    ctx = _context_for(ctx, a, w, bias)
    as_numpy, as_torch = not isinstance(a, Tensor), _is_torch_tensor(a)
    ta, tw = _device_float(ctx, a, "a"), _device_float(ctx, w, "w")
    tb = None if bias is None else _device_float(ctx, bias, "bias")
    return _returned(ctx._matmul(ta, tw, tb, bool(transpose_w), _out_dtype(out_dtype)), as_numpy, as_torch)


def heatmap(weights, path, *, query_tokens=None, key_tokens=None, batch=0, head=0, mode="head", title="",
            max_cells=256, vmax=None):
    """Draws attention weights as `vkattn heatmap` does and writes a PNG or SVG (by path's extension).

    weights: [B, H, Lq, Lk] (a numpy array, a vkattn.Tensor, e.g. attention(..., return_weights=True).weights,
    or a PyTorch CPU tensor); mode: "head" (one head: `head`), "grid" (every head of `batch`) or "mean"
    (the mean over heads of `batch`); query_tokens / key_tokens: Lq / Lk labels (UTF-8), default indices;
    max_cells: average-pool each axis to at most this many cells (0: never); vmax: top of the colour
    scale (default: the largest value shown). Returns path. Errors name the argument (ValueError).
    """
    if not hasattr(_core, "_heatmap"):
        raise Error("heatmap: this build of vkattn has no drawing library (it was built without the tools: "
                    "-DVKATTN_BUILD_TOOLS=OFF)")
    if isinstance(weights, Tensor):
        weights = weights.numpy()
    elif _is_torch_tensor(weights):
        weights = _torch_to_numpy(weights, "weights")
    w = np.ascontiguousarray(np.asarray(weights), dtype=np.float32)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file name, got {type(path).__name__}")
    tokens = []
    for value, name in ((query_tokens, "query_tokens"), (key_tokens, "key_tokens")):
        if value is None:
            tokens.append([])
        elif isinstance(value, str) or not all(isinstance(t, str) for t in value):
            raise TypeError(f"{name}: expected a list of str")
        else:
            tokens.append(list(value))
    _choice(mode, "mode", ("head", "grid", "mean"))
    return _core._heatmap(w, os.fspath(path), tokens[0], tokens[1], int(batch), mode, int(head), str(title),
                          int(max_cells), None if vmax is None else float(vmax))


def bench(shapes="quick", *, filter=None, repeat=100, check=True, max_seconds_per_case=None, remeasure=False,
          progress=True, ctx=None):
    """Times one of `vkattn bench`'s shape sets on the device, as the program does, and returns its rows.

    shapes: "quick", "standard", "prefill", "decode", "memory", "local", "linear", "weights" or "gpu" (bench/README.md);
    filter: a str or a list of str: only the cases whose name contains one of them; repeat: at most this many
    timed runs per case (at least 3; runs stop once 200 ms were measured); check: compare each case's output
    with the host reference once; max_seconds_per_case: skip cases estimated to take longer (None: 20 s on
    CPU devices, no limit on GPUs; 0: no limit); remeasure: measure the device's roofline again instead of
    reading its cached figures; progress: a line per case on standard error. Runs on ctx (default: the
    module's context) with the GIL released.

    Returns a list of dicts, one per case, with the fields of the rows of `vkattn bench --json` (name, kind,
    status, note, device, shape, dtype, variant, timer, repeats, median_ms, min_ms, max_ms, gflops, gbps,
    pct_peak, pct_roofline, check, max_abs_err, ...): times are GPU timestamps where the device has them
    (timer == "gpu"); a figure that was not measured is None. A case whose output failed the check has
    check "FAIL" and the reason in note; a case over the time budget has status "skipped".
    """
    if not hasattr(_core, "_bench"):
        raise Error("bench: this build of vkattn has no benchmark library (it was built without the tools: "
                    "-DVKATTN_BUILD_TOOLS=OFF)")
    ctx = _context_for(ctx)
    if not isinstance(shapes, str):
        raise TypeError(f"shapes: expected a str, got {type(shapes).__name__}")
    if filter is None:
        filters = []
    elif isinstance(filter, str):
        filters = [filter]
    elif all(isinstance(f, str) for f in filter):
        filters = list(filter)
    else:
        raise TypeError("filter: expected a str or a list of str")
    if isinstance(repeat, bool) or not isinstance(repeat, int):
        raise TypeError(f"repeat: expected an int, got {type(repeat).__name__}")
    seconds = -1.0 if max_seconds_per_case is None else float(max_seconds_per_case)
    if max_seconds_per_case is not None and not (seconds >= 0 and math.isfinite(seconds)):
        raise ValueError(f"max_seconds_per_case: {max_seconds_per_case!r} (expected a non-negative number, 0: no "
                         "limit, or None)")
    text = _core._bench(ctx, shapes, filters, repeat, bool(check), seconds, bool(remeasure), bool(progress))
    return json.loads(text)["rows"]
