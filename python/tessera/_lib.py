"""Loading libtessera (and libTesseraCABI for clustering) through ctypes; errors; pools.

ctypes.CDLL (not PyDLL) releases the GIL for the duration of every foreign call, so other
Python threads run while a Tessera kernel computes. Pass NumPy buffers, never Python objects.
"""
from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

c_int32, c_int64, c_uint32, c_uint64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
c_double, c_float, c_void_p, c_char_p = ctypes.c_double, ctypes.c_float, ctypes.c_void_p, ctypes.c_char_p

_HERE = Path(__file__).resolve().parent

# tsr_status values (include/tessera/core.h)
TSR_OK, TSR_EINVAL, TSR_ENOMEM, TSR_ERANGE, TSR_EFORMAT, TSR_EUNSUPPORTED, TSR_EIO, TSR_ESTATE, TSR_EINTERNAL = range(9)


class TesseraError(Exception):
    """Base of every error raised from a Tessera status. `status` is the tsr_status value."""

    status = None

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class TesseraValueError(TesseraError, ValueError):
    """TSR_EINVAL / TSR_ERANGE / TSR_EFORMAT: the arguments (or a file) are wrong."""


class TesseraMemoryError(TesseraError, MemoryError):
    """TSR_ENOMEM: an allocation failed or would take more than half of the physical memory."""


class TesseraOSError(TesseraError, OSError):
    """TSR_EIO: a file or OS error."""


class TesseraUnsupportedError(TesseraError, NotImplementedError):
    """TSR_EUNSUPPORTED: a valid request this build or CPU cannot serve."""


class TesseraRuntimeError(TesseraError, RuntimeError):
    """TSR_ESTATE / TSR_EINTERNAL."""


_EXC = {TSR_EINVAL: TesseraValueError, TSR_ERANGE: TesseraValueError, TSR_EFORMAT: TesseraValueError,
        TSR_ENOMEM: TesseraMemoryError, TSR_EIO: TesseraOSError, TSR_EUNSUPPORTED: TesseraUnsupportedError,
        TSR_ESTATE: TesseraRuntimeError, TSR_EINTERNAL: TesseraRuntimeError}


def _find(names, env):
    candidates = []
    if os.environ.get(env):
        candidates.append(Path(os.environ[env]))
    for name in names:
        candidates.append(_HERE / "_lib" / name)                       # bundled by the build
        candidates.append(_HERE.parent.parent / "build" / "lib" / name)  # a source checkout (python/tessera)
    for c in candidates:
        if c.exists():
            return str(c)
    return None


def _load_core():
    path = _find(["libtessera.so", "libtessera.so.0"], "TESSERA_LIB")
    if path is None:
        raise ImportError("libtessera.so not found: install the package with `pip install ./python` "
                          "(it runs `make lib`), or set TESSERA_LIB")
    lib = ctypes.CDLL(path)
    lib._path = path
    return lib


lib = _load_core()


def _sig(name, restype, *argtypes, target=None):
    f = getattr(target or lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_sig("tsr_last_error", c_char_p)
_sig("tsr_status_string", c_char_p, c_int32)
_sig("tsr_version_string", c_char_p)
_sig("tsr_isa_name", c_char_p, c_int32)
_sig("tsr_isa_active", c_int32)
_sig("tsr_isa_supported", c_int32)
_sig("tsr_pool_create", c_int32, c_void_p, ctypes.POINTER(c_void_p))
_sig("tsr_pool_destroy", c_int32, c_void_p)
_sig("tsr_pool_num_threads", c_int32, c_void_p)
_sig("tsr_pool_params_default", None, c_void_p)


def _status_name(status: int) -> str:
    try:
        return lib.tsr_status_string(status).decode()
    except Exception:  # pragma: no cover
        return f"status {status}"


def check(status: int, message_fn=None) -> None:
    """Raises the exception for a non-zero tsr_status, carrying the C message."""
    if status == TSR_OK:
        return
    msg = (message_fn or lib.tsr_last_error)()
    msg = msg.decode(errors="replace") if msg else ""
    raise _EXC.get(status, TesseraRuntimeError)(f"{msg} ({_status_name(status)})", status)


# ---- pools --------------------------------------------------------------------

class PoolParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("n_threads", c_int32), ("bind", c_int32), ("spin_us", c_int32),
                ("scratch_bytes", ctypes.c_size_t)]


_BIND = {"core": 0, "scatter": 1, "none": 2}
_pools: dict[int, int] = {}
_pools_lock = threading.Lock()


def pool(n_threads) -> int | None:
    """The pool for `n_threads` workers (None or 0: one per core / TESSERA_NUM_THREADS), created once.

    Pools made for Python do not bind threads to cores unless TESSERA_BIND says so: the calling
    thread joins a pool as its worker 0, and binding the interpreter's thread would surprise.
    """
    n = 0 if n_threads is None else n_threads
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"n_threads must be an integer or None, got {type(n_threads).__name__}")
    n = int(n)
    if n == -1:
        n = 0
    if n < 0:
        raise ValueError(f"n_threads must be >= 1, or None/-1 for all cores (got {n})")
    if n > 4096:
        raise ValueError(f"n_threads must be <= 4096 (got {n})")
    with _pools_lock:
        if n not in _pools:
            p = PoolParams()
            lib.tsr_pool_params_default(ctypes.byref(p))
            p.n_threads = n
            p.bind = _BIND.get(os.environ.get("TESSERA_BIND", "none").lower(), 2)
            out = c_void_p()
            check(lib.tsr_pool_create(ctypes.byref(p), ctypes.byref(out)))
            _pools[n] = out.value
        return _pools[n]


def pool_threads(n_threads) -> int:
    return lib.tsr_pool_num_threads(pool(n_threads))


# ---- the Swift-built cluster library (include/tessera/cluster.h) ----------------

_cluster = None
_cluster_lock = threading.Lock()


def cluster_lib():
    """libTesseraCABI.so, loaded on first use (clustering needs the Swift-built library)."""
    global _cluster
    with _cluster_lock:
        if _cluster is None:
            path = _find(["libTesseraCABI.so"], "TESSERA_CLUSTER_LIB")
            if path is None:
                for conf in ("release", "debug"):
                    c = _HERE.parent.parent / ".build" / conf / "libTesseraCABI.so"
                    if c.exists():
                        path = str(c)
                        break
            if path is None:
                raise ImportError("libTesseraCABI.so (the Swift clustering library) not found: build the package "
                                  "with Swift installed (`make python`), or set TESSERA_CLUSTER_LIB")
            cl = ctypes.CDLL(path)
            cl._path = path
            _sig("tsr_cluster_last_error", c_char_p, target=cl)
            _cluster = cl
        return _cluster


def check_cluster(status: int) -> None:
    check(status, cluster_lib().tsr_cluster_last_error)
