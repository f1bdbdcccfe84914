"""Tessera for Python: NumPy/scikit-learn-style estimators over Tessera's one C ABI.

Modules: `tessera.random_projection`, `tessera.graph`, `tessera.cluster`, `tessera.quant`,
`tessera.attention`, `tessera.datatype`, `tessera.pde`; `tessera.info()`.
The C library (libtessera.so, built by the project's `make lib`) is bundled in the package and
loaded with ctypes, which releases the GIL during every call into it. Clustering runs the Swift
implementation (TesseraCluster) and the spectral PDE solvers (TesseraPDE) through libTesseraCABI.so
(include/tessera/cluster.h, include/tessera/pde.h).
Errors from C carry its message: ValueError (TSR_EINVAL/ERANGE/EFORMAT), MemoryError (ENOMEM),
OSError (EIO), NotImplementedError (EUNSUPPORTED), RuntimeError (ESTATE/EINTERNAL) — all also
instances of `tessera.TesseraError`.
"""
from __future__ import annotations

from ._lib import (TesseraError, TesseraMemoryError, TesseraOSError, TesseraRuntimeError,  # noqa: F401
                   TesseraUnsupportedError, TesseraValueError)
from ._info import info  # noqa: F401

__version__ = "0.1.0"
__all__ = ["info", "TesseraError", "random_projection", "graph", "cluster", "quant", "attention",
           "datatype", "pde"]


def __getattr__(name):  # lazy submodules: `import tessera; tessera.cluster.KMedoids`
    if name in ("random_projection", "graph", "cluster", "quant", "attention", "datatype", "pde"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)
