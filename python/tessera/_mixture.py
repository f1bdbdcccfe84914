"""GaussianMixture and PPP: TesseraCluster's EM mixture and PPP through include/tessera/cluster.h
(libTesseraCABI.so), with scikit-learn's conventions. Re-exported by tessera.cluster.

The fitted parameters (`weights_`, `means_`, `covariances_`) are the Swift model's bits; predict,
predict_proba and score_samples hand them back to the Swift model (tsr_gmm_predict_*), so a
pickled or cloned-and-refitted estimator predicts exactly as the fitted one.
"""
from __future__ import annotations

import ctypes

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _lib
from ._arrays import check_float, check_int, ptr, rows_contiguous, row_stride, seed_from
from ._lib import c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p

__all__ = ["GaussianMixture", "PPP"]

COVARIANCES = {"full": 0, "diag": 1}


class GMMParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("covariance", c_int32), ("init", c_int32), ("max_iter", c_int64),
                ("tol", c_double), ("reg_covar", c_double), ("seed", c_uint64), ("threads", c_int32)]


class GMMResult(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("log_likelihood", c_double), ("bic", c_double), ("iterations", c_int64),
                ("converged", c_int32), ("n_parameters", c_int64)]


class PPPParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("k_min", c_int64), ("k_max", c_int64), ("covariance", c_int32),
                ("restarts", c_int64), ("min_agreement", c_double), ("threads", c_int32)]


class PPPCandidate(ctypes.Structure):
    _fields_ = [("k", c_int64), ("inertia", c_double), ("bic", c_double), ("agreement", c_double),
                ("log_likelihood", c_double)]


class PPPResult(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("k", c_int64), ("candidates", c_int64), ("inertia", c_double),
                ("log_likelihood", c_double), ("bic", c_double)]


def _cl():
    cl = _lib.cluster_lib()
    if not getattr(cl, "_mixture_typed", False):
        s = lambda name, *a: _lib._sig(name, c_int32, *a, target=cl)  # noqa: E731
        for t in ("f32", "f64"):
            s(f"tsr_gmm_fit_{t}", c_void_p, c_int64, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p,
              c_void_p, c_void_p, c_void_p, c_void_p)
            s(f"tsr_gmm_predict_{t}", c_int64, c_int64, c_void_p, c_int64, c_int64, c_int32, c_void_p, c_void_p,
              c_void_p, c_void_p, c_void_p, c_void_p)
            s(f"tsr_ppp_fit_{t}", c_void_p, c_int64, c_int64, c_void_p, c_int64, c_void_p, c_void_p, c_void_p,
              c_void_p, c_void_p, c_void_p, c_void_p)
        for name in ("tsr_gmm_params_default", "tsr_ppp_params_default"):
            _lib._sig(name, None, c_void_p, target=cl)
        cl._mixture_typed = True
    return cl


def _threads(n_threads) -> int:
    n = check_int(n_threads, "n_threads", low=-1, high=4096, allow_none=True)
    return 0 if n in (None, -1) else n


def _covariance(covariance_type) -> int:
    if not isinstance(covariance_type, str) or covariance_type not in COVARIANCES:
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}")
    return COVARIANCES[covariance_type]


def _cov_shape(covariance_type, k, d):
    return (k, d, d) if covariance_type == "full" else (k, d)


class _MixtureModel:
    """predict / predict_proba / score_samples / score / bic / aic over the fitted parameters."""

    def _evaluate(self, X, labels=False, proba=False, log_density=False):
        check_is_fitted(self, "means_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        X = rows_contiguous(X)
        n, d = X.shape
        k = self.weights_.shape[0]
        out_l = np.empty(n, dtype=np.int64) if labels else None
        out_p = np.empty((n, k), dtype=np.float64) if proba else None
        out_s = np.empty(n, dtype=np.float64) if log_density else None
        if n:
            w = np.ascontiguousarray(self.weights_, dtype=np.float64)
            m = np.ascontiguousarray(self.means_, dtype=np.float64)
            c = np.ascontiguousarray(self.covariances_, dtype=np.float64)
            cl = _cl()
            fn = cl.tsr_gmm_predict_f32 if X.dtype == np.float32 else cl.tsr_gmm_predict_f64
            _lib.check_cluster(fn(n, d, ptr(X), row_stride(X), k, COVARIANCES[self._fitted_covariance], ptr(w), ptr(m),
                                  ptr(c), None if out_l is None else ptr(out_l), None if out_p is None else ptr(out_p),
                                  None if out_s is None else ptr(out_s)))
        return out_l, out_p, out_s

    def predict_proba(self, X):
        """Posterior probability of each component for each row of X, (n_samples, n_components)."""
        return self._evaluate(X, proba=True)[1]

    def score_samples(self, X):
        """log p(x) of each row of X under the mixture."""
        return self._evaluate(X, log_density=True)[2]

    def score(self, X, y=None):
        """Mean log-likelihood per sample of X."""
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self):
        k, d = self.means_.shape
        cov = k * d * (d + 1) / 2 if self._fitted_covariance == "full" else k * d
        return int(cov + k * d + k - 1)

    def bic(self, X):
        """Bayesian information criterion of X (lower is better)."""
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion of X (lower is better)."""
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()


class GaussianMixture(_MixtureModel, ClusterMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM from a k-means start, as TesseraCluster's GaussianMixture.

    Parameters (scikit-learn's names and defaults): n_components (1); covariance_type ('full' or
    'diag'); tol (1e-3, on the mean log-likelihood per sample); reg_covar (1e-6); max_iter (100);
    init_params ('kmeans', or an array of n_samples labels in 0..n_components-1); random_state
    (None: seed 0); n_threads (None/-1: one per core).
    Fitted: weights_, means_, covariances_ ((k, d, d) or (k, d)), converged_, n_iter_,
    lower_bound_ (the final mean log-likelihood), labels_, bic_ (on the training data).
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 init_params="kmeans", random_state=None, n_threads=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.init_params = init_params
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None):
        """Fits the mixture to the rows of X; returns self."""
        cov = _covariance(self.covariance_type)
        tol = check_float(self.tol, "tol", low=0)
        reg = check_float(self.reg_covar, "reg_covar", low=0)
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        threads = _threads(self.n_threads)
        seed = seed_from(self.random_state, default=0)
        X = rows_contiguous(validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1))
        n, d = X.shape
        k = check_int(self.n_components, "n_components", low=1)
        if k > n:
            raise ValueError(f"n_samples={n} should be >= n_components={k}.")
        init_labels = None
        if isinstance(self.init_params, str):
            if self.init_params != "kmeans":
                raise ValueError(f"init_params must be 'kmeans' or an array of labels, got {self.init_params!r}")
        else:
            lab = np.asarray(self.init_params)
            if lab.dtype.kind not in "iu":
                raise TypeError(f"init_params labels must be integers, got dtype {lab.dtype}")
            if lab.shape != (n,):
                raise ValueError(f"init_params must hold n_samples={n} labels, got shape {lab.shape}")
            if n and (lab.min() < 0 or lab.max() >= k):
                raise ValueError(f"init_params labels must be in [0, {k})")
            init_labels = np.ascontiguousarray(lab, dtype=np.int64)
        cl = _cl()
        p = GMMParams(size=ctypes.sizeof(GMMParams))
        cl.tsr_gmm_params_default(ctypes.byref(p))
        p.covariance, p.init, p.max_iter, p.tol, p.reg_covar = cov, 0 if init_labels is None else 1, max_iter, tol, reg
        p.seed, p.threads = seed, threads
        weights = np.empty(k)
        means = np.empty((k, d))
        covs = np.empty(_cov_shape(self.covariance_type, k, d))
        labels = np.empty(n, dtype=np.int64)
        r = GMMResult(size=ctypes.sizeof(GMMResult))
        fn = cl.tsr_gmm_fit_f32 if X.dtype == np.float32 else cl.tsr_gmm_fit_f64
        _lib.check_cluster(fn(ctypes.byref(p), n, d, ptr(X), row_stride(X), k,
                              None if init_labels is None else ptr(init_labels), ptr(weights), ptr(means), ptr(covs),
                              ptr(labels), ctypes.byref(r)))
        self._fitted_covariance = self.covariance_type
        self.weights_, self.means_, self.covariances_, self.labels_ = weights, means, covs, labels
        self.converged_, self.n_iter_ = bool(r.converged), int(r.iterations)
        self.lower_bound_, self.bic_ = float(r.log_likelihood), float(r.bic)
        return self

    def fit_predict(self, X, y=None):
        """Fits and returns the most probable component of each training row."""
        return self.fit(X).labels_

    def predict(self, X):
        """Most probable component of each row of X (the lowest index on ties)."""
        return self._evaluate(X, labels=True)[0]


class PPP(_MixtureModel, ClusterMixin, BaseEstimator):
    """Probabilistic Partitive Partitioning: chooses the number of clusters.

    For every k in k_range, the best of `restarts` k-means partitions (seeds 0, 1, …) starts a
    Gaussian mixture; the accepted k has the lowest BIC among those whose mixture agrees with the
    partition on at least `min_agreement` of the points (else the lowest BIC). Deterministic: no
    random_state. Parameters: k_range ((1, 10), inclusive); covariance_type ('full' or 'diag');
    restarts (5); min_agreement (0.9); n_threads.
    Fitted: n_clusters_, labels_ (k-means labels), cluster_centers_, inertia_, the accepted
    mixture's weights_/means_/covariances_, and candidates_ (a structured array: k, inertia, bic,
    agreement, log_likelihood per examined k). predict: the nearest k-means centre;
    predict_proba/score_samples: the accepted mixture.
    """

    def __init__(self, k_range=(1, 10), *, covariance_type="full", restarts=5, min_agreement=0.9, n_threads=None):
        self.k_range = k_range
        self.covariance_type = covariance_type
        self.restarts = restarts
        self.min_agreement = min_agreement
        self.n_threads = n_threads

    def fit(self, X, y=None):
        """Chooses k and clusters the rows of X; returns self."""
        cov = _covariance(self.covariance_type)
        try:
            k_min, k_max = self.k_range
        except (TypeError, ValueError):
            raise ValueError(f"k_range must be a pair (k_min, k_max), got {self.k_range!r}") from None
        k_min = check_int(k_min, "k_range[0]", low=1)
        k_max = check_int(k_max, "k_range[1]", low=k_min)
        restarts = check_int(self.restarts, "restarts", low=1)
        agreement = check_float(self.min_agreement, "min_agreement", low=0, high=1)
        threads = _threads(self.n_threads)
        X = rows_contiguous(validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1))
        n, d = X.shape
        if n < k_min:
            raise ValueError(f"n_samples={n} should be >= k_range[0]={k_min}.")
        kcap = min(k_max, n)
        cl = _cl()
        p = PPPParams(size=ctypes.sizeof(PPPParams))
        cl.tsr_ppp_params_default(ctypes.byref(p))
        p.k_min, p.k_max, p.covariance, p.restarts, p.min_agreement, p.threads = (
            k_min, k_max, cov, restarts, agreement, threads)
        labels = np.empty(n, dtype=np.int64)
        centers = np.empty((kcap, d), dtype=X.dtype)
        weights = np.empty(kcap)
        means = np.empty((kcap, d))
        covs = np.empty(_cov_shape(self.covariance_type, kcap, d))
        cands = (PPPCandidate * max(1, kcap - k_min + 1))()
        r = PPPResult(size=ctypes.sizeof(PPPResult))
        fn = cl.tsr_ppp_fit_f32 if X.dtype == np.float32 else cl.tsr_ppp_fit_f64
        _lib.check_cluster(fn(ctypes.byref(p), n, d, ptr(X), row_stride(X), ptr(labels), ptr(centers), ptr(weights),
                              ptr(means), ptr(covs), ctypes.cast(cands, c_void_p), ctypes.byref(r)))
        k = int(r.k)
        self._fitted_covariance = self.covariance_type
        self.n_clusters_, self.labels_, self.cluster_centers_ = k, labels, centers[:k].copy()
        self.weights_, self.means_, self.covariances_ = weights[:k].copy(), means[:k].copy(), covs[:k].copy()
        self.inertia_, self.lower_bound_, self.bic_ = float(r.inertia), float(r.log_likelihood), float(r.bic)
        dt = np.dtype([("k", np.int64), ("inertia", np.float64), ("bic", np.float64), ("agreement", np.float64),
                       ("log_likelihood", np.float64)])
        self.candidates_ = np.array([(c.k, c.inertia, c.bic, c.agreement, c.log_likelihood)
                                     for c in cands[:int(r.candidates)]], dtype=dt)
        return self

    def predict(self, X):
        """Nearest k-means centre of each row of X."""
        check_is_fitted(self, "cluster_centers_")
        from .cluster import KMeans
        km = KMeans(self.n_clusters_)
        km.cluster_centers_, km.n_features_in_ = self.cluster_centers_, self.n_features_in_
        return km.predict(X)
