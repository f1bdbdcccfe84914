#!/usr/bin/env python3
"""Writes the seed corpora of the C fuzz targets (fuzz/corpus/<target>/).

The seeds are committed; run this only to regenerate them after changing an input
encoding (python3 fuzz/gen_seeds.py). Files named repro-* reproduce findings of the
hardening issue: they must keep passing once fixed (make test-fuzz-replay).
Encodings: see fuzz/c/fuzz_common.h (fz_i64, fz_f32) and the comment at the top of
each target.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
I64_MAX, I64_MIN = 2**63 - 1, -2**63
SPECIAL_I64 = [
    0, 1, -1, 2,
    I64_MAX, I64_MIN, I64_MAX - 1, I64_MIN + 1,
    2**31 - 1, 2**31, -2**31, 2**32,
    2**32 + 1, -2**32, 2**40, 2**53,
    2**60, 2**60 - 4, 2**62, -2**62,
    I64_MAX // 2, I64_MAX // 3, 255, 256,
    1023, 1024, 1025, 4096,
    65535, 65536, 2**20, 2**30,
]
SPECIAL_F32 = {  # name -> index in fz_special_f32
    "0": 0, "-0": 1, "1": 2, "-1": 3, "1e-40": 4, "-1e-40": 5, "1.4e-45": 6, "1e-38": 7,
    "1e7": 8, "-1e7": 9, "6e5": 10, "-6e5": 11, "3e38": 12, "-3e38": 13, "FLT_MAX": 14,
    "-FLT_MAX": 15, "65504": 16, "65520": 17, "-65520": 18, "1e-5": 19, "1e-8": 20, "6e-8": 21,
    "nan": 22, "inf": 23, "-inf": 24, "0.5": 25, "1e30": 26, "1e-30": 27, "127": 28, "128": 29,
    "2^24": 30, "1e4": 31,
}


def i64(v):
    if -16 <= v <= 175:
        return bytes([v + 16])
    if v in SPECIAL_I64:
        return bytes([0xC0 + SPECIAL_I64.index(v)])
    return bytes([0xE0]) + struct.pack("<q", v)


def f32(v):
    """A float: a name from SPECIAL_F32, a small multiple of 1/8, or raw bits."""
    if isinstance(v, str):
        return bytes([0x80 + SPECIAL_F32[v]])
    if v * 8 == int(v * 8) and -8 <= v < 8:
        return bytes([int(v * 8) + 64])
    return bytes([0xA0]) + struct.pack("<f", v)


def u8(*vals):
    return bytes(v & 0xFF for v in vals)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- datatype ------------------------------------------------------------------------
NAMED = {"byte": 0, "char": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "uint8": 6,
         "float": 10, "double": 11, "complex_double": 13}


def named(k):
    return bytes([0x80 | NAMED[k]])


def built(i):
    return bytes([i])


def dt_prog(ops, tail=u8(2, 3, 100)):
    return u8(len(ops) - 1) + b"".join(ops) + tail


def datatype():
    t = "fuzz_datatype"
    write(t, "contiguous", dt_prog([u8(1) + i64(3) + named("double")]))
    write(t, "vector", dt_prog([u8(2) + i64(4) + i64(2) + i64(3) + named("int32")]))
    write(t, "hvector-negative", dt_prog([u8(3) + i64(3) + i64(2) + i64(-40) + named("float")], u8(3, 1, 7)))
    write(t, "indexed", dt_prog([u8(4, 3) + i64(2) + i64(5) + i64(1) + i64(0) + i64(3) + i64(9) + i64(0) + named("int16")]))
    write(t, "hindexed-block", dt_prog([u8(7, 2) + i64(0) + i64(16) + i64(0) + i64(-8) + i64(1) + named("double")]))
    write(t, "struct", dt_prog([u8(8, 3) + i64(1) + i64(0) + named("int32") + i64(2) + i64(8) + named("double")
                               + i64(3) + i64(24) + named("char")], u8(2, 0, 128)))
    write(t, "subarray-c", dt_prog([u8(9, 1) + i64(6) + i64(3) + i64(2) + i64(5) + i64(2) + i64(1)
                                   + i64(1) + i64(1) + i64(0) + u8(0) + named("float")]))
    write(t, "subarray-fortran", dt_prog([u8(9, 2) + i64(4) + i64(2) + i64(1) + i64(3) + i64(3) + i64(0)
                                         + i64(2) + i64(1) + i64(1) + u8(1) + named("int16")]))
    write(t, "nested-resized", dt_prog([
        u8(2) + i64(3) + i64(1) + i64(2) + named("double"),      # t0 = vector
        u8(10) + i64(-8) + i64(64) + built(0),                  # t1 = resized(t0)
        u8(1) + i64(2) + built(1),                              # t2 = contiguous(2, t1)
        u8(11) + built(2),                                      # t3 = dup(t2)
        u8(13, 3)]))                                            # commit t3
    write(t, "struct-of-built", dt_prog([
        u8(1) + i64(4) + named("byte"),
        u8(12, 0),                                               # free it: the struct keeps it alive
        u8(2) + i64(2) + i64(3) + i64(4) + named("int8"),
        u8(8, 2) + i64(1) + i64(0) + built(0) + i64(2) + i64(40) + named("complex_double")]))
    # finding: a 24-byte type with 2^32 zero-size children (the naive walker visited each)
    write(t, "repro-zero-size-children", dt_prog([
        u8(1) + i64(0) + named("double"),                       # t0: zero-size
        u8(8, 2) + i64(3) + i64(0) + named("double") + i64(2**32) + i64(24) + built(0)]))
    write(t, "repro-zero-size-contiguous", dt_prog([
        u8(1) + i64(0) + named("double"),
        u8(1) + i64(2**32) + built(0),                            # 2^32 zero-size children
        u8(8, 2) + i64(3) + i64(0) + named("double") + i64(1) + i64(24) + built(1)]))
    # finding: true extent overflow (true span 2^63 + 8 while lb/extent fit)
    write(t, "repro-true-extent-overflow", dt_prog([
        u8(5, 2) + i64(1) + i64(-2**61) + i64(1) + i64(2**61) + i64(0) + named("double"),
        u8(10) + i64(0) + i64(1) + built(0),
        u8(5, 2) + i64(1) + i64(0) + i64(1) + i64(2**62) + i64(0) + built(1)]))
    write(t, "extreme-counts", dt_prog([
        u8(1) + i64(I64_MAX) + named("double"),
        u8(2) + i64(2**32) + i64(2**32) + i64(I64_MIN) + named("int64"),
        u8(9, 0) + i64(I64_MAX) + i64(I64_MAX) + i64(0) + i64(2) + i64(1) + i64(1) + i64(1) + i64(1) + i64(0)
        + u8(0) + named("double"),
        u8(10) + i64(I64_MAX) + i64(I64_MAX) + named("byte"),
        u8(0) + i64(99)]))


# ---- graph ------------------------------------------------------------------------------
def npy(descr, shape, payload, fortran=False, version=1):
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join("%d, " % s for s in shape) if len(shape) == 1 else ", ".join(str(s) for s in shape))
    pre = 10 if version == 1 else 12
    total = (pre + len(hdr) + 1 + 15) // 16 * 16
    hdr = hdr + " " * (total - pre - len(hdr) - 1) + "\n"
    lenfield = struct.pack("<H", len(hdr)) if version == 1 else struct.pack("<I", len(hdr))
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + hdr.encode() + payload


def gparams(directed=0, num_nodes=0, loops=0, merge=0):
    return u8(directed) + i64(num_nodes) + u8(loops, merge)


def graph():
    t = "fuzz_graph"
    write(t, "edges.txt", b"# a small graph\n0 1\n1 2\n2 0\n2 3 # trailing comment\n3 3\n\n4 0\n")
    write(t, "weighted-crlf.txt", b"0 1 0.5\r\n1 2 2\r\n0 2 -1.25\r\n2 2 3\r\n1 0 0.5\r\n")
    write(t, "params-directed", u8(0) + gparams(1, 6, 1, 1) + b"0 1 1\n0 1 2\n5 4 1\n4 5 0.5\n")
    write(t, "params-add-loops", u8(0) + gparams(0, 0, 2, 0) + b"0 1\n1 2\n2 3\n")
    write(t, "bad-line.txt", b"0 1\n1 x\n")
    write(t, "arrays", u8(3) + gparams(0, 0, 0, 1) + u8(5, 1)
          + i64(0) + i64(1) + f32(1.5) + i64(1) + i64(2) + f32(0.25) + i64(2) + i64(0) + f32(-2)
          + i64(2) + i64(0) + f32(4) + i64(3) + i64(3) + f32(1))
    e = struct.pack("<6q", 0, 1, 1, 2, 2, 0)
    write(t, "npy-int64", u8(1) + gparams() + struct.pack("<H", len(npy("<i8", (3, 2), e))) + npy("<i8", (3, 2), e))
    ef = struct.pack(">6i", 0, 1, 2, 1, 2, 3)
    ed = npy(">i4", (3, 2), ef, fortran=True)
    wd = npy("<f4", (3,), struct.pack("<3f", 1.0, 0.5, 2.0))
    write(t, "npy-fortran-weights", u8(2) + gparams() + struct.pack("<H", len(ed)) + ed + wd)
    e2 = npy("<i4", (2, 2), struct.pack("<4i", 0, 1, 1, 2), version=2)
    write(t, "npy-v2", u8(1) + gparams(1) + struct.pack("<H", len(e2)) + e2)
    # finding (reported; rows skipped by the harness): D^-1 S with a subnormal degree gives inf
    write(t, "finding-transition-subnormal-degree", u8(3) + gparams() + u8(1, 1) + i64(0) + i64(1) + f32("1e-40"))
    # finding (reported; graphs skipped by the harness): MERGE_SUM of finite duplicates overflows to -inf
    write(t, "finding-merge-sum-overflow", u8(3) + gparams(1, 0, 0, 0) + u8(2, 1)
          + i64(0) + i64(1) + f32("-FLT_MAX") + i64(0) + i64(1) + f32("-FLT_MAX"))
    # finding: a shape near 2^60 made the byte count wrap (header check passed, then
    # m = 2^60 - 4 edges were allocated)
    big = npy("<i8", (2**60 - 4, 2), b"\0" * 64)
    write(t, "repro-npy-shape-2^60", u8(1) + gparams() + struct.pack("<H", len(big)) + big)
    # finding: 11 bytes naming node 16711680 (a 16.7M-node graph from one edge)
    write(t, "repro-edge-list-16711680", b"16711680 0\n")


# ---- quant ------------------------------------------------------------------------------
FMT = {"f32": 0, "f16": 1, "bf16": 2, "q4_0": 3, "q4_1": 4, "q8_0": 5, "q6_k": 6, "q4g32_f16": 7,
       "q4g64_f16z": 11, "q4g128_f32": 15, "q4g32_f32z": 16, "q8g32_f16": 19, "q8g128_f32": 24,
       "q5_0": 25, "q5_1": 26, "q4_k": 27, "q5_k": 28, "q3_k": 29, "q2_k": 30, "iq4_nl": 31}
BLOCK = {"f32": 1, "f16": 1, "bf16": 1, "q6_k": 256, "q4g64_f16z": 64, "q4g128_f32": 128, "q8g128_f32": 128,
         "q4_k": 256, "q5_k": 256, "q3_k": 256, "q2_k": 256}


def gemm_bytes(m=3, ldxp=1, ldyp=2, bias=1, ws=1, wild=1):
    return u8(m - 1, ldxp, ldyp, bias, ws, wild)


def quant():
    t = "fuzz_quant"
    for name in FMT:
        be = BLOCK.get(name, 32)
        kb = 2 if be <= 64 else 1
        k = kb * be
        n = 3
        vals = b"".join(f32(((i * 7 + r * 3) % 31 - 15) / 8) for r in range(n) for i in range(k + 1))
        write(t, "quantize-" + name, u8(0, FMT[name], n - 1, kb - 1, 1, 1) + vals + gemm_bytes())
    write(t, "quantize-f32-k1", u8(0, 0, 0, 0, 0, 1) + f32(1.25) + gemm_bytes(17))
    write(t, "quantize-nonfinite", u8(0, FMT["q8_0"], 0, 0, 0, 1) + f32(1) + f32("nan") + f32(2))
    write(t, "quantize-short-dst", u8(0, FMT["q4_0"], 1, 0, 0, 0) + f32(1))
    # findings: values whose scale overflows fp16, and subnormal rows
    write(t, "repro-q8_0-1e7", u8(0, FMT["q8_0"], 1, 0, 0, 1) + f32("1e7") + f32(1) + f32(-2))
    write(t, "repro-q4_0-6e5", u8(0, FMT["q4_0"], 1, 0, 0, 1) + f32("6e5") + f32(3) + f32(-1))
    write(t, "repro-q8_0-3e38", u8(0, FMT["q8_0"], 0, 0, 0, 1) + f32("3e38") + f32("-3e38"))
    write(t, "repro-f16-3e38", u8(0, FMT["f16"], 0, 3, 0, 1) + f32("3e38") + f32("-3e38") + f32(1))
    write(t, "repro-q4g32_f16-3e38", u8(0, FMT["q4g32_f16"], 0, 0, 0, 1) + f32("-3e38") + f32(1))
    for name in ("q8_0", "q4_0", "q4_1", "q6_k", "q8g32_f16", "q4g32_f16"):
        write(t, "repro-subnormal-" + name, u8(0, FMT[name], 1, 0, 0, 1) + f32("1e-40") + f32("-1e-40") + f32("1.4e-45"))
    for name, fmt in (("q4_0", 3), ("q6_k", 6), ("q4g64_f16z", 11), ("q8g32_f16", 19), ("bf16", 2)):
        raw = bytes((i * 29 + 3) & 0x3F for i in range(600))
        write(t, "raw-" + name, u8(1, fmt, 20, 1, 2, 1) + gemm_bytes(5) + bytes(18) + raw)
    write(t, "raw-stride-short", u8(1, 5, 3, 0, 5, 1) + gemm_bytes())
    write(t, "extreme-descriptor", u8(2, 3) + i64(I64_MAX) + i64(2**62) + i64(0) + u8(0x40, 0x01) + gemm_bytes())
    write(t, "extreme-stride", u8(2, 5) + i64(2**32) + i64(32) + i64(I64_MAX // 2) + u8(0xFF, 0x1F))
    write(t, "extreme-fits", u8(2, 7) + i64(4) + i64(64) + i64(0) + u8(0x00, 0x01) + gemm_bytes(2))
    write(t, "helpers-q4_0", u8(3) + i64(2) + b"q4_0")
    write(t, "helpers-name", u8(3) + i64(14) + b"Q4G128_F16Z")
    write(t, "helpers-negative", u8(3) + i64(-1) + b"nope")


# ---- attention --------------------------------------------------------------------------
DT = {"f32": 0, "bf16": 1, "f16": 2}


def attn(B, Hq, Hk, Lq, Lk, D, dtypes=("f32",) * 4, scale=0, causal=0, wl=-1, wr=-1, bits=0, bias=0, lse=1,
         ws=0, layouts=None, data=b""):
    out = b"".join(i64(v) for v in (B, Hq, Hk, Lq, Lk, D))
    out += u8(*[DT[d] for d in dtypes])
    out += u8(scale) if scale != 1 else u8(1)
    out += u8(causal) + i64(wl) + i64(wr) + u8(bits, bias, lse, ws)
    lay = layouts or [u8(0, 0)] * 7
    out += b"".join(lay)
    return out + data


def attention():
    t = "fuzz_attention"
    write(t, "dense", attn(1, 2, 2, 3, 5, 8))
    write(t, "gqa-causal", attn(2, 4, 2, 4, 6, 4, causal=1, ws=1))
    write(t, "window-bitset-bias", attn(1, 2, 1, 5, 9, 4, wl=2, wr=1, bits=1, bias=1, scale=32))
    write(t, "bf16-f16", attn(1, 1, 1, 3, 3, 16, dtypes=("bf16", "f16", "bf16", "f16"), causal=1))
    write(t, "decode-two-chunks", attn(1, 2, 1, 1, 1100, 4, ws=1))
    write(t, "q-longer-than-kv", attn(1, 1, 1, 6, 3, 4, causal=1))
    pad = u8(4, 4, 1, 2, 3)
    bc = u8(5, 0, 3)
    write(t, "strided-broadcast", attn(2, 2, 1, 3, 4, 4, bias=1, layouts=[
        pad, bc, pad, pad, u8(4, 6, 0, 1, 0, 2), u8(0, 0), u8(5, 4, 3)]))
    write(t, "extent-short", attn(1, 1, 1, 2, 2, 4, layouts=[u8(0, 5)] + [u8(0, 0)] * 6))
    write(t, "extreme-shape", attn(I64_MAX, 2**32, 1, 2**40, 2**40, 256))
    write(t, "raw-strides", attn(1, 2, 1, 2, 3, 4, layouts=[u8(6, 0) + i64(0) + i64(-1) + i64(4)] + [u8(0, 0)] * 6))
    # finding: window_right near INT64_MAX overflowed i + off + window_right (no key visible)
    write(t, "repro-window-right-int64max", attn(1, 2, 1, 3, 5, 4, wr=I64_MAX - 1))
    write(t, "repro-window-right-int64max-causal", attn(1, 1, 1, 4, 4, 4, wr=I64_MAX, wl=2))
    write(t, "repro-window-left-int64max", attn(1, 1, 1, 3, 6, 4, wl=I64_MAX, causal=1))


# ---- random projection ------------------------------------------------------------------
def rp(D, d, kind=0, s=u8(0), seed=42, n=3, ldxp=1, ldyp=1, mat=1, csr=2, data=b""):
    return i64(D) + i64(d) + u8(kind) + s + struct.pack("<Q", seed) + bytes(28) + u8(n - 1, ldxp, ldyp, mat, csr) + data


def randproj():
    t = "fuzz_randproj"
    write(t, "sparse-auto", rp(20, 8))
    write(t, "sparse-s3-materialized", rp(30, 5, s=u8(2), mat=1))
    write(t, "gaussian", rp(12, 6, kind=1, mat=3))
    write(t, "dense-rademacher", rp(9, 17, s=u8(1), mat=2))
    csr = u8(5) + b"".join(u8(0xF0 if i == 0 else 0x10) + struct.pack("<Q", i * 977) + u8(64 + i) for i in range(5))
    write(t, "csr-huge-D", rp(2**40, 16, s=u8(2), n=2, mat=0, csr=1, data=csr))
    write(t, "csr-column-out-of-range", rp(50, 4, n=2, mat=0, csr=0, data=u8(2, 0xF1, 64, 0x10) + bytes(8) + u8(65)))
    write(t, "bad-params", rp(0, -1, kind=2, s=u8(3) + f32("nan")))
    # finding: materialising R with a huge D·d tried to allocate it
    write(t, "repro-materialize-huge", rp(2**30, 2**20, mat=1))
    write(t, "repro-materialize-huge-D", rp(2**31 - 2, 2**20, s=u8(1), mat=1))
    write(t, "materialize-D-int32max", rp(2**31 - 1, 4, mat=1))


if __name__ == "__main__":
    datatype()
    graph()
    quant()
    attention()
    randproj()
