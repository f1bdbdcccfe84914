"""SparseRandomProjection / GaussianRandomProjection on tsr_rp_*."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import random_projection as skrp

from tessera import _arrays
from tessera.random_projection import GaussianRandomProjection, SparseRandomProjection

EST = [SparseRandomProjection, GaussianRandomProjection]


@pytest.mark.parametrize("cls", EST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_equals_x_times_components(cls, dtype, rng):
    X = rng.random((40, 300)).astype(dtype)
    rp = cls(24, random_state=7).fit(X)
    Y = rp.transform(X)
    assert Y.dtype == dtype and Y.shape == (40, 24)
    C = rp.components_
    C = C.toarray() if sp.issparse(C) else C
    ref = X.astype(np.float64) @ C.T
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(Y, ref, rtol=tol, atol=tol)


def test_density_auto_is_one_over_sqrt_d(rng):
    X = rng.random((10, 400))
    rp = SparseRandomProjection(50, random_state=0).fit(X)
    assert rp.density_ == pytest.approx(1 / 20)
    C = rp.components_
    assert abs(C.nnz / (50 * 400) - 1 / 20) < 0.02
    s = 1 / rp.density_
    np.testing.assert_allclose(np.abs(C.data), np.sqrt(s / 50))


@pytest.mark.parametrize("cls", EST)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_equals_dense_bitwise(cls, fmt, rng):
    X = rng.random((30, 500))
    X[X < 0.9] = 0
    rp = cls(32, random_state=1).fit(X)
    np.testing.assert_array_equal(rp.transform(sp.csr_matrix(X).asformat(fmt)), rp.transform(X))


@pytest.mark.parametrize("cls", EST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_int32_and_int64_indices_same_bits(cls, dtype, rng):
    X = rng.random((70, 600)).astype(dtype)
    X[X < 0.85] = 0
    A = sp.csr_matrix(X)
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32     # the tsr_rp_transform_csr32_* path
    B = A.copy()
    B.indices, B.indptr = B.indices.astype(np.int64), B.indptr.astype(np.int64)   # the int64 path
    rp = cls(20, random_state=5).fit(X)
    ref = rp.transform(A)
    np.testing.assert_array_equal(ref, rp.transform(B))
    np.testing.assert_array_equal(ref, rp.transform(X))
    np.testing.assert_array_equal(rp.transform(A[9:31]), ref[9:31])     # a row slice


def test_csr_column_index_out_of_range_is_an_error(rng):
    X = sp.csr_matrix(rng.random((5, 40)))
    rp = SparseRandomProjection(8, random_state=0).fit(X)
    for bad in (40, -3):
        for ityp in (np.int32, np.int64):
            Y = X.copy()
            Y.indices = Y.indices.astype(ityp)
            Y.indptr = Y.indptr.astype(ityp)
            Y.indices[77] = bad
            with pytest.raises(Exception, match="not in \\[0, 40\\)"):
                rp.transform(Y)


@pytest.mark.parametrize("cls", EST)
def test_any_layout_gives_the_same_bits(cls, rng):
    big = rng.random((60, 400))
    X = big[::2, 50:350]                       # strided rows, offset columns: read in place
    assert _arrays.rows_contiguous(X) is X
    rp = cls(16, random_state=3).fit(X)
    ref = rp.transform(np.ascontiguousarray(X))
    np.testing.assert_array_equal(rp.transform(X), ref)
    np.testing.assert_array_equal(rp.transform(np.asfortranarray(X)), ref)   # copied
    np.testing.assert_array_equal(rp.transform(X[:, ::-1][:, ::-1]), ref)
    ro = np.ascontiguousarray(X)
    ro.setflags(write=False)
    np.testing.assert_array_equal(rp.transform(ro), ref)
    np.testing.assert_array_equal(rp.transform(X.astype(">f8")), ref)       # big-endian: converted


@pytest.mark.parametrize("cls", EST)
def test_threads_and_batches_do_not_change_results(cls, rng):
    X = rng.random((100, 256))
    Y1 = cls(20, random_state=5, n_threads=1).fit(X).transform(X)
    Y2 = cls(20, random_state=5, n_threads=2).fit(X).transform(X)
    np.testing.assert_array_equal(Y1, Y2)
    rp = cls(20, random_state=5).fit(X)
    np.testing.assert_array_equal(rp.transform(X[37:38]), Y1[37:38])


def test_seeds_differ_and_repeat(rng):
    X = rng.random((5, 100))
    a = SparseRandomProjection(8, random_state=1).fit_transform(X)
    b = SparseRandomProjection(8, random_state=2).fit_transform(X)
    c = SparseRandomProjection(8, random_state=1).fit_transform(X)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_pickle_round_trip(rng):
    X = rng.random((5, 100))
    rp = SparseRandomProjection(8, random_state=1).fit(X)
    rp2 = pickle.loads(pickle.dumps(rp))
    np.testing.assert_array_equal(rp.transform(X), rp2.transform(X))


def _pair_distortion(X, Y):
    from scipy.spatial.distance import pdist
    return pdist(Y) ** 2 / pdist(X) ** 2


@pytest.mark.parametrize("cls,skcls", [(SparseRandomProjection, skrp.SparseRandomProjection),
                                      (GaussianRandomProjection, skrp.GaussianRandomProjection)])
def test_distances_preserved_within_jl_bounds_like_scikit_learn(cls, skcls, rng):
    n, D, eps = 60, 5000, 0.5
    X = rng.random((n, D))
    k = skrp.johnson_lindenstrauss_min_dim(n, eps=eps)
    ours = _pair_distortion(X, cls(eps=eps, random_state=0).fit_transform(X))
    theirs = _pair_distortion(X, skcls(eps=eps, random_state=0).fit_transform(X))
    assert cls(eps=eps).fit(X).n_components_ == k
    for r in (ours, theirs):
        assert np.all((r > 1 - eps) & (r < 1 + eps))
    assert abs(ours.mean() - 1) < 0.05 and abs(ours.std() - theirs.std()) < 0.05


def test_auto_dimension_larger_than_input_is_refused():
    with pytest.raises(ValueError, match="larger than the original space"):
        SparseRandomProjection(eps=0.1).fit(np.ones((100, 10)))


def test_feature_count_checked_on_transform(rng):
    rp = SparseRandomProjection(4).fit(rng.random((5, 10)))
    with pytest.raises(ValueError, match="features"):
        rp.transform(rng.random((5, 11)))


@pytest.mark.parametrize("cls", [SparseRandomProjection, GaussianRandomProjection])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_dense_rows_are_named_by_the_kernel(cls, dtype):
    """The finiteness check of dense X runs in C as each block is read (no Python pass): a clear
    ValueError naming the first bad row; NaN in the padding between rows is never read."""
    X = np.random.default_rng(0).random((100, 50)).astype(dtype)
    rp = cls(8, random_state=0).fit(X)
    for row, bad in ((63, np.nan), (5, np.inf), (99, -np.inf)):
        Xb = X.copy()
        Xb[row, 7] = bad
        Xb[row + 1:, 3] = np.nan if row < 99 else Xb[row + 1:, 3]
        with pytest.raises(ValueError, match=f"NaN or infinity \\(first in row {row}\\)"):
            rp.transform(Xb)
    wide = np.full((100, 53), np.nan, dtype=dtype)
    wide[:, :50] = X
    np.testing.assert_array_equal(rp.transform(wide[:, :50]), rp.transform(X))
    Xs = sp.csr_matrix(X)
    Xs.data[10] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        rp.transform(Xs)
