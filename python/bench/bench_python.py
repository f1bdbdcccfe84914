#!/usr/bin/env python3
"""Python package benchmarks, each against its baseline in the same process, alternated round by
round (ours, baseline, ours, ...); one JSON line per case on stdout (docs/BENCHMARKS.md fields:
case, unit, ours, baseline_name, baseline, speedup, threads, plus min/max and the load average).

    python python/bench/bench_python.py [--quick] [--rounds N] [--only CASE,...]

Run by `tessera bench python` (Sources/tessera-bench/PythonBench.swift) with build/python-venv.
Cases (full sizes are the issue's; --quick divides them for a short check):
  overhead   SparseRandomProjection.transform vs the direct ctypes C call it makes (2000 x 1000 f32
             -> 128; both allocate Y; the direct call skips all Python checks and the NaN scan)
  kmedoids   KMedoids(method="fasterpam", metric="precomputed") vs kmedoids.fasterpam, same matrix
             and start (n = 10000, k = 100; BUILD + swap: both start from the same BUILD medoids)
  srp_dense  SparseRandomProjection.transform vs scikit-learn's (20000 x 10000 f32 -> 256)
  srp_csr    the same on CSR X (100000 x 100000, nnz 10^7 f32 -> 256)
  fastrp     tessera.graph.FastRP vs the `fastrp` package (Rust) on a 1M-node SBM (same formulas:
             transition matrix, weights (1, 1, 7.81, 45.28) after the power-0 term, d = 128)
"""
import argparse
import json
import os
import time

import numpy as np
import scipy.sparse as sp


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def alternate(ours, base, rounds, inner=1):
    """Per round: the best of `inner` runs of ours, then of the baseline; medians over rounds."""
    a, b = [], []
    for _ in range(rounds):
        a.append(min(timed(ours) for _ in range(inner)))
        b.append(min(timed(base) for _ in range(inner)))
    return np.array(a), np.array(b)


def emit(case, a, b, baseline_name, threads, **extra):
    ratio = np.median(b / a)
    rec = dict(case=case, unit="s", ours=float(np.median(a)), baseline_name=baseline_name,
               baseline=float(np.median(b)), speedup=float(np.median(b) / np.median(a)),
               speedup_per_round_median=float(ratio), ours_min=float(a.min()), ours_max=float(a.max()),
               baseline_min=float(b.min()), baseline_max=float(b.max()), rounds=len(a), threads=threads,
               loadavg=open("/proc/loadavg").read().split()[0], **extra)
    print(json.dumps(rec), flush=True)


def random_csr(rng, n, D, nnz):
    """A canonical CSR (sorted, no duplicates) with about nnz uniform entries (sp.random samples
    without replacement over n·D cells: far too slow at 10^10 cells)."""
    keys = np.unique(rng.integers(0, n * D, nnz, dtype=np.int64))
    rows, cols = keys // D, keys % D
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((rng.random(len(keys), dtype=np.float32), cols.astype(np.int32), indptr), shape=(n, D))


def sbm_edges(n, blocks, deg_in, deg_out, seed):
    rng = np.random.default_rng(seed)
    size = n // blocks
    m_in, m_out = int(n * deg_in / 2), int(n * deg_out / 2)
    u = rng.integers(0, n, m_in)
    v = (u // size) * size + rng.integers(0, size, m_in)
    u2, v2 = rng.integers(0, n, m_out), rng.integers(0, n, m_out)
    e = np.concatenate([np.stack([u, v], 1), np.stack([u2, v2], 1)])
    return e[e[:, 0] != e[:, 1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--only", default="overhead,kmedoids,srp_dense,srp_csr,fastrp")
    a = ap.parse_args()
    only = set(a.only.split(","))
    q = a.quick
    rng = np.random.default_rng(0)

    from tessera import _lib
    from tessera._arrays import ptr
    threads = _lib.pool_threads(None)

    if "overhead" in only:
        from tessera.random_projection import SparseRandomProjection
        X = rng.random((2000, 1000)).astype(np.float32)
        rp = SparseRandomProjection(128, random_state=0).fit(X)
        plan = rp._plan()
        pool = _lib.pool(None)
        fn = _lib.lib.tsr_rp_transform_f32

        def direct():
            Y = np.empty((2000, 128), dtype=np.float32)
            fn(pool, plan.h, 2000, ptr(X), 1000, ptr(Y), 128)
        ours, base = alternate(lambda: rp.transform(X), direct, a.rounds or 21, inner=10)
        emit("python_overhead srp 2000x1000 f32 -> 128", ours, base, "direct ctypes C call", threads,
             overhead_percent=float(100 * (np.median(ours / base) - 1)))

    if "kmedoids" in only:
        import kmedoids
        from sklearn.metrics import pairwise_distances
        from tessera.cluster import KMedoids
        n, k = (2000, 20) if q else (10000, 100)
        D = pairwise_distances(rng.normal(size=(n, 8)))
        start = KMedoids(k, metric="precomputed", method="fasterpam", init="build", max_iter=0).fit(D).medoid_indices_

        def ours():
            return KMedoids(k, metric="precomputed", method="fasterpam", init=start, n_threads=1).fit(D)

        def ref():
            return kmedoids.fasterpam(D, start.copy(), n_cpu=1)
        lo, lr = ours().inertia_, float(ref().loss)
        t, b = alternate(ours, ref, a.rounds or (5 if q else 3))
        emit(f"kmedoids fasterpam n={n} k={k} precomputed f64 (1 thread each)", t, b, "kmedoids.fasterpam", 1,
             loss_ours=lo, loss_kmedoids=lr)

    if "srp_dense" in only or "srp_csr" in only:
        from sklearn import random_projection as skrp
        from tessera.random_projection import SparseRandomProjection
    if "srp_dense" in only:
        n, D_ = (4000, 10000) if q else (20000, 10000)
        X = rng.standard_normal((n, D_), dtype=np.float32)
        ours_rp = SparseRandomProjection(256, random_state=0).fit(X[:2])
        sk = skrp.SparseRandomProjection(256, random_state=0, dense_output=True).fit(X[:2])
        t, b = alternate(lambda: ours_rp.transform(X), lambda: sk.transform(X), a.rounds or (5 if q else 3))
        emit(f"srp dense {n}x{D_} f32 -> 256", t, b, "sklearn SparseRandomProjection", threads)
        del X
    if "srp_csr" in only:
        n, D_, nnz = (20000, 100000, 2_000_000) if q else (100000, 100000, 10_000_000)
        Xs = random_csr(rng, n, D_, nnz)
        ours_rp = SparseRandomProjection(256, random_state=0).fit(Xs[:2])
        sk = skrp.SparseRandomProjection(256, random_state=0, dense_output=True).fit(Xs[:2])
        t, b = alternate(lambda: ours_rp.transform(Xs), lambda: sk.transform(Xs), a.rounds or 3)
        emit(f"srp csr {n}x{D_} nnz={Xs.nnz} f32 -> 256", t, b, "sklearn SparseRandomProjection", threads)
        del Xs

    if "fastrp" in only:
        try:
            import fastrp
        except ImportError as e:
            print(json.dumps(dict(case="fastrp", unavailable=f"the fastrp package is not installed: {e}")), flush=True)
            return
        from tessera.graph import FastRP
        n = 100_000 if q else 1_000_000
        e = sbm_edges(n, 100, 16.0, 4.0, 7)
        S = sp.coo_matrix((np.ones(len(e), np.float32), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
        S = S + S.T
        S.data[:] = 1.0
        S.sort_indices()
        S = S.astype(np.float32)
        w = [1.0, 1.0, 7.81, 45.28]
        ip, ix = S.indptr.astype(np.int64), S.indices.astype(np.int64)
        est = FastRP(128, iteration_weights=w, random_state=0)

        def ref():
            fastrp.fit_csr(ip, ix, S.data, n, 128, weights=[0.0] + w, seed=42, undirected=False)
        t, b = alternate(lambda: est.fit_transform(S), ref, a.rounds or 3)
        emit(f"fastrp sbm n={n} undirected_edges={S.nnz // 2} d=128 q=4", t, b, "fastrp (pypi, rust)", threads)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
