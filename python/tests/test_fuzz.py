"""Hypothesis fuzzing of the argument checks: any parameters and any small arrays give a result or a
ValueError/TypeError/MemoryError with a message — never a crash (a crash in C would end this process)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tessera.cluster import CLARA, CLARANS, KMeans, KMedoids
from tessera.graph import FastRP
from tessera.random_projection import GaussianRandomProjection, SparseRandomProjection

OK_ERRORS = (ValueError, TypeError, MemoryError)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

anything = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.integers(-3, 12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["auto", "build", "random", "pam", "fasterpam", "euclidean", "precomputed", "k-means++",
                     "lloyd", "hamerly", "sparse", "gaussian", "transition", "adjacency"]),
    st.lists(st.integers(-2, 8), max_size=5),
)

dtypes = st.sampled_from([np.float64, np.float32, np.int32, np.int64, np.uint8, np.bool_, np.float16,
                          np.complex128, np.dtype(">f8")])
arrays = dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9)))


def run(make, X):
    try:
        est = make()
        out = est.fit(X)
        if hasattr(est, "transform"):
            est.transform(X)
        return out
    except OK_ERRORS as e:
        assert str(e), f"{type(e).__name__} without a message"
        return None


def odd_layouts(X):
    """The same data read-only, transposed and strided (non-contiguous) too."""
    yield X
    if X.ndim == 2:
        ro = X.copy()
        ro.setflags(write=False)
        yield ro
        yield X.T
        yield X[::2, ::-1]


@SETTINGS
@given(X=arrays, value=anything, name=st.sampled_from(["n_components", "density", "eps", "random_state", "n_threads"]),
       cls=st.sampled_from([SparseRandomProjection, GaussianRandomProjection]))
def test_random_projection_arguments(X, value, name, cls):
    if name == "density" and cls is GaussianRandomProjection:
        name = "eps"
    for Xv in odd_layouts(X):
        run(lambda: cls(**{"n_components": 3, name: value}), Xv)


@SETTINGS
@given(X=arrays, value=anything, name=st.sampled_from(["n_clusters", "metric", "method", "init", "max_iter",
                                                       "random_state", "n_threads", "shuffle"]))
def test_kmedoids_arguments(X, value, name):
    for Xv in odd_layouts(X):
        run(lambda: KMedoids(**{"n_clusters": 2, name: value}), Xv)


@SETTINGS
@given(X=arrays, value=anything, cls=st.sampled_from([CLARA, CLARANS, KMeans]), which=st.integers(0, 3))
def test_other_cluster_arguments(X, value, cls, which):
    names = {CLARA: ["n_clusters", "n_sampling", "n_sampling_iter", "max_iter"],
             CLARANS: ["n_clusters", "numlocal", "maxneighbor", "metric"],
             KMeans: ["n_clusters", "init", "n_init", "tol"]}[cls]
    for Xv in odd_layouts(X):
        run(lambda: cls(**{"n_clusters": 2, names[which]: value}), Xv)


@SETTINGS
@given(edges=hnp.arrays(st.sampled_from([np.int64, np.int32, np.float64, np.int8]),
                        hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6),
                        elements=st.integers(-3, 40)),
       value=anything, name=st.sampled_from(["n_components", "iteration_weights", "beta", "density", "normalization",
                                             "projection", "random_state", "n_threads"]))
def test_fastrp_arguments(edges, value, name):
    kw = {"n_components": 4, name: value}
    try:
        FastRP(**kw).fit(edges)
    except OK_ERRORS as e:
        assert str(e)


@pytest.mark.parametrize("k", [-1, 0, 10**12])
def test_negative_and_huge_k_are_value_errors(k):
    with pytest.raises(ValueError):
        KMedoids(k).fit(np.random.default_rng(0).random((5, 2)))


@SETTINGS
@given(X=arrays, value=anything, name=st.sampled_from(["n_components", "covariance_type", "tol", "reg_covar", "max_iter",
                                                       "init_params", "random_state", "n_threads"]))
def test_gaussian_mixture_arguments(X, value, name):
    from tessera.cluster import GaussianMixture
    for Xv in odd_layouts(X):
        run(lambda: GaussianMixture(**{"n_components": 2, name: value}), Xv)


@SETTINGS
@given(X=arrays, value=anything, name=st.sampled_from(["k_range", "covariance_type", "restarts", "min_agreement",
                                                       "n_threads"]))
def test_ppp_arguments(X, value, name):
    from tessera.cluster import PPP
    for Xv in odd_layouts(X):
        run(lambda: PPP(**{"k_range": (1, 3), name: value}), Xv)


@SETTINGS
@given(F=arrays, value=anything, which=st.sampled_from(["poisson", "heat", "burgers", "advection_diffusion"]),
       name=st.sampled_from(["t", "dt", "diffusivity", "viscosity", "lengths", "length", "effort"]))
def test_pde_arguments(F, value, which, name):
    """Spectral solvers: any field and any one bad keyword give a result or an exception with a message
    (RuntimeError too: a CFL violation or a blow-up is TSR_ESTATE)."""
    from tessera import pde
    kw = {"poisson": {}, "heat": {"t": 0.1}, "burgers": {"t": 0.01, "dt": 0.01, "viscosity": 0.1},
          "advection_diffusion": {"t": 0.01, "dt": 0.01, "diffusivity": 0.1}}[which]
    sig = {"poisson": ("lengths", "effort"), "heat": ("t", "diffusivity", "lengths", "effort"),
           "burgers": ("t", "dt", "viscosity", "length", "effort"),
           "advection_diffusion": ("t", "dt", "diffusivity", "lengths", "effort")}[which]
    if name in sig:
        kw[name] = value
    args = (np.zeros((2, *np.shape(F))),) if which == "advection_diffusion" else ()
    for Fv in odd_layouts(F):
        try:
            t = kw.pop("t", None)
            out = getattr(pde, which)(Fv, *args, *(() if t is None else (t,)), **kw)
            assert out.shape == np.shape(Fv) and out.dtype == np.float64
        except OK_ERRORS + (RuntimeError,) as e:
            assert str(e), f"{type(e).__name__} without a message"
        finally:
            if t is not None:
                kw["t"] = t
