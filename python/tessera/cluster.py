"""Clustering estimators running the Swift implementations of TesseraCluster through the C ABI of
include/tessera/cluster.h (libTesseraCABI.so): one implementation, bit for bit the Swift results.

KMedoids follows the `kmedoids` package and scikit-learn-extra: `medoid_indices_`, `labels_`,
`inertia_` (the total deviation, Σ d(i, nearest medoid)), `n_iter_`, `cluster_centers_` (rows of X
at the medoids; None for metric='precomputed'). `predict`/`transform` assign new points to the
fitted medoids (nearest medoid; the lowest slot on ties, as the Swift assignment).
GaussianMixture and PPP live in tessera._mixture and are re-exported here.
"""
from __future__ import annotations

import ctypes

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import pairwise_distances
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _lib
from ._arrays import check_float, check_int, ptr, rows_contiguous, row_stride, seed_from
from ._lib import c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p

__all__ = ["KMedoids", "CLARA", "CLARANS", "KMeans", "GaussianMixture", "PPP"]

METHODS = {"pam": 0, "fastpam1": 1, "fastpam2": 2, "fasterpam": 3, "alternating": 4, "alternate": 4}
KMEDOIDS_INITS = {"build": 1, "lab": 2, "random": 3}
METRICS = {"precomputed": 0, "euclidean": 1, "sqeuclidean": 2, "manhattan": 3, "cityblock": 3, "l1": 3, "cosine": 4}


class KMedoidsParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("method", c_int32), ("init", c_int32), ("metric", c_int32),
                ("max_iter", c_int64), ("seed", c_uint64), ("shuffle", c_int32), ("fast_tolerance", c_double),
                ("threads", c_int32)]


class KMedoidsResult(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("loss", c_double), ("initial_loss", c_double), ("iterations", c_int64),
                ("swaps", c_int64), ("seconds", c_double)]


class CLARAParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("metric", c_int32), ("samples", c_int64), ("sample_size", c_int64),
                ("fast", c_int32), ("max_iter", c_int64), ("seed", c_uint64), ("threads", c_int32)]


class KMeansParams(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("algorithm", c_int32), ("init", c_int32), ("n_init", c_int64),
                ("max_iter", c_int64), ("tol", c_double), ("seed", c_uint64), ("threads", c_int32)]


class KMeansResult(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("inertia", c_double), ("iterations", c_int64), ("converged", c_int32),
                ("seconds", c_double)]


def _cl():
    cl = _lib.cluster_lib()
    if not getattr(cl, "_typed", False):
        s = lambda name, *a: _lib._sig(name, c_int32, *a, target=cl)  # noqa: E731
        for t in ("f32", "f64"):
            s(f"tsr_kmedoids_fit_{t}", c_void_p, c_int64, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p,
              c_void_p, c_void_p)
            s(f"tsr_kmeans_fit_{t}", c_void_p, c_int64, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p,
              c_void_p, c_void_p)
            s(f"tsr_kmeans_predict_{t}", c_int64, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p)
        for name in ("tsr_clara_fit_f64", "tsr_clarans_fit_f64"):
            s(name, c_void_p, c_int64, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p, c_void_p)
        for name in ("tsr_kmedoids_params_default", "tsr_clara_params_default", "tsr_kmeans_params_default"):
            _lib._sig(name, None, c_void_p, target=cl)
        cl._typed = True
    return cl


def _threads(n_threads) -> int:
    n = check_int(n_threads, "n_threads", low=-1, high=4096, allow_none=True)
    return 0 if n in (None, -1) else n


def _metric(metric) -> int:
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    return METRICS[metric]


def _k(n_clusters, n_samples) -> int:
    k = check_int(n_clusters, "n_clusters", low=1)
    if k > n_samples:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
    return k


def _data(est, X, reset, precomputed, dtypes=(np.float64, np.float32)):
    X = validate_data(est, X, dtype=list(dtypes), reset=reset)
    if precomputed and reset and X.shape[0] != X.shape[1]:
        raise ValueError(f"metric='precomputed' needs a square dissimilarity matrix, got shape {X.shape}")
    X = rows_contiguous(X)
    return X, row_stride(X)


class _MedoidsMixin(ClusterMixin, TransformerMixin):
    def _fitted_medoids(self, X, result: KMedoidsResult, medoids, labels):
        self.medoid_indices_ = medoids
        self.labels_ = labels
        self.inertia_ = float(result.loss)
        self.n_iter_ = int(result.iterations)
        self.n_swaps_ = int(result.swaps)
        self._fit_seconds = float(result.seconds)   # the Swift fit alone (without building the matrix)
        self.cluster_centers_ = None if self.metric == "precomputed" else np.array(X[medoids])
        return self

    def _distances(self, X):
        check_is_fitted(self, "medoid_indices_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self.metric == "precomputed":
            return np.asarray(X[:, self.medoid_indices_], dtype=np.float64)
        metric = {"sqeuclidean": "sqeuclidean", "cityblock": "manhattan", "l1": "manhattan"}.get(self.metric, self.metric)
        return pairwise_distances(X, self.cluster_centers_, metric=metric)

    def transform(self, X):
        """Distances of each row of X to the medoids (for 'precomputed': X holds distances to the
        training points, and its medoid columns are returned)."""
        return self._distances(X)

    def predict(self, X):
        """Index (0..k-1) of the nearest medoid of each row of X (the lowest index on ties)."""
        return np.argmin(self._distances(X), axis=1).astype(np.int64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags


class KMedoids(_MedoidsMixin, BaseEstimator):
    """k-medoids: PAM, FastPAM1, FastPAM2, FasterPAM, Alternating (Schubert & Rousseeuw).

    Parameters: n_clusters (8); metric ('euclidean', 'sqeuclidean', 'manhattan', 'cosine' or
    'precomputed': X is a symmetric n × n dissimilarity matrix); method ('fasterpam', 'pam',
    'fastpam1', 'fastpam2', 'alternating'); init ('build', 'random', 'lab', or an array of
    n_clusters distinct indices); max_iter (300); shuffle (FasterPAM in random order); random_state
    (None: seed 0); n_threads (None/-1: one per core).
    The n × n matrix is built for data metrics (n²·8 bytes for float64 X, n²·4 for float32).
    """

    def __init__(self, n_clusters=8, *, metric="euclidean", method="fasterpam", init="build", max_iter=300,
                 shuffle=False, random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.metric = metric
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None):
        metric = _metric(self.metric)
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        max_iter = check_int(self.max_iter, "max_iter", low=0)
        threads = _threads(self.n_threads)
        seed = seed_from(self.random_state, default=0)
        X, ld = _data(self, X, True, metric == 0)
        n, d = X.shape
        k = _k(self.n_clusters, n)
        init_ptr = None
        if isinstance(self.init, str):
            if self.init not in KMEDOIDS_INITS:
                raise ValueError(f"init must be one of {sorted(KMEDOIDS_INITS)} or an index array, got {self.init!r}")
            init = KMEDOIDS_INITS[self.init]
        else:
            idx = np.asarray(self.init)
            if idx.dtype.kind not in "iu":
                raise TypeError(f"init indices must be integers, got dtype {idx.dtype}")
            if idx.shape != (k,):
                raise ValueError(f"init must hold n_clusters={k} indices, got shape {idx.shape}")
            if idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != k:
                raise ValueError(f"init indices must be {k} distinct values in [0, {n})")
            idx = np.ascontiguousarray(idx, dtype=np.int64)
            init, init_ptr = 4, idx
        p = KMedoidsParams(size=ctypes.sizeof(KMedoidsParams))
        cl = _cl()
        cl.tsr_kmedoids_params_default(ctypes.byref(p))
        p.method, p.init, p.metric, p.max_iter, p.seed = METHODS[self.method], init, metric, max_iter, seed
        p.shuffle, p.threads = int(bool(self.shuffle)), threads
        medoids = np.empty(k, dtype=np.int64)
        labels = np.empty(n, dtype=np.int64)
        r = KMedoidsResult(size=ctypes.sizeof(KMedoidsResult))
        fn = cl.tsr_kmedoids_fit_f32 if X.dtype == np.float32 else cl.tsr_kmedoids_fit_f64
        _lib.check_cluster(fn(ctypes.byref(p), n, d, ptr(X), ld, k, None if init_ptr is None else ptr(init_ptr),
                              ptr(medoids), ptr(labels), ctypes.byref(r)))
        return self._fitted_medoids(X, r, medoids, labels)


class _Sampled(_MedoidsMixin, BaseEstimator):
    _fn = "tsr_clara_fit_f64"

    def _fit(self, X, samples, sample_size, fast, max_iter):
        metric = _metric(self.metric)
        threads = _threads(self.n_threads)
        seed = seed_from(self.random_state, default=0)
        X, ld = _data(self, X, True, metric == 0, dtypes=(np.float64,))
        n, d = X.shape
        k = _k(self.n_clusters, n)
        cl = _cl()
        p = CLARAParams(size=ctypes.sizeof(CLARAParams))
        cl.tsr_clara_params_default(ctypes.byref(p))
        p.metric, p.samples, p.sample_size, p.fast, p.max_iter = metric, samples, sample_size, int(bool(fast)), max_iter
        p.seed, p.threads = seed, threads
        medoids = np.empty(k, dtype=np.int64)
        labels = np.empty(n, dtype=np.int64)
        r = KMedoidsResult(size=ctypes.sizeof(KMedoidsResult))
        _lib.check_cluster(getattr(cl, self._fn)(ctypes.byref(p), n, d, ptr(X), ld, k, ptr(medoids), ptr(labels),
                                                 ctypes.byref(r)))
        return self._fitted_medoids(X, r, medoids, labels)


class CLARA(_Sampled):
    """CLARA / FastCLARA: k-medoids on `n_sampling_iter` random samples of `n_sampling` points (None:
    80 + 4k for fast, 40 + 2k otherwise), the medoids with the least loss over all points win.
    No n × n matrix for data metrics. Attributes as KMedoids."""

    _fn = "tsr_clara_fit_f64"

    def __init__(self, n_clusters=8, *, metric="euclidean", n_sampling=None, n_sampling_iter=5, fast=True,
                 max_iter=300, random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_sampling = n_sampling
        self.n_sampling_iter = n_sampling_iter
        self.fast = fast
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None):
        size = check_int(self.n_sampling, "n_sampling", low=1, allow_none=True) or 0
        samples = check_int(self.n_sampling_iter, "n_sampling_iter", low=1)
        return self._fit(X, samples, size, self.fast, check_int(self.max_iter, "max_iter", low=0))


class CLARANS(_Sampled):
    """CLARANS / FastCLARANS (Ng & Han; Schubert & Rousseeuw): `numlocal` restarts of a randomised swap
    search that ends after `maxneighbor` failed neighbours in a row (None: the paper's default).
    Attributes as KMedoids."""

    _fn = "tsr_clarans_fit_f64"

    def __init__(self, n_clusters=8, *, metric="euclidean", numlocal=2, maxneighbor=None, fast=True,
                 random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.metric = metric
        self.numlocal = numlocal
        self.maxneighbor = maxneighbor
        self.fast = fast
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None):
        restarts = check_int(self.numlocal, "numlocal", low=1)
        maxn = check_int(self.maxneighbor, "maxneighbor", low=1, allow_none=True) or 0
        return self._fit(X, restarts, maxn, self.fast, 0)


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means (Lloyd with GEMM assignment, or Hamerly's bounds: the same assignments) with greedy
    k-means++ initialisation, as TesseraCluster's KMeans.

    Parameters: n_clusters (8); init ('k-means++', 'random', or an (n_clusters, n_features) array);
    n_init (1); max_iter (300); tol (1e-4, relative to the mean feature variance); algorithm ('lloyd'
    or 'hamerly'; 'elkan' runs Hamerly's bounds); random_state (None: seed 0); n_threads.
    Fitted: cluster_centers_, labels_, inertia_, n_iter_, converged_.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init=1, max_iter=300, tol=1e-4, algorithm="lloyd",
                 random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None):
        if self.algorithm not in ("lloyd", "hamerly", "elkan"):
            raise ValueError(f"algorithm must be 'lloyd' or 'hamerly', got {self.algorithm!r}")
        n_init = check_int(self.n_init, "n_init", low=1)
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        tol = check_float(self.tol, "tol", low=0)
        threads = _threads(self.n_threads)
        seed = seed_from(self.random_state, default=0)
        X, ld = _data(self, X, True, False)
        n, d = X.shape
        k = _k(self.n_clusters, n)
        centers_in = None
        if isinstance(self.init, str):
            if self.init not in ("k-means++", "random"):
                raise ValueError(f"init must be 'k-means++', 'random' or an array, got {self.init!r}")
            init = 0 if self.init == "k-means++" else 1
        else:
            c = np.asarray(self.init)
            if c.dtype.kind not in "iuf":
                raise TypeError(f"init centres must be numeric, got dtype {c.dtype}")
            if c.shape != (k, d):
                raise ValueError(f"init must have shape ({k}, {d}), got {c.shape}")
            centers_in, init = np.ascontiguousarray(c, dtype=np.float64), 2
        cl = _cl()
        p = KMeansParams(size=ctypes.sizeof(KMeansParams))
        cl.tsr_kmeans_params_default(ctypes.byref(p))
        p.algorithm = 0 if self.algorithm == "lloyd" else 1
        p.init, p.n_init, p.max_iter, p.tol, p.seed, p.threads = init, n_init, max_iter, tol, seed, threads
        centers = np.empty((k, d), dtype=X.dtype)
        labels = np.empty(n, dtype=np.int64)
        r = KMeansResult(size=ctypes.sizeof(KMeansResult))
        fn = cl.tsr_kmeans_fit_f32 if X.dtype == np.float32 else cl.tsr_kmeans_fit_f64
        _lib.check_cluster(fn(ctypes.byref(p), n, d, ptr(X), ld, k, None if centers_in is None else ptr(centers_in),
                              ptr(centers), ptr(labels), ctypes.byref(r)))
        self.cluster_centers_, self.labels_ = centers, labels
        self.inertia_, self.n_iter_, self.converged_ = float(r.inertia), int(r.iterations), bool(r.converged)
        return self

    def predict(self, X):
        """Nearest centre of each row of X (TesseraCluster's KMeans.predict)."""
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        X = rows_contiguous(np.asarray(X, dtype=self.cluster_centers_.dtype))
        labels = np.empty(X.shape[0], dtype=np.int64)
        if X.shape[0] == 0:
            return labels
        C = np.ascontiguousarray(self.cluster_centers_)
        cl = _cl()
        fn = cl.tsr_kmeans_predict_f32 if X.dtype == np.float32 else cl.tsr_kmeans_predict_f64
        _lib.check_cluster(fn(X.shape[0], X.shape[1], ptr(X), row_stride(X), C.shape[0], ptr(C), ptr(labels)))
        return labels

    def transform(self, X):
        """Euclidean distances of each row of X to the centres."""
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return pairwise_distances(X, self.cluster_centers_)

    def score(self, X, y=None):
        """Minus the inertia of X under the fitted centres."""
        D = self.transform(X)
        return -float(np.sum(np.min(D, axis=1) ** 2))


from ._mixture import PPP, GaussianMixture  # noqa: E402  (re-exported; _mixture imports KMeans lazily)
