"""Graphs and FastRP node embeddings (Chen et al., CIKM 2019) on include/tessera/graph.h.

    emb = FastRP(n_components=128, random_state=0).fit_transform(A)   # A: scipy.sparse n × n
    emb = FastRP().fit_transform(edges)                                 # edges: (m, 2) int array

An adjacency matrix is taken as given (entry (u, v) is the edge u → v with its weight, so pass a
symmetric matrix for an undirected graph); an edge array is symmetrised unless `directed=True`.
The embedding is the C library's `tsr_fastrp_embed` bit for bit, for any `n_threads`.
"""
from __future__ import annotations

import ctypes

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from . import _lib
from ._arrays import check_float, check_int, ptr, seed_from
from ._lib import c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p, lib

__all__ = ["FastRP", "Graph"]

MAX_ITER = 16


class GraphParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("directed", c_int32), ("num_nodes", c_int64), ("self_loops", c_int32),
                ("merge", c_int32)]


class FastRPParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("dim", c_int32), ("q", c_int32), ("weights", c_double * MAX_ITER),
                ("beta", c_double), ("s", c_double), ("projection", c_int32), ("seed", c_uint64),
                ("matrix", c_int32), ("normalize_rows", c_int32), ("standardize", c_int32)]


_s = _lib._sig
_s("tsr_graph_params_default", None, c_void_p)
_s("tsr_graph_create", c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, ctypes.POINTER(c_void_p))
_s("tsr_graph_destroy", None, c_void_p)
_s("tsr_graph_num_nodes", c_int64, c_void_p)
_s("tsr_graph_num_entries", c_int64, c_void_p)
_s("tsr_fastrp_params_default", None, c_void_p)
_s("tsr_fastrp_embed", c_int32, c_void_p, c_void_p, c_void_p, c_void_p, c_int64)

_SELF_LOOPS = {"keep": 0, "drop": 1, "add": 2}
_MERGE = {"sum": 0, "max": 1}


class Graph:
    """A CSR graph in the C library (tsr_graph_t), from a scipy.sparse adjacency matrix or an
    (m, 2) edge array with optional weights. The inputs are copied."""

    def __init__(self, data, weights=None, *, directed=None, num_nodes=None, self_loops="keep", merge="sum"):
        p = GraphParams()
        lib.tsr_graph_params_default(ctypes.byref(p))
        if self_loops not in _SELF_LOOPS:
            raise ValueError(f"self_loops must be one of {sorted(_SELF_LOOPS)}, got {self_loops!r}")
        if merge not in _MERGE:
            raise ValueError(f"merge must be one of {sorted(_MERGE)}, got {merge!r}")
        p.self_loops, p.merge = _SELF_LOOPS[self_loops], _MERGE[merge]
        if sp.issparse(data):
            if data.ndim != 2 or data.shape[0] != data.shape[1]:
                raise ValueError(f"an adjacency matrix must be square, got shape {data.shape}")
            if weights is not None:
                raise ValueError("weights are the adjacency matrix's values; do not pass `weights` with a matrix")
            coo = data.tocoo()
            if coo.dtype.kind not in "biuf":
                raise TypeError(f"adjacency values must be numeric, got dtype {coo.dtype}")
            src, dst = coo.row.astype(np.int64), coo.col.astype(np.int64)
            w = coo.data.astype(np.float32)
            if w.size and np.all(w == 1):
                w = None
            p.directed = 1 if directed is None else int(bool(directed))
            n = data.shape[0]
            if n == 0:
                raise ValueError("the adjacency matrix is empty (0 nodes)")
            p.num_nodes = n if num_nodes is None else check_int(num_nodes, "num_nodes", low=n)
        else:
            e = np.asarray(data)
            if e.dtype.kind not in "iu":
                raise TypeError(f"edges must be an integer array of shape (m, 2), got dtype {e.dtype}")
            if e.ndim != 2 or e.shape[1] != 2:
                raise ValueError(f"edges must have shape (m, 2), got {e.shape}")
            if e.shape[0] == 0:
                raise ValueError("no edges given (empty graph)")
            src, dst = np.ascontiguousarray(e[:, 0], dtype=np.int64), np.ascontiguousarray(e[:, 1], dtype=np.int64)
            w = None
            if weights is not None:
                w = np.asarray(weights)
                if w.dtype.kind not in "biuf":
                    raise TypeError(f"weights must be numeric, got dtype {w.dtype}")
                w = np.ascontiguousarray(w, dtype=np.float32)
                if w.shape != (e.shape[0],):
                    raise ValueError(f"weights must have shape ({e.shape[0]},), got {w.shape}")
            p.directed = 0 if directed is None else int(bool(directed))
            p.num_nodes = 0 if num_nodes is None else check_int(num_nodes, "num_nodes", low=1)
        h = c_void_p()
        _lib.check(lib.tsr_graph_create(len(src), ptr(src), ptr(dst), None if w is None else ptr(w),
                                        ctypes.byref(p), ctypes.byref(h)))
        self.h = h

    def __del__(self):
        if getattr(self, "h", None) is not None and lib is not None:
            lib.tsr_graph_destroy(self.h)
            self.h = None

    @property
    def num_nodes(self) -> int:
        return lib.tsr_graph_num_nodes(self.h)

    @property
    def num_entries(self) -> int:
        return lib.tsr_graph_num_entries(self.h)


class FastRP(TransformerMixin, BaseEstimator):
    """FastRP node embeddings.

    Parameters (the paper's options; defaults of its BlogCatalog notebook):
      n_components: d (128); iteration_weights: α₁..α_q (1, 1, 7.81, 45.28), q <= 16;
      beta: degree exponent β (−0.628); normalization: 'transition' (A = D⁻¹S) or 'adjacency' (S);
      normalize_rows: L2-normalise each Nᵢ's rows before summing (False); standardize: scale columns
      to mean 0 / variance 1 (True); density: 'auto' (1/√n) or a float in (0, 1] for the very sparse
      R; projection: 'sparse' or 'gaussian'; directed: for edge-array input (False: symmetrised);
      random_state (None: 42); n_threads (None: one per core).
    Fitted: embedding_ (n × d float32), n_nodes_.
    """

    def __init__(self, n_components=128, *, iteration_weights=(1.0, 1.0, 7.81, 45.28), beta=-0.628,
                 normalization="transition", normalize_rows=False, standardize=True, density="auto",
                 projection="sparse", directed=False, random_state=None, n_threads=None):
        self.n_components = n_components
        self.iteration_weights = iteration_weights
        self.beta = beta
        self.normalization = normalization
        self.normalize_rows = normalize_rows
        self.standardize = standardize
        self.density = density
        self.projection = projection
        self.directed = directed
        self.random_state = random_state
        self.n_threads = n_threads

    def _params(self) -> FastRPParams:
        p = FastRPParams()
        lib.tsr_fastrp_params_default(ctypes.byref(p))
        p.dim = check_int(self.n_components, "n_components", low=1, high=2 ** 31 - 1)
        w = np.asarray(self.iteration_weights)
        if w.dtype.kind not in "iuf" or w.ndim != 1:
            raise TypeError("iteration_weights must be a 1-D sequence of numbers")
        if not 1 <= w.size <= MAX_ITER:
            raise ValueError(f"iteration_weights must have 1..{MAX_ITER} entries, got {w.size}")
        if not np.isfinite(w).all():
            raise ValueError("iteration_weights must be finite")
        p.q = w.size
        for i, v in enumerate(w):
            p.weights[i] = float(v)
        p.beta = check_float(self.beta, "beta")
        if self.normalization not in ("transition", "adjacency"):
            raise ValueError(f"normalization must be 'transition' or 'adjacency', got {self.normalization!r}")
        p.matrix = 0 if self.normalization == "transition" else 1
        if self.projection not in ("sparse", "gaussian"):
            raise ValueError(f"projection must be 'sparse' or 'gaussian', got {self.projection!r}")
        p.projection = 0 if self.projection == "sparse" else 1
        if isinstance(self.density, str):
            if self.density != "auto":
                raise ValueError(f"density must be 'auto' or a float in (0, 1], got {self.density!r}")
            p.s = 0.0
        else:
            p.s = 1.0 / check_float(self.density, "density", low=0, high=1, low_open=True)
        p.normalize_rows = int(bool(self.normalize_rows))
        p.standardize = int(bool(self.standardize))
        p.seed = seed_from(self.random_state)
        return p

    def fit(self, X, y=None, weights=None):
        """Embeds the graph X: a scipy.sparse adjacency matrix or an (m, 2) integer edge array."""
        p = self._params()
        check_int(self.n_threads, "n_threads", low=-1, high=4096, allow_none=True)
        g = Graph(X, weights, directed=self.directed if not sp.issparse(X) else None)
        n = g.num_nodes
        emb = np.empty((n, p.dim), dtype=np.float32)
        _lib.check(lib.tsr_fastrp_embed(_lib.pool(self.n_threads), g.h, ctypes.byref(p), ptr(emb), p.dim))
        self.embedding_ = emb
        self.n_nodes_ = n
        return self

    def fit_transform(self, X, y=None, weights=None):
        return self.fit(X, y, weights).embedding_
