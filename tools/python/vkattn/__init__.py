"""vkattn from Python: attention on any Vulkan device (docs/python.md).

    import numpy as np, vkattn
    out = vkattn.scaled_dot_product_attention(q, k, v, is_causal=True)

scaled_dot_product_attention follows torch.nn.functional.scaled_dot_product_attention's semantics
(PyTorch's documentation), with these differences: a row whose keys are all masked out gives zeros (PyTorch
gives NaN), dropout_p must be 0 (vkattn is an inference engine), and scale must be finite and non-zero.

The computation runs in the extension module vkattn._vkattn on one default context, created on the first
call (the environment variable VKATTN_DEVICE selects the device; see device()).
"""

import math
import sys

import numpy as np

from ._vkattn import (  # noqa: F401  (the public names of the package)
    DeviceLostError,
    Error,
    NoDeviceError,
    OutOfMemoryError,
    UnsupportedError,
    VulkanError,
    __version__,
    _attention,
    device,
)

__all__ = [
    "scaled_dot_product_attention",
    "device",
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
