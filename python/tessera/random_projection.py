"""Random projections D → d on Tessera's kernels (include/tessera/randproj.h), scikit-learn style.

`SparseRandomProjection` (Li, Hastie & Church's very sparse projection; `density='auto'` is
1/√D as in scikit-learn) and `GaussianRandomProjection` take dense arrays (float32 stays float32,
any row stride without a copy) and `scipy.sparse` CSR/CSC/COO input (never densified). The matrix
R is a pure function of (seed, row, column): nothing is stored between calls, results do not
depend on `n_threads`, and a fitted estimator pickles as its parameters.
"""
from __future__ import annotations

import ctypes

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, ClassNamePrefixFeaturesOutMixin
from sklearn.random_projection import johnson_lindenstrauss_min_dim
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _lib
from ._arrays import check_finite, check_float, check_int, ptr, rows_contiguous, row_stride, seed_from
from ._lib import c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p, lib

__all__ = ["SparseRandomProjection", "GaussianRandomProjection", "johnson_lindenstrauss_min_dim"]

TSR_RP_SPARSE, TSR_RP_GAUSSIAN = 0, 1


class RPParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("kind", c_int32), ("s", c_double), ("seed", c_uint64)]


class RPInfo(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("in_dim", c_int64), ("out_dim", c_int32), ("kind", c_int32), ("s", c_double),
                ("density", c_double), ("scale", c_double), ("seed", c_uint64), ("materialized", c_int32),
                ("nnz", c_int64), ("bytes", c_int64)]


_s = _lib._sig
_s("tsr_rp_params_default", None, c_void_p)
_s("tsr_rp_create", c_int32, c_int64, c_int32, c_void_p, ctypes.POINTER(c_void_p))
_s("tsr_rp_destroy", None, c_void_p)
_s("tsr_rp_describe", c_int32, c_void_p, c_void_p)
_s("tsr_rp_materialize", c_int32, c_void_p, c_void_p)
_s("tsr_rp_csr", c_int32, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p)
for _t in ("f32", "f64"):
    _s(f"tsr_rp_transform_{_t}", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_int64, c_void_p, c_int64)
    _s(f"tsr_rp_transform_checked_{_t}", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_int64, c_void_p, c_int64)
    _s(f"tsr_rp_transform_csr_{_t}", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_void_p, c_void_p,
       c_void_p, c_int64)
    _s(f"tsr_rp_transform_csr32_{_t}", c_int32, c_void_p, c_void_p, c_int64, c_void_p, c_void_p, c_void_p,
       c_void_p, c_int64)


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class _Plan:
    """A tsr_rp_t handle (O(1) memory: R is generated on demand), destroyed with the object."""

    def __init__(self, in_dim, out_dim, kind, s, seed):
        p = RPParams()
        lib.tsr_rp_params_default(ctypes.byref(p))
        p.kind, p.s, p.seed = kind, s, seed
        h = c_void_p()
        _lib.check(lib.tsr_rp_create(in_dim, out_dim, ctypes.byref(p), ctypes.byref(h)))
        self.h = h

    def __del__(self):
        if getattr(self, "h", None) is not None and lib is not None:
            lib.tsr_rp_destroy(self.h)
            self.h = None

    def info(self) -> RPInfo:
        info = RPInfo(size=ctypes.sizeof(RPInfo))
        _lib.check(lib.tsr_rp_describe(self.h, ctypes.byref(info)))
        return info


class _BaseRandomProjection(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    _kind = TSR_RP_SPARSE

    def _s_value(self, n_features):  # sparsity s for the C plan
        return 1.0

    def fit(self, X, y=None):
        """Chooses n_components_ (Johnson–Lindenstrauss for 'auto') for X's shape. R is not stored."""
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=[np.float64, np.float32], reset=True)
        n_samples, n_features = X.shape
        if self.n_components == "auto":
            eps = check_float(self.eps, "eps", low=0, low_open=True)
            if eps >= 1:
                raise ValueError(f"eps must be in (0, 1) for n_components='auto', got {eps}")
            k = int(johnson_lindenstrauss_min_dim(n_samples=n_samples, eps=eps))
            if k > n_features:
                raise ValueError(f"eps={eps} and n_samples={n_samples} lead to a target dimension of {k} which is "
                                 f"larger than the original space with n_features={n_features}")
        else:
            k = check_int(self.n_components, "n_components", low=1, high=2 ** 31 - 1)
        check_int(self.n_threads, "n_threads", low=-1, high=4096, allow_none=True)
        self.n_components_ = k
        self._fit_extra(n_features)
        self._seed_ = seed_from(self.random_state)
        plan = self._plan()
        info = plan.info()
        self.scale_ = info.scale
        return self

    def _fit_extra(self, n_features):
        pass

    def _plan_key(self):
        return (self.n_features_in_, self.n_components_, self._kind, self._s_value(self.n_features_in_), self._seed_)

    def _plan(self) -> _Plan:
        """The fitted plan, with R materialised once (made in fit; remade only after unpickling or
        set_params). Generating R in every transform cost D·d hashes per call."""
        cached = self.__dict__.get("_tsr_plan")
        key = self._plan_key()
        if cached is None or cached[0] != key:
            plan = _Plan(*key)
            st = lib.tsr_rp_materialize(_lib.pool(self.n_threads), plan.h)
            if st not in (_lib.TSR_OK, _lib.TSR_ENOMEM, _lib.TSR_ERANGE):  # too large: R stays generated per call
                _lib.check(st)
            cached = (key, plan)
            self.__dict__["_tsr_plan"] = cached
        return cached[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_tsr_plan", None)  # a C handle: remade from the parameters after unpickling
        return state

    def transform(self, X):
        """Y = X · R (n_samples × n_components_), dtype float32 for float32 input, else float64.
        Dense rows are read in place (any row stride); sparse input is never densified."""
        if "n_components_" not in self.__dict__:  # scikit-learn's check costs ~8 us a call when fitted
            check_is_fitted(self, "n_components_")
        # NaN/inf in dense X are found by the C kernel as it reads each block (tsr_rp_transform_checked_*;
        # the sparse-R kernels test the values as they transpose them, at no extra pass over X), not by
        # a separate pass here: that pass cost 40 % of a transform at 2000 x 1000.
        if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES and X.shape[0] > 0
                and "feature_names_in_" not in self.__dict__):
            # the common case without scikit-learn's validation machinery (~50 us a call): what it
            # would check for a float ndarray is the feature count
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input.")
        else:
            X = validate_data(self, X, accept_sparse=["csr"], dtype=[np.float64, np.float32], reset=False,
                              ensure_all_finite=False)
        plan = self._plan()
        pool = _lib.pool(self.n_threads)
        n, d = X.shape[0], self.n_components_
        Y = np.empty((n, d), dtype=X.dtype)
        f64 = X.dtype == np.float64
        if n == 0:
            return Y
        if sp.issparse(X):
            X = X.tocsr() if X.format != "csr" else X
            check_finite(X.data)
            # scipy's int32 indices (below 2^31 stored entries) are read in place; the C call checks
            # each column index as it reads the row (a separate pass here cost ~15 % at nnz 10^7)
            idx32 = X.indptr.dtype == np.int32 and X.indices.dtype == np.int32
            ityp = np.int32 if idx32 else np.int64
            indptr = np.ascontiguousarray(X.indptr, dtype=ityp)
            indices = np.ascontiguousarray(X.indices, dtype=ityp)
            data = np.ascontiguousarray(X.data, dtype=X.dtype)
            if idx32:
                fn = lib.tsr_rp_transform_csr32_f64 if f64 else lib.tsr_rp_transform_csr32_f32
            else:
                fn = lib.tsr_rp_transform_csr_f64 if f64 else lib.tsr_rp_transform_csr_f32
            _lib.check(fn(pool, plan.h, n, ptr(indptr), ptr(indices), ptr(data), ptr(Y), d))
        else:
            X = rows_contiguous(np.asarray(X))
            fn = lib.tsr_rp_transform_checked_f64 if f64 else lib.tsr_rp_transform_checked_f32
            _lib.check(fn(pool, plan.h, n, ptr(X), row_stride(X), ptr(Y), d))
        return Y

    @property
    def _n_features_out(self):
        return self.n_components_

    @property
    def components_(self):
        """R transposed (n_components_ × n_features_in_), as scikit-learn's components_ (computed on access:
        sparse CSR for SparseRandomProjection, dense for GaussianRandomProjection)."""
        check_is_fitted(self, "n_components_")
        plan = self._plan()
        _lib.check(lib.tsr_rp_materialize(_lib.pool(self.n_threads), plan.h))
        indptr, indices, v64, nnz = c_void_p(), c_void_p(), c_void_p(), c_int64()
        _lib.check(lib.tsr_rp_csr(plan.h, ctypes.byref(indptr), ctypes.byref(indices), None, ctypes.byref(v64),
                                  ctypes.byref(nnz)))
        D, m = self.n_features_in_, nnz.value
        ip = np.ctypeslib.as_array(ctypes.cast(indptr, ctypes.POINTER(c_int64)), (D + 1,)).copy()
        ix = np.ctypeslib.as_array(ctypes.cast(indices, ctypes.POINTER(c_int32)), (max(m, 1),))[:m].copy()
        vv = np.ctypeslib.as_array(ctypes.cast(v64, ctypes.POINTER(c_double)), (max(m, 1),))[:m].copy()
        R = sp.csr_matrix((vv, ix, ip), shape=(D, self.n_components_))
        Rt = R.T.tocsr()
        return Rt if self._kind == TSR_RP_SPARSE else Rt.toarray()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class SparseRandomProjection(_BaseRandomProjection):
    """Very sparse random projection (Li, Hastie, Church 2006; Achlioptas 2003).

    Parameters follow scikit-learn: `n_components` ('auto' or an int), `density` ('auto' = 1/√D, or a
    float in (0, 1]), `eps` (for 'auto'), `random_state` (None: seed 42, so runs repeat), plus
    `n_threads` (None or -1: one per core). Entries of R are ±√(s/d) with probability 1/(2s) each,
    s = 1/density. Fitted: n_components_, density_, scale_, n_features_in_, components_ (on access).
    """

    _kind = TSR_RP_SPARSE

    def __init__(self, n_components="auto", *, density="auto", eps=0.1, random_state=None, n_threads=None):
        self.n_components = n_components
        self.density = density
        self.eps = eps
        self.random_state = random_state
        self.n_threads = n_threads

    def _fit_extra(self, n_features):
        if isinstance(self.density, str):
            if self.density != "auto":
                raise ValueError(f"density must be 'auto' or a float in (0, 1], got {self.density!r}")
            self.density_ = 1.0 / np.sqrt(n_features)
        else:
            self.density_ = check_float(self.density, "density", low=0, high=1, low_open=True)

    def _s_value(self, n_features):
        return 1.0 / self.density_


class GaussianRandomProjection(_BaseRandomProjection):
    """Gaussian random projection: R[j, k] ~ N(0, 1/n_components). Parameters as SparseRandomProjection
    without `density`."""

    _kind = TSR_RP_GAUSSIAN

    def __init__(self, n_components="auto", *, eps=0.1, random_state=None, n_threads=None):
        self.n_components = n_components
        self.eps = eps
        self.random_state = random_state
        self.n_threads = n_threads
