"""Quantized weights (GGUF/ggml blocks and Tessera group formats) over include/tessera/quant.h.

    data, stats = tessera.quant.quantize(W, "q4_0")      # W: N×K float32 -> N×row_bytes uint8
    W2 = tessera.quant.dequantize(data, "q4_0")           # N×K float32
    Y = tessera.quant.QuantizedMatrix(data, "q4_0").matmul(X)   # X·Wᵀ (+ bias), X: M×K float32

`data` holds the format's storage bytes, row by row (byte-exact with ggml for the GGUF formats),
so it can be written into / read from a GGUF tensor. A QuantizedMatrix repacks the weights once
into a qgemm plan (the source bytes are not referenced afterwards); its products quantize each
row of X to int8 on the fly (integer formats), exactly as the C kernels document.
"""
from __future__ import annotations

import ctypes
from collections import namedtuple

import numpy as np

from . import _lib
from ._arrays import check_int, dense_numeric, ptr
from ._lib import c_char_p, c_double, c_int32, c_int64, c_uint32, c_void_p, lib

__all__ = ["FORMATS", "QuantStats", "QuantizedMatrix", "traits", "row_bytes", "quantize", "dequantize"]

_size_t = ctypes.c_size_t


class _Traits(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("format", c_int32), ("name", c_char_p), ("block_elems", c_int32),
                ("block_bytes", c_int32), ("bits_per_weight", c_double), ("weight_bits", c_int32),
                ("group_size", c_int32), ("scale_dtype", c_int32), ("has_zero_point", c_int32),
                ("has_min", c_int32), ("ggml_type", c_int32), ("act_block", c_int32)]


class _Matrix(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("format", c_int32), ("n", c_int64), ("k", c_int64), ("data", c_void_p),
                ("row_stride", _size_t), ("data_bytes", _size_t)]


class _Stats(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("max_abs_error", c_double), ("rms_error", c_double),
                ("max_abs_value", c_double), ("rms_value", c_double)]


class _PlanInfo(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("format", c_int32), ("n", c_int64), ("k", c_int64),
                ("source_bytes", _size_t), ("packed_bytes", _size_t), ("panel_rows", c_int32),
                ("group", c_int32), ("act_block", c_int32), ("isa", c_int32), ("kernel", ctypes.c_char * 48)]


_s = _lib._sig
_s("tsr_quant_traits_get", c_int32, c_int32, c_void_p)
_s("tsr_quant_format_name", c_char_p, c_int32)
_s("tsr_quant_format_parse", c_int32, c_char_p, ctypes.POINTER(c_int32))
_s("tsr_quant_row_bytes", c_int32, c_int32, c_int64, ctypes.POINTER(_size_t))
_s("tsr_quant_matrix_check", c_int32, c_void_p)
_s("tsr_quantize", c_int32, c_void_p, c_int32, c_void_p, c_int64, c_int64, c_int64, c_void_p, _size_t, c_void_p)
_s("tsr_dequantize", c_int32, c_void_p, c_void_p, c_void_p, c_int64)
_s("tsr_qgemm_params_default", None, c_void_p)
_s("tsr_qgemm_plan_create", c_int32, c_void_p, c_void_p, c_void_p, ctypes.POINTER(c_void_p))
_s("tsr_qgemm_plan_destroy", None, c_void_p)
_s("tsr_qgemm_plan_info_get", c_int32, c_void_p, c_void_p)
_s("tsr_qgemm_plan_dequantize", c_int32, c_void_p, c_void_p, c_int64)
_s("tsr_qgemm_execute", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_int64, c_void_p, c_void_p, c_int64,
   c_void_p, _size_t)

def _format_names():
    """Every format the loaded library knows: ids count up until tsr_quant_format_name says "invalid"."""
    names = []
    while (name := lib.tsr_quant_format_name(len(names)).decode()) != "invalid":
        names.append(name)
    return tuple(names)


FORMATS = _format_names()
_COUNT = len(FORMATS)
"""Format names in tsr_quant_format order ("f32", "f16", "bf16", "q4_0", ...)."""

QuantStats = namedtuple("QuantStats", ["max_abs_error", "rms_error", "max_abs_value", "rms_value"])


def _format(fmt) -> int:
    """A tsr_quant_format value from a name ("q4_0", case-insensitive) or an integer."""
    if isinstance(fmt, str):
        out = c_int32()
        _lib.check(lib.tsr_quant_format_parse(fmt.encode(), ctypes.byref(out)))
        return out.value
    v = check_int(fmt, "format")
    if not 0 <= v < _COUNT:
        raise ValueError(f"format must be a name in tessera.quant.FORMATS or 0..{_COUNT - 1}, got {v}")
    return v


def traits(fmt) -> dict:
    """The format's static description (block_elems, block_bytes, bits_per_weight, ggml_type, ...)."""
    t = _Traits(size=ctypes.sizeof(_Traits))
    _lib.check(lib.tsr_quant_traits_get(_format(fmt), ctypes.byref(t)))
    d = {name: getattr(t, name) for name, _ in _Traits._fields_ if name != "size"}
    d["name"] = d["name"].decode()
    return d


def row_bytes(fmt, k) -> int:
    """Bytes of one row of `k` weights (k a positive multiple of the block size)."""
    k = check_int(k, "k", low=1)
    out = _size_t()
    _lib.check(lib.tsr_quant_row_bytes(_format(fmt), k, ctypes.byref(out)))
    return out.value


def _float_matrix(X, name, ndim_ok=(2,)):
    """X as a float32 array with contiguous rows (a copy only when needed); TypeError for non-numeric."""
    a = dense_numeric(X, name)
    if a.ndim not in ndim_ok:
        raise ValueError(f"{name}: expected a {' or '.join(f'{d}-D' for d in ndim_ok)} array, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: empty array of shape {a.shape}")
    if a.dtype != np.float32 or not a.dtype.isnative:
        a = a.astype(np.float32)
    if a.ndim == 2:
        n, d = a.shape
        ok = a.ctypes.data % 4 == 0 and (d == 1 or a.strides[1] == 4) and \
            (n == 1 or (a.strides[0] % 4 == 0 and a.strides[0] >= 4 * d))
        if not ok:
            a = np.ascontiguousarray(a)
    else:
        a = np.ascontiguousarray(a)
    return a


def _ld(a: np.ndarray) -> int:
    return a.strides[0] // 4 if a.shape[0] > 1 else a.shape[1]


def quantize(X, format, *, n_threads=None):
    """Quantizes the N×K matrix X (float32; other real types are converted) to `format`.

    Returns (data, stats): data is an N×row_bytes uint8 array of the storage blocks, rows packed
    back to back; stats a QuantStats of |X − dequantize(data)|. K must be a multiple of the
    format's block size. ValueError for NaN/inf in X (the C message names the row and column)
    and for values whose block scale overflows the format (TSR_ERANGE).
    """
    fmt = _format(format)
    a = _float_matrix(X, "X")
    n, k = a.shape
    rb = row_bytes(fmt, k)
    out = np.zeros((n, rb), dtype=np.uint8)
    st = _Stats(size=ctypes.sizeof(_Stats))
    _lib.check(lib.tsr_quantize(_lib.pool(n_threads), fmt, ptr(a), n, k, _ld(a), ptr(out), out.nbytes,
                                ctypes.byref(st)))
    return out, QuantStats(st.max_abs_error, st.rms_error, st.max_abs_value, st.rms_value)


def _as_bytes(data, fmt, shape):
    """A tsr_quant_matrix descriptor over `data` (kept alive by the caller) and the array used."""
    try:
        a = np.asarray(data)
    except Exception as e:
        raise TypeError(f"data: cannot be converted to an array ({e})") from None
    if a.dtype != np.uint8:
        raise TypeError(f"data: expected a uint8 array (the quantized bytes), got dtype {a.dtype}")
    t = traits(fmt)
    if shape is not None:
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise TypeError(f"shape must be a pair (n, k), got {shape!r}")
        n, k = check_int(shape[0], "n", low=1), check_int(shape[1], "k", low=1)
        rb = row_bytes(fmt, k)
        if a.ndim == 1:
            a = np.ascontiguousarray(a)
            if a.size < n * rb:
                raise ValueError(f"data: {a.size} bytes are fewer than {n} rows of {rb} bytes")
            a = a[:n * rb].reshape(n, rb)
        elif a.ndim != 2 or a.shape[0] != n or a.shape[1] != rb:
            raise ValueError(f"data: shape {a.shape} does not hold {n} rows of {rb} bytes (k = {k})")
    else:
        if a.ndim != 2:
            raise ValueError(f"data: expected an N×row_bytes uint8 array (or pass shape=(n, k)), got shape {a.shape}")
        n, rb = a.shape
        if n == 0 or rb == 0 or rb % t["block_bytes"]:
            raise ValueError(f"data: rows of {rb} bytes are not a whole number (>= 1) of "
                             f"{t['block_bytes']}-byte {t['name']} blocks")
        k = rb // t["block_bytes"] * t["block_elems"]
    if not ((rb == 1 or a.strides[1] == 1) and (n == 1 or a.strides[0] >= rb)):
        a = np.ascontiguousarray(a)
    stride = a.strides[0] if n > 1 else rb
    m = _Matrix(size=ctypes.sizeof(_Matrix), format=fmt, n=n, k=k, data=a.ctypes.data, row_stride=stride,
                data_bytes=(n - 1) * stride + rb)
    _lib.check(lib.tsr_quant_matrix_check(ctypes.byref(m)))
    return m, a


def dequantize(data, format, *, shape=None, n_threads=None) -> np.ndarray:
    """The float32 N×K matrix of quantized bytes `data` (N×row_bytes uint8, as quantize returns;
    a flat buffer needs shape=(n, k))."""
    fmt = _format(format)
    m, keep = _as_bytes(data, fmt, shape)
    out = np.empty((m.n, m.k), dtype=np.float32)
    _lib.check(lib.tsr_dequantize(_lib.pool(n_threads), ctypes.byref(m), ptr(out), m.k))
    del keep
    return out


class QuantizedMatrix:
    """N×K quantized weights W repacked once into a qgemm plan; `matmul(X)` = X·Wᵀ (+ bias).

    `data` is the storage bytes (N×row_bytes uint8, or flat with shape=(n, k)); the plan copies
    them, so `data` may be freed afterwards. Use `QuantizedMatrix.from_float(W, format)` to
    quantize and plan in one go. Thread-safe (concurrent matmul calls on one plan share its scratch and serialise).
    """

    def __init__(self, data, format, *, shape=None, n_threads=None):
        self.format = FORMATS[_format(format)]
        self.n_threads = n_threads
        m, keep = _as_bytes(data, _format(format), shape)
        self.shape = (int(m.n), int(m.k))
        params = (ctypes.c_uint32 * 2)()
        lib.tsr_qgemm_params_default(params)
        h = c_void_p()
        _lib.check(lib.tsr_qgemm_plan_create(_lib.pool(n_threads), ctypes.byref(m), params, ctypes.byref(h)))
        self._h = h
        del keep

    @classmethod
    def from_float(cls, W, format, *, n_threads=None):
        data, _ = quantize(W, format, n_threads=n_threads)
        return cls(data, format, n_threads=n_threads)

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and lib is not None:
            lib.tsr_qgemm_plan_destroy(h)
            self._h = None

    def info(self) -> dict:
        """What the plan holds: source/packed bytes, panel rows, group, kernel name, ..."""
        i = _PlanInfo(size=ctypes.sizeof(_PlanInfo))
        _lib.check(lib.tsr_qgemm_plan_info_get(self._h, ctypes.byref(i)))
        d = {name: getattr(i, name) for name, _ in _PlanInfo._fields_ if name != "size"}
        d["kernel"] = d["kernel"].decode()
        d["format"] = FORMATS[d["format"]]
        return d

    def dequantize(self) -> np.ndarray:
        """The plan's weights as float32 N×K (bit-identical to tessera.quant.dequantize)."""
        out = np.empty(self.shape, dtype=np.float32)
        _lib.check(lib.tsr_qgemm_plan_dequantize(self._h, ptr(out), self.shape[1]))
        return out

    def matmul(self, X, bias=None) -> np.ndarray:
        """Y = X·Wᵀ (+ bias) in float32: X is M×K (or a K-vector, giving an N-vector)."""
        n, k = self.shape
        vec = np.ndim(X) == 1
        a = _float_matrix(X, "X", ndim_ok=(1, 2))
        if vec:
            a = a.reshape(1, -1)
        if a.shape[1] != k:
            raise ValueError(f"X: {a.shape[1]} features, but the weights have k = {k}")
        b = None
        if bias is not None:
            b = _float_matrix(bias, "bias", ndim_ok=(1,))
            if b.shape != (n,):
                raise ValueError(f"bias: expected shape ({n},), got {b.shape}")
        m = a.shape[0]
        y = np.empty((m, n), dtype=np.float32)
        _lib.check(lib.tsr_qgemm_execute(_lib.pool(self.n_threads), self._h, m, ptr(a), _ld(a),
                                         None if b is None else ptr(b), ptr(y), n, None, 0))
        return y[0] if vec else y

    def __repr__(self):
        return f"QuantizedMatrix(format={self.format!r}, shape={self.shape})"
