"""MPI-style derived datatypes and pack/unpack of NumPy buffers over include/tessera/datatype.h.

    dbl = Datatype.named(np.float64)
    face = Datatype.subarray([256, 256, 256], [256, 256, 1], [0, 0, 0], dbl).commit()
    packed = face.pack(grid)            # uint8 array of face.size bytes
    face.unpack(packed, grid2)          # scatters them back

Displacements are relative to the start of the NumPy buffer; pack/unpack refuse (ValueError)
any type whose touched bytes would fall outside the buffer, so a bad type cannot read or write
out of bounds. Buffers must be C-contiguous (unpack's writable too).
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import _lib
from ._arrays import check_int
from ._lib import c_int32, c_int64, c_void_p, lib

__all__ = ["Datatype"]

_P = ctypes.POINTER
_s = _lib._sig
_s("tsr_datatype_named", c_int32, c_int32, _P(c_void_p))
_s("tsr_datatype_contiguous", c_int32, c_int64, c_void_p, _P(c_void_p))
_s("tsr_datatype_vector", c_int32, c_int64, c_int64, c_int64, c_void_p, _P(c_void_p))
_s("tsr_datatype_hvector", c_int32, c_int64, c_int64, c_int64, c_void_p, _P(c_void_p))
_s("tsr_datatype_indexed", c_int32, c_int64, c_void_p, c_void_p, c_void_p, _P(c_void_p))
_s("tsr_datatype_hindexed", c_int32, c_int64, c_void_p, c_void_p, c_void_p, _P(c_void_p))
_s("tsr_datatype_indexed_block", c_int32, c_int64, c_int64, c_void_p, c_void_p, _P(c_void_p))
_s("tsr_datatype_hindexed_block", c_int32, c_int64, c_int64, c_void_p, c_void_p, _P(c_void_p))
_s("tsr_datatype_struct", c_int32, c_int64, c_void_p, c_void_p, c_void_p, _P(c_void_p))
_s("tsr_datatype_subarray", c_int32, c_int32, c_void_p, c_void_p, c_void_p, c_int32, c_void_p, _P(c_void_p))
_s("tsr_datatype_resized", c_int32, c_void_p, c_int64, c_int64, _P(c_void_p))
_s("tsr_datatype_commit", c_int32, c_void_p)
_s("tsr_datatype_destroy", c_int32, c_void_p)
_s("tsr_datatype_size", c_int32, c_void_p, _P(c_int64))
_s("tsr_datatype_extent", c_int32, c_void_p, _P(c_int64), _P(c_int64))
_s("tsr_datatype_true_extent", c_int32, c_void_p, _P(c_int64), _P(c_int64))
_s("tsr_datatype_is_committed", c_int32, c_void_p, _P(c_int32))
_s("tsr_datatype_describe", c_int32, c_void_p, c_void_p, ctypes.c_size_t, _P(ctypes.c_size_t))
_s("tsr_datatype_pack_size", c_int32, c_int64, c_void_p, _P(c_int64))
_s("tsr_datatype_pack", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_void_p, c_int64, _P(c_int64))
_s("tsr_datatype_unpack", c_int32, c_void_p, c_void_p, c_int64, _P(c_int64), c_void_p, c_int64, c_void_p)

_NAMED = {"byte": 0, "char": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "uint8": 6, "uint16": 7,
          "uint32": 8, "uint64": 9, "float": 10, "float32": 10, "double": 11, "float64": 11,
          "complex_float": 12, "complex64": 12, "complex_double": 13, "complex128": 13, "bool": 14}


def _i64(values, name):
    try:
        a = np.asarray(values)
    except Exception as e:
        raise TypeError(f"{name}: cannot be converted to an array ({e})") from None
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of integers, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integers, got dtype {a.dtype}")
    if a.size and a.dtype.kind == "u" and a.max() > 2 ** 63 - 1:
        raise ValueError(f"{name}: values must fit in int64")
    return np.ascontiguousarray(a, dtype=np.int64)


def _arr_ptr(a):
    return a.ctypes.data if a.size else None


class Datatype:
    """A tsr_datatype_t handle (released with the object). Build with the classmethods, then
    commit() before pack/unpack. Building blocks may be dropped once a type is built from them."""

    def __init__(self, _handle):
        self._h = _handle

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and lib is not None:
            lib.tsr_datatype_destroy(h)
            self._h = None

    @staticmethod
    def _make(fn, *args):
        out = c_void_p()
        _lib.check(fn(*args, ctypes.byref(out)))
        return Datatype(out)

    @staticmethod
    def _old(old, name="old"):
        if not isinstance(old, Datatype):
            raise TypeError(f"{name} must be a tessera.datatype.Datatype, got {type(old).__name__}")
        return old._h

    # ---- constructors ----
    @classmethod
    def named(cls, kind):
        """A predefined type: a NumPy dtype (float64, int32, complex64, bool, ...) or a name
        ("byte", "char", "double", ...)."""
        if isinstance(kind, str) and kind.lower() in _NAMED:
            code = _NAMED[kind.lower()]
        else:
            try:
                dt = np.dtype(kind)
            except Exception:
                raise TypeError(f"kind must be a NumPy dtype or one of {sorted(_NAMED)}, got {kind!r}") from None
            if dt.name not in _NAMED:
                raise TypeError(f"no named Tessera type for dtype {dt}")
            code = _NAMED[dt.name]
        return cls._make(lib.tsr_datatype_named, code)

    @classmethod
    def contiguous(cls, count, old):
        return cls._make(lib.tsr_datatype_contiguous, check_int(count, "count"), cls._old(old))

    @classmethod
    def vector(cls, count, blocklen, stride, old):
        """count blocks of blocklen olds, block i at i·stride·extent(old)."""
        return cls._make(lib.tsr_datatype_vector, check_int(count, "count"), check_int(blocklen, "blocklen"),
                         check_int(stride, "stride"), cls._old(old))

    @classmethod
    def hvector(cls, count, blocklen, stride_bytes, old):
        return cls._make(lib.tsr_datatype_hvector, check_int(count, "count"), check_int(blocklen, "blocklen"),
                         check_int(stride_bytes, "stride_bytes"), cls._old(old))

    @classmethod
    def _lists(cls, fn, blocklens, displs, old):
        bl, dp = _i64(blocklens, "blocklens"), _i64(displs, "displs")
        if bl.size != dp.size:
            raise ValueError(f"blocklens and displs must have the same length, got {bl.size} and {dp.size}")
        return cls._make(fn, bl.size, _arr_ptr(bl), _arr_ptr(dp), cls._old(old))

    @classmethod
    def indexed(cls, blocklens, displs, old):
        """Block i: blocklens[i] olds at displs[i]·extent(old)."""
        return cls._lists(lib.tsr_datatype_indexed, blocklens, displs, old)

    @classmethod
    def hindexed(cls, blocklens, displs_bytes, old):
        return cls._lists(lib.tsr_datatype_hindexed, blocklens, displs_bytes, old)

    @classmethod
    def indexed_block(cls, blocklen, displs, old):
        dp = _i64(displs, "displs")
        return cls._make(lib.tsr_datatype_indexed_block, dp.size, check_int(blocklen, "blocklen"), _arr_ptr(dp),
                         cls._old(old))

    @classmethod
    def hindexed_block(cls, blocklen, displs_bytes, old):
        dp = _i64(displs_bytes, "displs_bytes")
        return cls._make(lib.tsr_datatype_hindexed_block, dp.size, check_int(blocklen, "blocklen"), _arr_ptr(dp),
                         cls._old(old))

    @classmethod
    def struct(cls, blocklens, displs_bytes, types):
        """Block i: blocklens[i] copies of types[i] at displs_bytes[i] bytes (MPI extent rules)."""
        bl, dp = _i64(blocklens, "blocklens"), _i64(displs_bytes, "displs_bytes")
        types = list(types)
        if not bl.size == dp.size == len(types):
            raise ValueError(f"blocklens, displs_bytes and types must have one length, got "
                             f"{bl.size}, {dp.size}, {len(types)}")
        hs = (c_void_p * max(1, len(types)))(*[cls._old(t, "types[i]") for t in types])
        return cls._make(lib.tsr_datatype_struct, bl.size, _arr_ptr(bl), _arr_ptr(dp), hs if types else None)

    @classmethod
    def subarray(cls, sizes, subsizes, starts, old, order="C"):
        """The sub-block subsizes at starts of an array of sizes olds (extent: the whole array)."""
        sz, sub, st = _i64(sizes, "sizes"), _i64(subsizes, "subsizes"), _i64(starts, "starts")
        if not sz.size == sub.size == st.size:
            raise ValueError(f"sizes, subsizes and starts must have one length, got {sz.size}, {sub.size}, {st.size}")
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F', got {order!r}")
        return cls._make(lib.tsr_datatype_subarray, min(sz.size, 2 ** 31 - 1), _arr_ptr(sz), _arr_ptr(sub),
                         _arr_ptr(st), 0 if order == "C" else 1, cls._old(old))

    @classmethod
    def resized(cls, old, lb, extent):
        return cls._make(lib.tsr_datatype_resized, cls._old(old), check_int(lb, "lb"), check_int(extent, "extent"))

    # ---- commit and queries ----
    def commit(self):
        """Computes the canonical form (needed before pack/unpack). Returns self."""
        _lib.check(lib.tsr_datatype_commit(self._h))
        return self

    @property
    def committed(self) -> bool:
        c = c_int32()
        _lib.check(lib.tsr_datatype_is_committed(self._h, ctypes.byref(c)))
        return bool(c.value)

    @property
    def size(self) -> int:
        """Bytes of data in one element (what pack writes per element)."""
        v = c_int64()
        _lib.check(lib.tsr_datatype_size(self._h, ctypes.byref(v)))
        return v.value

    @property
    def extent(self):
        """(lb, extent) in bytes."""
        lb, ex = c_int64(), c_int64()
        _lib.check(lib.tsr_datatype_extent(self._h, ctypes.byref(lb), ctypes.byref(ex)))
        return lb.value, ex.value

    @property
    def true_extent(self):
        """(true_lb, true_extent): the span of the bytes actually touched."""
        lb, ex = c_int64(), c_int64()
        _lib.check(lib.tsr_datatype_true_extent(self._h, ctypes.byref(lb), ctypes.byref(ex)))
        return lb.value, ex.value

    def describe(self) -> str:
        need = ctypes.c_size_t()
        _lib.check(lib.tsr_datatype_describe(self._h, None, 0, ctypes.byref(need)))
        buf = ctypes.create_string_buffer(need.value + 1)
        _lib.check(lib.tsr_datatype_describe(self._h, buf, len(buf), None))
        return buf.value.decode(errors="replace")

    def __repr__(self):
        return f"Datatype({self.describe()})"

    def pack_size(self, count=1) -> int:
        v = c_int64()
        _lib.check(lib.tsr_datatype_pack_size(check_int(count, "count", low=0), self._h, ctypes.byref(v)))
        return v.value

    # ---- pack / unpack ----
    def _check_span(self, buf: np.ndarray, count: int, name: str):
        if count == 0 or self.size == 0:
            return
        _, ext = self.extent
        tlb, tex = self.true_extent
        lo = tlb + min(0, (count - 1) * ext)
        hi = tlb + tex + max(0, (count - 1) * ext)
        if lo < 0 or hi > buf.nbytes:
            raise ValueError(f"{name}: {count} element(s) of this type touch bytes [{lo}, {hi}) but the buffer "
                             f"holds {buf.nbytes} bytes from its start")

    @staticmethod
    def _buffer(buf, name, writable=False):
        if not isinstance(buf, np.ndarray):
            if writable:
                raise TypeError(f"{name} must be a NumPy array")
            try:
                buf = np.asarray(buf)
            except Exception as e:
                raise TypeError(f"{name}: cannot be converted to an array ({e})") from None
        if buf.dtype.hasobject:
            raise TypeError(f"{name}: object arrays hold pointers, not data")
        if not buf.flags.c_contiguous:
            raise ValueError(f"{name}: must be C-contiguous (the type's displacements are byte offsets into it)")
        if writable and not buf.flags.writeable:
            raise ValueError(f"{name}: is read-only")
        return buf

    def pack(self, buf, count=1, *, n_threads=None) -> np.ndarray:
        """MPI_Pack of `count` elements (element i at i·extent from the start of `buf`): a uint8
        array of pack_size(count) bytes, in type-map order."""
        count = check_int(count, "count", low=0)
        buf = self._buffer(buf, "buf")
        self._check_span(buf, count, "buf")
        out = np.empty(self.pack_size(count), dtype=np.uint8)
        pos = c_int64(0)
        _lib.check(lib.tsr_datatype_pack(_lib.pool(n_threads), buf.ctypes.data if buf.nbytes else None, count,
                                         self._h, out.ctypes.data if out.size else None, out.size,
                                         ctypes.byref(pos)))
        return out

    def unpack(self, packed, out, count=1, *, n_threads=None) -> np.ndarray:
        """MPI_Unpack: scatters the bytes of `packed` (as pack wrote them) into `count` elements
        of `out` (C-contiguous, writable). Returns out."""
        count = check_int(count, "count", low=0)
        src = self._buffer(packed, "packed")
        out = self._buffer(out, "out", writable=True)
        self._check_span(out, count, "out")
        pos = c_int64(0)
        _lib.check(lib.tsr_datatype_unpack(_lib.pool(n_threads), src.ctypes.data if src.nbytes else None,
                                           src.nbytes, ctypes.byref(pos), out.ctypes.data if out.nbytes else None,
                                           count, self._h))
        return out
