"""FastRP and Graph on tsr_graph_* / tsr_fastrp_*."""
import ctypes

import numpy as np
import pytest
import scipy.sparse as sp

from tessera import _lib
from tessera.graph import FastRP, FastRPParams, Graph


def sbm_edges(rng, n=400, blocks=4, p_in=0.05, p_out=0.005):
    b = np.arange(n) % blocks
    P = np.where(b[:, None] == b[None, :], p_in, p_out)
    A = np.triu(rng.random((n, n)) < P, 1)
    return np.argwhere(A)


def c_embed(edges, dim, seed, **graph):
    """The same embedding straight through the C ABI (no Python wrapper logic)."""
    lib = _lib.lib
    src = np.ascontiguousarray(edges[:, 0], dtype=np.int64)
    dst = np.ascontiguousarray(edges[:, 1], dtype=np.int64)
    g = ctypes.c_void_p()
    assert lib.tsr_graph_create(len(src), src.ctypes.data, dst.ctypes.data, None, None, ctypes.byref(g)) == 0
    p = FastRPParams()
    lib.tsr_fastrp_params_default(ctypes.byref(p))
    p.dim, p.seed = dim, seed
    n = lib.tsr_graph_num_nodes(g)
    out = np.empty((n, dim), dtype=np.float32)
    assert lib.tsr_fastrp_embed(None, g, ctypes.byref(p), out.ctypes.data, dim) == 0
    lib.tsr_graph_destroy(g)
    return out


def test_equals_the_c_embedding_bitwise(rng):
    e = sbm_edges(rng)
    ours = FastRP(32, random_state=9).fit_transform(e)
    np.testing.assert_array_equal(ours, c_embed(e, 32, 9))


def test_adjacency_and_edges_agree(rng):
    e = sbm_edges(rng)
    n = e.max() + 1
    A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    A = (A + A.T).tocsr()
    np.testing.assert_array_equal(FastRP(16, random_state=1).fit_transform(A),
                                  FastRP(16, random_state=1).fit_transform(e))


def test_thread_count_does_not_change_bits(rng):
    e = sbm_edges(rng)
    a = FastRP(16, n_threads=1).fit_transform(e)
    b = FastRP(16, n_threads=2).fit_transform(e)
    np.testing.assert_array_equal(a, b)


def test_options_change_the_embedding(rng):
    e = sbm_edges(rng)
    base = FastRP(16).fit_transform(e)
    for kw in [dict(beta=0.0), dict(iteration_weights=[1, 2]), dict(normalization="adjacency"),
               dict(normalize_rows=True), dict(standardize=False), dict(projection="gaussian"), dict(density=1 / 3)]:
        other = FastRP(16, **kw).fit_transform(e)
        assert other.shape == base.shape and not np.array_equal(other, base), kw
    emb = FastRP(16).fit_transform(e)
    np.testing.assert_allclose(emb.mean(axis=0), 0, atol=1e-4)


def test_communities_are_separated(rng):
    e = sbm_edges(rng, n=400, p_in=0.1, p_out=0.002)
    emb = FastRP(32, random_state=0).fit_transform(e)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    b = np.arange(400) % 4
    S = emb @ emb.T
    same = S[b[:, None] == b[None, :]].mean()
    diff = S[b[:, None] != b[None, :]].mean()
    assert same > diff + 0.3


def test_weighted_edges_and_num_nodes():
    e = np.array([[0, 1], [1, 2], [2, 3]])
    g = Graph(e, np.array([1.0, 2.0, 3.0]), num_nodes=10)
    assert g.num_nodes == 10 and g.num_entries == 6
    emb = FastRP(4).fit_transform(e, weights=[1.0, 2.0, 3.0])
    assert emb.shape == (4, 4) and np.isfinite(emb).all()


@pytest.mark.parametrize("bad,exc", [
    (np.array([[0, -1]]), ValueError), (np.zeros((0, 2), dtype=int), ValueError),
    (np.zeros((3, 3), dtype=int), ValueError), (np.array([[0.5, 1.0]]), TypeError),
    (sp.csr_matrix((3, 4)), ValueError),
])
def test_bad_graphs_raise(bad, exc):
    with pytest.raises(exc):
        FastRP(4).fit(bad)


@pytest.mark.parametrize("kw,exc", [
    (dict(n_components=0), ValueError), (dict(n_components=2.5), TypeError), (dict(iteration_weights=[]), ValueError),
    (dict(iteration_weights=[1] * 17), ValueError), (dict(iteration_weights=[np.nan]), ValueError),
    (dict(beta=np.inf), ValueError), (dict(normalization="x"), ValueError), (dict(density=0), ValueError),
    (dict(density=2.0), ValueError), (dict(projection="dense"), ValueError), (dict(n_threads=-5), ValueError),
])
def test_bad_parameters_raise(kw, exc):
    with pytest.raises(exc):
        FastRP(**kw).fit(np.array([[0, 1], [1, 2]]))
