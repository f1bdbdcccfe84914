"""Scaled dot-product attention on NumPy arrays over include/tessera/attention.h.

Tensors are [batch, heads, seq, head_dim]; K and V may have fewer heads than Q (grouped-query /
multi-query attention: q_heads a multiple of kv_heads). Masks are bottom-right aligned (the last
query row sees the last key), as in a KV cache:

    O = tessera.attention.attention(Q, K, V, causal=True)                 # prefill
    O, lse = tessera.attention.decode(q, k_cache, v_cache, kv_len, return_lse=True)
    O, lse = tessera.attention.merge([O1, O2], [lse1, lse2])               # disjoint key sets

Q/K/V are float32 or float16 (other real types become float32); any strides with a contiguous
head_dim axis are used without a copy. Output is float32 (or float16 with out_dtype).
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import _lib
from ._arrays import check_float, check_int, dense_numeric, ptr
from ._lib import c_float, c_int32, c_int64, c_uint32, c_void_p, lib

__all__ = ["attention", "prefill", "decode", "merge"]

_size_t = ctypes.c_size_t
_F32, _F16 = 0, 2
MAX_HEAD_DIM = 256


class _Layout(ctypes.Structure):
    _fields_ = [("stride_batch", c_int64), ("stride_head", c_int64), ("stride_row", c_int64), ("extent", c_int64)]


class _Desc(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("batch", c_int64), ("q_heads", c_int64), ("kv_heads", c_int64),
                ("q_len", c_int64), ("kv_len", c_int64), ("head_dim", c_int64), ("q_dtype", c_int32),
                ("k_dtype", c_int32), ("v_dtype", c_int32), ("o_dtype", c_int32), ("scale", c_float),
                ("causal", c_int32), ("window_left", c_int64), ("window_right", c_int64),
                ("has_bitset", c_int32), ("has_bias", c_int32), ("want_lse", c_int32)] + \
        [(n, _Layout) for n in ("q", "k", "v", "o", "lse", "bits", "bias")]


class _Args(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("q", c_void_p), ("k", c_void_p), ("v", c_void_p), ("o", c_void_p),
                ("lse", c_void_p), ("mask_bits", c_void_p), ("bias", c_void_p), ("workspace", c_void_p),
                ("workspace_bytes", _size_t)]


_s = _lib._sig
_s("tsr_attn_desc_init", c_int32, c_void_p, c_int64, c_int64, c_int64, c_int64, c_int64, c_int64)
_s("tsr_attn_desc_check", c_int32, c_void_p)
_s("tsr_attention", c_int32, c_void_p, c_void_p, c_void_p)
_s("tsr_attn_merge", c_int32, c_void_p, c_int64, c_int64, c_int64, c_void_p, c_void_p, c_int64, c_void_p, c_void_p)


def _tensor(X, name, ndim=4, dtypes=(np.float32, np.float16), check_finite=True):
    a = dense_numeric(X, name)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array [batch, heads, seq, head_dim], got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: empty array of shape {a.shape}")
    if a.dtype not in dtypes or not a.dtype.isnative:
        a = a.astype(np.float32)
    if check_finite and not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinity (pass check_finite=False to let them propagate)")
    it = a.itemsize
    ok = a.ctypes.data % it == 0 and all(s >= 0 and s % it == 0 for s in a.strides) and \
        (a.shape[-1] == 1 or a.strides[-1] == it)
    if not ok:
        a = np.ascontiguousarray(a)
    return a


def _layout(a: np.ndarray) -> _Layout:
    """Element strides of the first three axes (0 for axes of length 1) and the touched extent."""
    it = a.itemsize
    st = [s // it if n > 1 else 0 for s, n in zip(a.strides, a.shape)]
    extent = 1 + sum((n - 1) * s for n, s in zip(a.shape, st))
    return _Layout(st[0], st[1], st[2], extent)


def _dtype_code(a):
    return _F16 if a.dtype == np.float16 else _F32


def attention(q, k, v, *, causal=False, window=None, scale=None, mask=None, bias=None, return_lse=False,
              out_dtype=np.float32, check_finite=True, n_threads=None):
    """softmax(scale·Q·Kᵀ + bias, masked)·V per (batch, query head); K/V head h // (q_heads/kv_heads).

    q: [batch, q_heads, q_len, head_dim]; k, v: [batch, kv_heads, kv_len, head_dim].
    causal: key c visible to query i iff c <= i + kv_len - q_len. window: (left, right) key
    counts around that diagonal (-1 or None: unbounded). scale: any finite value; None or 0 gives 1/sqrt(head_dim).
    mask: boolean [q_len, kv_len] or [batch, q_heads, q_len, kv_len], True = visible.
    bias: additive float32, broadcastable to [batch, q_heads, q_len, kv_len].
    Rows with no visible key get O = 0 and LSE = -inf. Returns O (float32, or out_dtype float16),
    and with return_lse also LSE [batch, q_heads, q_len] float32 (natural log, scale included).
    """
    Q = _tensor(q, "q", check_finite=check_finite)
    K = _tensor(k, "k", check_finite=check_finite)
    V = _tensor(v, "v", check_finite=check_finite)
    b, hq, lq, d = Q.shape
    if K.shape != V.shape:
        raise ValueError(f"k and v must have the same shape, got {K.shape} and {V.shape}")
    if K.shape[0] != b or K.shape[3] != d:
        raise ValueError(f"k/v shape {K.shape} does not match q {Q.shape} in batch or head_dim")
    hk, lk = K.shape[1], K.shape[2]
    if hq % hk:
        raise ValueError(f"q_heads ({hq}) must be a multiple of kv_heads ({hk})")
    if d > MAX_HEAD_DIM:
        raise ValueError(f"head_dim must be <= {MAX_HEAD_DIM}, got {d}")
    od = np.dtype(out_dtype)
    if od not in (np.float32, np.float16):
        raise TypeError(f"out_dtype must be float32 or float16, got {od}")

    desc = _Desc()
    desc.size = ctypes.sizeof(_Desc)
    _lib.check(lib.tsr_attn_desc_init(ctypes.byref(desc), b, hq, hk, lq, lk, d))
    desc.q_dtype, desc.k_dtype, desc.v_dtype = _dtype_code(Q), _dtype_code(K), _dtype_code(V)
    desc.o_dtype = _F16 if od == np.float16 else _F32
    desc.scale = 0.0 if scale is None else check_float(scale, "scale")  # 0: 1/sqrt(head_dim), as in C
    desc.causal = 1 if causal else 0
    wl, wr = (-1, -1) if window is None else _window(window)
    desc.window_left, desc.window_right = wl, wr
    desc.q, desc.k, desc.v = _layout(Q), _layout(K), _layout(V)
    O = np.empty((b, hq, lq, d), dtype=od)
    desc.o = _layout(O)
    args = _Args(size=ctypes.sizeof(_Args), q=Q.ctypes.data, k=K.ctypes.data, v=V.ctypes.data, o=O.ctypes.data)
    lse = None
    if return_lse:
        lse = np.empty((b, hq, lq), dtype=np.float32)
        desc.want_lse = 1
        desc.lse = _layout(lse)
        args.lse = lse.ctypes.data
    keep = []
    if mask is not None:
        words, lay = _bits(mask, b, hq, lq, lk)
        desc.has_bitset, desc.bits = 1, lay
        args.mask_bits = words.ctypes.data
        keep.append(words)
    if bias is not None:
        try:
            B = np.asarray(bias)
        except Exception as e:
            raise TypeError(f"bias: cannot be converted to an array ({e})") from None
        if B.dtype.kind not in "fiub":
            raise TypeError(f"bias: expected real numeric data, got dtype {B.dtype}")
        B = np.ascontiguousarray(B, dtype=np.float32)
        try:
            B = np.broadcast_to(B, (b, hq, lq, lk))
        except ValueError:
            raise ValueError(f"bias: shape {np.shape(bias)} does not broadcast to {(b, hq, lq, lk)}") from None
        if check_finite and np.isnan(B).any():
            raise ValueError("bias: contains NaN")
        desc.has_bias, desc.bias = 1, _layout(B)
        args.bias = B.ctypes.data
        keep.append(B)
    _lib.check(lib.tsr_attention(_lib.pool(n_threads), ctypes.byref(desc), ctypes.byref(args)))
    del keep
    return (O, lse) if return_lse else O


prefill = attention


def decode(q, k_cache, v_cache, kv_len, **kw):
    """Attention of the few rows q [batch, q_heads, q_len, head_dim] over the first kv_len rows of
    a KV cache [batch, kv_heads, max_context, head_dim] (read in place, not copied). Keyword
    arguments as attention()."""
    kc = np.asarray(k_cache)
    vc = np.asarray(v_cache)
    if kc.ndim != 4 or vc.ndim != 4:
        raise ValueError(f"k_cache/v_cache: expected 4-D arrays, got shapes {kc.shape} and {vc.shape}")
    n = check_int(kv_len, "kv_len", low=1, high=min(kc.shape[2], vc.shape[2]))
    return attention(q, kc[:, :, :n], vc[:, :, :n], **kw)


def _window(window):
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise TypeError(f"window must be a pair (left, right), got {window!r}")
    out = []
    for name, w in zip(("window left", "window right"), window):
        out.append(-1 if w is None else check_int(w, name, low=-1, high=2 ** 63 - 1))
    return tuple(out)


def _bits(mask, b, h, lq, lk):
    try:
        m = np.asarray(mask)
    except Exception as e:
        raise TypeError(f"mask: cannot be converted to an array ({e})") from None
    if m.dtype != np.bool_:
        raise TypeError(f"mask: expected a boolean array (True = visible), got dtype {m.dtype}")
    if m.shape == (lq, lk):
        bits = np.packbits(np.ascontiguousarray(m).ravel(), bitorder="little")
        lay = _Layout(0, 0, lk, lq * lk)
    elif m.shape == (b, h, lq, lk):
        bits = np.packbits(np.ascontiguousarray(m).ravel(), bitorder="little")
        lay = _Layout(h * lq * lk, lq * lk, lk, b * h * lq * lk)
    else:
        raise ValueError(f"mask: expected shape {(lq, lk)} or {(b, h, lq, lk)}, got {m.shape}")
    words = np.zeros((bits.size + 7) // 8, dtype="<u8")
    words.view(np.uint8)[:bits.size] = bits
    return words, lay


def merge(outputs, lses, *, n_threads=None):
    """Merges partial results over disjoint key sets: LSE = ln Σ exp(lse_p), O = Σ exp(lse_p − LSE)·O_p.

    outputs: a sequence of arrays [..., rows, head_dim] of one shape; lses: matching [..., rows].
    Parts are folded in order. Returns (O float32, LSE float32) of those shapes.
    """
    if not isinstance(outputs, (list, tuple)) or not isinstance(lses, (list, tuple)):
        raise TypeError("outputs and lses must be lists (or tuples) of arrays")
    if len(outputs) == 0 or len(outputs) != len(lses):
        raise ValueError(f"need one lse per output and at least one part (got {len(outputs)} and {len(lses)})")
    os_, ls_ = [], []
    shape = None
    for i, (o, l) in enumerate(zip(outputs, lses)):
        try:
            o = np.ascontiguousarray(o, dtype=np.float32)
            l = np.ascontiguousarray(l, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"part {i}: not real numeric arrays ({e})") from None
        if o.ndim < 1 or o.size == 0:
            raise ValueError(f"outputs[{i}]: expected a non-empty array [..., rows, head_dim], got shape {o.shape}")
        if shape is None:
            shape = o.shape
        if o.shape != shape:
            raise ValueError(f"outputs[{i}]: shape {o.shape} differs from outputs[0] {shape}")
        if l.shape != shape[:-1]:
            raise ValueError(f"lses[{i}]: expected shape {shape[:-1]}, got {l.shape}")
        if np.isnan(o).any() or np.isnan(l).any() or (l == np.inf).any():
            raise ValueError(f"part {i}: contains NaN (or an lse of +inf)")
        os_.append(o)
        ls_.append(l)
    d = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    n = len(os_)
    op = (c_void_p * n)(*[o.ctypes.data for o in os_])
    lp = (c_void_p * n)(*[l.ctypes.data for l in ls_])
    O = np.empty(shape, dtype=np.float32)
    L = np.empty(shape[:-1], dtype=np.float32)
    _lib.check(lib.tsr_attn_merge(_lib.pool(n_threads), n, rows, d, op, lp, d, ptr(O), ptr(L)))
    return O, L
