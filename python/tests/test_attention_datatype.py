"""tessera.attention against a NumPy float64 softmax reference; tessera.datatype against NumPy indexing."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import tessera
from tessera import attention as A
from tessera.datatype import Datatype as D


def _ref(q, k, v, causal=False, window=None, mask=None, bias=None):
    b, hq, lq, d = q.shape
    lk = k.shape[2]
    g = hq // k.shape[1]
    kk, vv = np.repeat(k.astype(float), g, 1), np.repeat(v.astype(float), g, 1)
    z = np.einsum("bhid,bhcd->bhic", q.astype(float), kk) / np.sqrt(d)
    if bias is not None:
        z = z + bias
    i, c, off = np.arange(lq)[:, None], np.arange(lk)[None, :], lk - lq
    vis = np.ones((lq, lk), bool)
    if causal:
        vis &= c <= i + off
    if window is not None:
        vis &= c >= i + off - window[0]
        vis &= c <= i + off + window[1]
    vis = np.broadcast_to(vis, z.shape) & (True if mask is None else mask)
    z = np.where(vis, z, -np.inf)
    mx = z.max(-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0)
    e = np.exp(z - mx)
    s = e.sum(-1, keepdims=True)
    o = np.einsum("bhic,bhcd->bhid", e / np.where(s > 0, s, 1), vv)
    with np.errstate(divide="ignore"):
        return o, (np.log(s) + mx)[..., 0]


@pytest.mark.parametrize("kw", [{}, {"causal": True}, {"window": (3, 1)}, {"mask": True}, {"bias": True, "causal": True}])
@pytest.mark.parametrize("shape", [(2, 4, 5, 9, 2, 16), (1, 3, 1, 40, 1, 8), (1, 2, 7, 7, 2, 64)])
def test_attention_matches_softmax_reference(shape, kw, rng):
    b, hq, lq, lk, hk, d = shape
    q = rng.standard_normal((b, hq, lq, d)).astype(np.float32)
    k = rng.standard_normal((b, hk, lk, d)).astype(np.float32)
    v = rng.standard_normal((b, hk, lk, d)).astype(np.float32)
    kw = dict(kw)
    if kw.get("mask"):
        kw["mask"] = rng.random((lq, lk)) < 0.6
    if kw.get("bias"):
        kw["bias"] = rng.standard_normal((1, hq, lq, lk)).astype(np.float32)
    o, lse = A.attention(q, k, v, return_lse=True, **kw)
    ro, rl = _ref(q, k, v, **kw)
    np.testing.assert_allclose(o, ro, atol=1e-5, rtol=1e-5)
    fin = np.isfinite(rl)
    assert np.array_equal(np.isfinite(lse), fin)
    np.testing.assert_allclose(lse[fin], rl[fin], atol=1e-5, rtol=1e-5)
    assert (o[~fin] == 0).all()


def test_decode_on_cache_and_merge(rng):
    q = rng.standard_normal((1, 4, 1, 32)).astype(np.float32)
    kc = rng.standard_normal((1, 2, 100, 32)).astype(np.float32)
    vc = rng.standard_normal((1, 2, 100, 32)).astype(np.float32)
    o, lse = A.decode(q, kc, vc, 60, return_lse=True)
    ro, rl = _ref(q, kc[:, :, :60], vc[:, :, :60])
    np.testing.assert_allclose(o, ro, atol=1e-5)
    o1, l1 = A.attention(q, kc[:, :, :25], vc[:, :, :25], return_lse=True)
    o2, l2 = A.attention(q, kc[:, :, 25:60], vc[:, :, 25:60], return_lse=True)
    om, lm = A.merge([o1, o2], [l1, l2])
    np.testing.assert_allclose(om, ro, atol=1e-5)
    np.testing.assert_allclose(lm, rl, atol=1e-5)
    o16 = A.attention(q.astype(np.float16), kc[:, :, :60].astype(np.float16), vc[:, :, :60], out_dtype=np.float16)
    assert o16.dtype == np.float16 and np.abs(o16 - ro).max() < 2e-2


def test_attention_errors(rng):
    q = np.ones((1, 3, 2, 8), np.float32)
    kv = np.ones((1, 2, 4, 8), np.float32)
    with pytest.raises(ValueError, match="multiple"):
        A.attention(q, kv, kv)
    with pytest.raises(ValueError):
        A.attention(q[0], kv, kv)
    q2 = np.ones((1, 2, 2, 8), np.float32)
    q2[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        A.attention(q2, kv, kv)
    with pytest.raises(TypeError):
        A.attention(q2.astype(np.complex64), kv, kv)
    with pytest.raises(ValueError):
        A.attention(np.ones((1, 1, 1, 300), np.float32), np.ones((1, 1, 1, 300), np.float32),
                    np.ones((1, 1, 1, 300), np.float32))


_t4 = st.tuples(*[st.integers(0, 4)] * 4).map(lambda s: np.ones(s, np.float32))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(_t4, _t4, _t4, st.booleans(), st.one_of(st.none(), st.tuples(st.integers(-3, 5), st.integers(-3, 5))),
       st.one_of(st.none(), st.floats(allow_nan=True)))
def test_attention_bad_arguments_never_crash(q, k, v, causal, window, scale):
    try:
        A.attention(q, k, v, causal=causal, window=window, scale=scale, return_lse=True)
    except (ValueError, TypeError, tessera.TesseraError):
        pass


# ---- datatype ----------------------------------------------------------------

def _roundtrip(t, buf, sel):
    t.commit()
    p = t.pack(buf)
    assert np.array_equal(p.view(buf.dtype), buf.ravel()[sel])
    out = np.zeros_like(buf)
    t.unpack(p, out)
    assert np.array_equal(out.ravel()[sel], buf.ravel()[sel])
    rest = np.ones(buf.size, bool)
    rest[sel] = False
    assert (out.ravel()[rest] == 0).all()


def test_datatype_layouts_match_numpy_indexing():
    a = np.arange(12 * 10, dtype=np.float64).reshape(12, 10)
    dbl = D.named(np.float64)
    _roundtrip(D.contiguous(7, dbl), a, np.arange(7))
    _roundtrip(D.vector(4, 3, 10, dbl), a, (np.arange(4)[:, None] * 10 + np.arange(3)).ravel())
    _roundtrip(D.hvector(5, 2, 160, dbl), a, (np.arange(5)[:, None] * 20 + np.arange(2)).ravel())
    _roundtrip(D.indexed([2, 1, 3], [50, 4, 9], dbl), a, np.array([50, 51, 4, 9, 10, 11]))
    _roundtrip(D.hindexed([1, 2], [80, 0], dbl), a, np.array([10, 0, 1]))
    _roundtrip(D.indexed_block(2, [7, 1, 30], dbl), a, np.array([7, 8, 1, 2, 30, 31]))
    _roundtrip(D.subarray([12, 10], [3, 4], [2, 5], dbl), a, np.ravel_multi_index(np.ix_(range(2, 5), range(5, 9)), a.shape).ravel())
    fsel = np.ravel_multi_index(np.ix_(range(2, 5), range(5, 9)), (12, 10), order="F").T.ravel()
    _roundtrip(D.subarray([12, 10], [3, 4], [2, 5], dbl, order="F"), a, fsel)
    i32 = np.arange(30, dtype=np.int32)
    s = D.struct([2, 1], [8, 0], [D.named("int32"), D.named(np.int32)])
    _roundtrip(s, i32, np.array([2, 3, 0]))
    r = D.resized(D.named(np.int32), 0, 12).commit()
    assert np.array_equal(r.pack(i32, 5).view(np.int32), i32[::3][:5])


def test_datatype_errors():
    dbl = D.named(np.float64)
    with pytest.raises(ValueError, match="count"):
        D.vector(-1, 1, 1, dbl)
    with pytest.raises(TypeError):
        D.contiguous(3, "double")
    t = D.vector(3, 1, 5, dbl)
    with pytest.raises(tessera.TesseraError):
        t.pack(np.zeros(20))  # not committed
    t.commit()
    with pytest.raises(ValueError, match="touch bytes"):
        t.pack(np.zeros(5))
    with pytest.raises(ValueError):
        t.unpack(np.zeros(3 * 8, np.uint8), np.zeros(20)[::2])
    with pytest.raises(ValueError):
        t.unpack(np.zeros(2, np.uint8), np.zeros(20))


_ints = st.integers(-5, 12)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["contiguous", "vector", "hvector", "indexed", "subarray", "resized"]),
       st.lists(_ints, min_size=0, max_size=4), st.integers(0, 64), st.integers(-1, 3))
def test_datatype_bad_arguments_never_crash(kind, ints, nbuf, count):
    ints = ints + [1] * 4
    dbl = D.named(np.float64)
    try:
        if kind == "contiguous":
            t = D.contiguous(ints[0], dbl)
        elif kind == "vector":
            t = D.vector(ints[0], ints[1], ints[2], dbl)
        elif kind == "hvector":
            t = D.hvector(ints[0], ints[1], ints[2] * 3, dbl)
        elif kind == "indexed":
            t = D.indexed(ints[:2], ints[2:4], dbl)
        elif kind == "subarray":
            t = D.subarray(ints[:2], ints[2:4], [0, ints[0]], dbl)
        else:
            t = D.resized(dbl, ints[0], ints[1])
        t.commit()
        buf = np.arange(nbuf, dtype=np.float64)
        p = t.pack(buf, count)
        t.unpack(p, buf.copy(), count)
    except (ValueError, TypeError, tessera.TesseraError):
        pass
