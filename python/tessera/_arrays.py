"""Argument checks and NumPy <-> C conversions shared by the modules."""
from __future__ import annotations

import ctypes
import numbers

import numpy as np


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def as_2d_float(X, name="X", dtypes=(np.float32, np.float64), default=np.float64, allow_empty=False):
    """X as a 2-D float array whose rows are contiguous (zero-copy when they already are).

    Returns (array, row_stride_in_elements). Float32/float64 keep their type; integer and bool
    input become `default`; anything else (complex, object, strings) is a TypeError.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: a sparse matrix is not accepted here; pass a dense array")
    a = np.asarray(X) if isinstance(X, np.ndarray) else _asarray(X, name)
    if a.dtype.kind == "c":
        raise TypeError(f"{name}: complex data is not supported (dtype {a.dtype})")
    if a.dtype.kind in "biu":
        a = a.astype(default)
    elif a.dtype.kind == "f":
        if a.dtype not in dtypes:
            a = a.astype(default if a.dtype.itemsize > 4 or np.float32 not in dtypes else np.float32)
    else:
        raise TypeError(f"{name}: expected numeric data, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got {a.ndim}-D with shape {a.shape}")
    if not allow_empty and (a.shape[0] == 0 or a.shape[1] == 0):
        raise ValueError(f"{name}: empty array of shape {a.shape}; at least one row and one column are needed")
    a = rows_contiguous(a)
    return a, row_stride(a)


def rows_contiguous(a: np.ndarray) -> np.ndarray:
    """`a` itself when each row is contiguous, native-endian and aligned with a row stride that is a
    multiple of the item size and covers a row (any padding between rows is fine); else a C copy."""
    item = a.itemsize
    n, d = a.shape
    ok = a.dtype.isnative and a.ctypes.data % item == 0
    if ok and d > 1:
        ok = a.strides[1] == item
    if ok and n > 1:
        ok = a.strides[0] % item == 0 and a.strides[0] >= d * item
    return a if ok else np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def row_stride(a: np.ndarray) -> int:
    """Row stride in elements of an array returned by rows_contiguous."""
    return a.strides[0] // a.itemsize if a.shape[0] > 1 else max(1, a.shape[1])


def _asarray(X, name):
    try:
        return np.asarray(X)
    except Exception as e:
        raise TypeError(f"{name}: cannot be converted to an array ({e})") from None


def dense_numeric(X, name):
    """X as a NumPy array of real numbers (no copy when it is one): TypeError for sparse
    matrices, objects that do not convert, and non-numeric dtypes."""
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: a sparse matrix is not accepted here; pass a dense array")
    a = _asarray(X, name)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numeric data, got dtype {a.dtype}")
    return a


def check_finite(a: np.ndarray, name="X"):
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinity")


def check_int(value, name, low=None, high=None, allow_none=False):
    """An integer parameter (bool and float are TypeErrors), within [low, high]."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_float(value, name, low=None, high=None, low_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def seed_from(random_state, default=42) -> int:
    """A 64-bit seed from scikit-learn's random_state (None: `default`, so runs repeat; an int; a
    RandomState/Generator: one draw from it)."""
    if random_state is None:
        return default
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError("random_state must be None, an int, or a numpy RandomState/Generator")
    if isinstance(random_state, (numbers.Integral, np.integer)):
        v = int(random_state)
        if v < 0 or v >= 2 ** 64:
            raise ValueError(f"random_state must be in [0, 2**64), got {v}")
        return v
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2 ** 31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2 ** 63 - 1))
    raise TypeError(f"random_state must be None, an int, or a numpy RandomState/Generator, got {type(random_state).__name__}")
