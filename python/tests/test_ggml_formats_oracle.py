"""Tessera's ggml block formats against an oracle nobody here wrote: the `gguf` package from PyPI
(llama.cpp's own Python reader; gguf.quants dequantizes every ggml type in NumPy).

- Dequantization: random blocks (every byte value, so every nibble / code / packed scale), plus
  edge cases — zero blocks, the largest finite fp16 scales, ±0, subnormal, ±inf and NaN scales —
  must give the same float32 bits as gguf.quants.dequantize (NaN where it gives NaN).
- Quantization: for the types gguf can quantize (its NumPy port of ggml's reference quantizers),
  Tessera writes the same blocks up to rounding ties; for the K-quants (gguf has no quantizer),
  the round-trip error, measured through gguf's dequantizer, must beat a float64 reference of
  the plain min/max quantizer on the same grid (ggml's scale/min searches exist to do better) and
  stay within the error llama.cpp's search is known to reach on Gaussian weights.
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import quants as gq  # noqa: E402

import ctypes  # noqa: E402

from tessera import _lib  # noqa: E402

# The C ABI directly (tessera.quant's format list may predate these formats).
_C = _lib.lib


class _Traits(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("format", ctypes.c_int32), ("name", ctypes.c_char_p),
                ("block_elems", ctypes.c_int32), ("block_bytes", ctypes.c_int32),
                ("bits_per_weight", ctypes.c_double), ("weight_bits", ctypes.c_int32),
                ("group_size", ctypes.c_int32), ("scale_dtype", ctypes.c_int32),
                ("has_zero_point", ctypes.c_int32), ("has_min", ctypes.c_int32),
                ("ggml_type", ctypes.c_int32), ("act_block", ctypes.c_int32)]


class _Matrix(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("format", ctypes.c_int32), ("n", ctypes.c_int64),
                ("k", ctypes.c_int64), ("data", ctypes.c_void_p), ("row_stride", ctypes.c_size_t),
                ("data_bytes", ctypes.c_size_t)]


class _Stats(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("max_abs_error", ctypes.c_double), ("rms_error", ctypes.c_double),
                ("max_abs_value", ctypes.c_double), ("rms_value", ctypes.c_double)]


for _name, _args in {
    "tsr_quant_format_parse": [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int32)],
    "tsr_quant_traits_get": [ctypes.c_int32, ctypes.c_void_p],
    "tsr_quantize": [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                     ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p],
    "tsr_dequantize": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64],
    "tsr_qgemm_plan_create": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)],
    "tsr_qgemm_plan_dequantize": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64],
    "tsr_qgemm_plan_destroy": [ctypes.c_void_p],
}.items():
    getattr(_C, _name).argtypes = _args
    getattr(_C, _name).restype = None if _name == "tsr_qgemm_plan_destroy" else ctypes.c_int32


def _ok(status):
    assert status == 0, _C.tsr_last_error().decode()


def _fmt(name):
    out = ctypes.c_int32()
    _ok(_C.tsr_quant_format_parse(name.encode(), ctypes.byref(out)))
    return out.value


class quant:  # noqa: N801 - the few calls this test needs, shaped like tessera.quant's
    QuantStats = _Stats

    @staticmethod
    def traits(name):
        t = _Traits(size=ctypes.sizeof(_Traits))
        _ok(_C.tsr_quant_traits_get(_fmt(name), ctypes.byref(t)))
        return {f: getattr(t, f) for f, _ in _Traits._fields_}

    @staticmethod
    def _matrix(data, name):
        t = quant.traits(name)
        data = np.ascontiguousarray(data, np.uint8)
        n, rb = data.shape
        m = _Matrix(size=ctypes.sizeof(_Matrix), format=_fmt(name), n=n,
                    k=rb // t["block_bytes"] * t["block_elems"], data=data.ctypes.data, row_stride=rb,
                    data_bytes=data.nbytes)
        return m, data

    @staticmethod
    def quantize(x, name):
        t = quant.traits(name)
        x = np.ascontiguousarray(x, np.float32)
        n, k = x.shape
        out = np.zeros((n, k // t["block_elems"] * t["block_bytes"]), np.uint8)
        st = _Stats(size=ctypes.sizeof(_Stats))
        _ok(_C.tsr_quantize(None, _fmt(name), x.ctypes.data, n, k, k, out.ctypes.data, out.nbytes, ctypes.byref(st)))
        return out, st

    @staticmethod
    def dequantize(data, name):
        m, keep = quant._matrix(data, name)
        out = np.empty((m.n, m.k), np.float32)
        _ok(_C.tsr_dequantize(None, ctypes.byref(m), out.ctypes.data, m.k))
        return out

    @staticmethod
    def plan_dequantize(data, name):
        m, keep = quant._matrix(data, name)
        plan = ctypes.c_void_p()
        _ok(_C.tsr_qgemm_plan_create(None, ctypes.byref(m), None, ctypes.byref(plan)))
        out = np.empty((m.n, m.k), np.float32)
        try:
            _ok(_C.tsr_qgemm_plan_dequantize(plan, out.ctypes.data, m.k))
        finally:
            _C.tsr_qgemm_plan_destroy(plan)
        return out

# Tessera format name -> (ggml type, offsets of the fp16 scale fields in a block)
TYPES = {
    "q4_0": (T.Q4_0, (0,)),
    "q4_1": (T.Q4_1, (0, 2)),
    "q5_0": (T.Q5_0, (0,)),
    "q5_1": (T.Q5_1, (0, 2)),
    "q8_0": (T.Q8_0, (0,)),
    "q2_k": (T.Q2_K, (80, 82)),
    "q3_k": (T.Q3_K, (108,)),
    "q4_k": (T.Q4_K, (0, 2)),
    "q5_k": (T.Q5_K, (0, 2)),
    "q6_k": (T.Q6_K, (208,)),
    "iq4_nl": (T.IQ4_NL, (0,)),
}

# fp16 bit patterns of the edge-case scales: +0, -0, smallest subnormal, largest subnormal,
# 1.0, the largest finite (65504), its negative, +inf, -inf, quiet NaN, signalling-pattern NaN
EDGE_SCALES = [0x0000, 0x8000, 0x0001, 0x03FF, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01]


def _sizes(fmt):
    t = quant.traits(fmt)
    return t["block_elems"], t["block_bytes"]


def _same_floats(a, b):
    """Bitwise equal, except that any NaN equals any NaN."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return a.shape == b.shape and np.array_equal(nan_a, nan_b) and \
        np.array_equal(a[~nan_a].view(np.uint32), b[~nan_b].view(np.uint32))


def _blocks(fmt, rng, nblocks):
    """Random blocks with finite, moderate scales, plus the edge-case blocks."""
    qtype, scale_offs = TYPES[fmt]
    elems, nbytes = _sizes(fmt)
    assert gq.GGML_QUANT_SIZES[qtype] == (elems, nbytes)  # the layout sizes agree with ggml's
    b = rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)
    # random finite scales in [2^-14, 2^4) of either sign, so most values are ordinary floats
    for off in scale_offs:
        h = rng.integers(0x0400, 0x4C00, size=nblocks, dtype=np.uint16) | (rng.integers(0, 2, nblocks, dtype=np.uint16) << 15)
        b[:, off:off + 2] = h.view(np.uint8).reshape(nblocks, 2)
    edge = []
    edge.append(np.zeros(nbytes, np.uint8))                         # an all-zero block
    edge.append(np.full(nbytes, 0xFF, np.uint8))                    # every code at its maximum (scales NaN)
    for s in EDGE_SCALES:                                           # each scale pattern, random codes
        for off in scale_offs:
            blk = rng.integers(0, 256, nbytes, dtype=np.uint8)
            for o in scale_offs:
                blk[o:o + 2] = np.array([0x3C00], np.uint16).view(np.uint8)
            blk[off:off + 2] = np.array([s], np.uint16).view(np.uint8)
            edge.append(blk)
            mx = np.full(nbytes, 0xFF, np.uint8)                    # max codes with that scale
            mx[off:off + 2] = np.array([s], np.uint16).view(np.uint8)
            edge.append(mx)
    for byte in range(256):                                        # every byte value in every code field
        blk = np.full(nbytes, byte, np.uint8)
        for o in scale_offs:
            blk[o:o + 2] = np.array([0x7BFF], np.uint16).view(np.uint8)  # the largest finite scales
        edge.append(blk)
    return np.concatenate([b, np.stack(edge)])


@pytest.mark.parametrize("fmt", sorted(TYPES))
def test_dequantize_matches_gguf(fmt):
    rng = np.random.default_rng(sum(fmt.encode()))
    qtype, _ = TYPES[fmt]
    elems, nbytes = _sizes(fmt)
    blocks = _blocks(fmt, rng, 2048)
    with np.errstate(all="ignore"):  # gguf multiplies the inf/NaN scales too
        ref = gq.dequantize(blocks, qtype).reshape(-1)
    # Tessera reads rows of 4 blocks (and a single-block row for the tail)
    nb = blocks.shape[0]
    ours = []
    rows = nb // 4
    ours.append(quant.dequantize(blocks[:rows * 4].reshape(rows, 4 * nbytes), fmt).reshape(-1))
    if nb % 4:
        ours.append(quant.dequantize(blocks[rows * 4:].reshape(nb % 4, nbytes), fmt).reshape(-1))
    ours = np.concatenate(ours)
    assert ours.shape == ref.shape == (nb * elems,)
    bad = np.flatnonzero(~(np.isnan(ours) & np.isnan(ref)) & (ours.view(np.uint32) != ref.astype(np.float32).view(np.uint32)))
    assert bad.size == 0, f"{fmt}: {bad.size} values differ, first at element {bad[0]} " \
        f"(block {bad[0] // elems}): ours {ours[bad[0]]!r}, gguf {ref[bad[0]]!r}"
    # the qgemm plan of the finite blocks holds the same weights
    finite = np.isfinite(ref.reshape(nb, elems)).all(1)
    fb = blocks[finite]
    fb = fb[:fb.shape[0] // 4 * 4].reshape(-1, 4 * nbytes)
    plan_w = quant.plan_dequantize(fb, fmt).reshape(-1)
    with np.errstate(all="ignore"):
        assert _same_floats(plan_w, gq.dequantize(fb.reshape(-1, nbytes), qtype).reshape(-1))


def _weights(rng, n, k):
    """Gaussian weights with per-row scales and a few outliers, as in trained layers."""
    x = rng.standard_normal((n, k)) * rng.uniform(0.005, 0.2, (n, 1))
    idx = rng.integers(0, x.size, x.size // 200)
    x.reshape(-1)[idx] *= 6.0
    return x.astype(np.float32)


@pytest.mark.parametrize("fmt", ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"])
def test_quantize_matches_gguf_quantizer(fmt):
    qtype, _ = TYPES[fmt]
    rng = np.random.default_rng(7)
    x = _weights(rng, 64, 1024)
    ours, _ = quant.quantize(x, fmt)
    ref = gq.quantize(x, qtype)
    elems, nbytes = _sizes(fmt)
    ob, rb = ours.reshape(-1, nbytes), ref.reshape(-1, nbytes)
    same = (ob == rb).all(1).mean()
    # gguf's NumPy port rounds some ties and the fp16 conversion of scales its own way (np.round,
    # float16 casts): allow a few differing blocks, but then the errors must be no worse
    assert same >= 0.98, f"{fmt}: only {same:.3%} of the blocks equal gguf's"
    e_ours = np.sqrt(np.mean((gq.dequantize(ours, qtype).reshape(x.shape) - x) ** 2))
    e_ref = np.sqrt(np.mean((gq.dequantize(ref, qtype).reshape(x.shape) - x) ** 2))
    assert e_ours <= e_ref * 1.001


def _minmax_reference(x, fmt):
    """float64 reference of the plain K-quant quantizer (no search): per sub-block scale
    (max − min)/nmax and min (or the signed amax scale for Q3_K/Q6_K), the scales quantized
    against the super-block's fp16 d / dmin as ggml stores them, then round to nearest."""
    x = x.astype(np.float64)
    nsub, nmax, sbits, signed = {"q4_k": (32, 15, 63, False), "q5_k": (32, 31, 63, False),
                                 "q2_k": (16, 3, 15, False), "q3_k": (16, 4, 32, True),
                                 "q6_k": (16, 32, 128, True)}[fmt]
    sb = x.reshape(-1, 256 // nsub, nsub)
    f16 = lambda v: v.astype(np.float16).astype(np.float64)  # noqa: E731
    if signed:
        i = np.abs(sb).argmax(-1)
        vmax = np.take_along_axis(sb, i[..., None], -1)[..., 0]
        sc = vmax / -nmax
        j = np.abs(sc).argmax(-1)
        smax = np.take_along_axis(sc, j[..., None], -1)
        d = f16(smax / -sbits)
        with np.errstate(all="ignore"):
            ls = np.clip(np.rint(np.where(d != 0, sc / d, 0)), -sbits, sbits - 1)
            dl = (d * ls)[..., None]
            q = np.clip(np.rint(np.where(dl != 0, sb / dl, 0)), -nmax, nmax - 1)
        return (dl * q).reshape(x.shape)
    mn = np.minimum(sb.min(-1), 0)
    sc = (sb.max(-1) - mn) / nmax
    d, dm = f16(sc.max(-1, keepdims=True) / sbits), f16((-mn).max(-1, keepdims=True) / sbits)
    with np.errstate(all="ignore"):
        ls = np.clip(np.rint(np.where(d != 0, sc / d, 0)), 0, sbits)
        lm = np.clip(np.rint(np.where(dm != 0, -mn / dm, 0)), 0, sbits)
        dl, ml = (d * ls)[..., None], (dm * lm)[..., None]
        q = np.clip(np.rint(np.where(dl != 0, (sb + ml) / dl, 0)), 0, nmax)
    return (dl * q - ml).reshape(x.shape)


# RMS error / RMS value on these weights: a few per cent above what the searches reach
# (0.315, 0.170, 0.078, 0.040, 0.020); the plain min/max quantizer gets 0.347, 0.172, 0.085,
# 0.042, 0.022, so a search that stopped working fails both checks.
KQ_MAX_REL_RMSE = {"q2_k": 0.33, "q3_k": 0.175, "q4_k": 0.082, "q5_k": 0.042, "q6_k": 0.021}


@pytest.mark.parametrize("fmt", sorted(KQ_MAX_REL_RMSE))
def test_kquant_quantizer_quality(fmt):
    qtype, _ = TYPES[fmt]
    rng = np.random.default_rng(11)
    x = _weights(rng, 32, 2048)
    ours, stats = quant.quantize(x, fmt)
    y = gq.dequantize(ours, qtype).reshape(x.shape).astype(np.float64)  # read back by the oracle
    err = np.sqrt(np.mean((y - x) ** 2))
    base = np.sqrt(np.mean((_minmax_reference(x, fmt) - x) ** 2))
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    assert err < base, f"{fmt}: rms error {err:.4g} is not below the plain min/max quantizer's {base:.4g}"
    assert err / rms < KQ_MAX_REL_RMSE[fmt], f"{fmt}: relative rms error {err / rms:.4f}"
    assert stats.rms_error == pytest.approx(err, rel=1e-4)


def test_iq4_nl_quantizer_beats_uniform_grid():
    rng = np.random.default_rng(12)
    x = _weights(rng, 32, 1024)
    y = gq.dequantize(quant.quantize(x, "iq4_nl")[0], T.IQ4_NL).reshape(x.shape)
    y4 = gq.dequantize(quant.quantize(x, "q4_0")[0], T.Q4_0).reshape(x.shape)
    # the non-linear grid exists to beat the uniform 4-bit grid on bell-shaped weights
    assert np.sqrt(np.mean((y - x) ** 2)) < np.sqrt(np.mean((y4 - x) ** 2))


@pytest.mark.parametrize("fmt", sorted(TYPES))
def test_quantized_bytes_read_back_by_gguf(fmt):
    """What Tessera writes, gguf reads as the same weights (the files `tessera quantize` writes)."""
    qtype, _ = TYPES[fmt]
    rng = np.random.default_rng(5)
    x = _weights(rng, 8, 512)
    x[0, :256] = 0.0             # a zero super-block
    x[1, :256] = 1e-40           # subnormal: stored as a zero block
    x[2, :256] = -3.0            # a constant negative block
    data, _ = quant.quantize(x, fmt)
    assert _same_floats(quant.dequantize(data, fmt), gq.dequantize(data, qtype).reshape(x.shape))
    assert (quant.dequantize(data, fmt)[:2, :256] == 0).all()
