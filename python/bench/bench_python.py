#!/usr/bin/env python3
"""Python package benchmarks, each against its baseline in the same run (JSON lines on stdout).

    python python/bench/bench_python.py [--quick]

Cases: Python-call overhead of SparseRandomProjection.transform over the direct ctypes C call;
KMedoids(method="fasterpam") vs the kmedoids package (same precomputed matrix and start); dense and
CSR SparseRandomProjection.transform vs scikit-learn's. Full sizes are the issue's (n = 10000,
k = 100; 20000 × 10000); --quick divides them for a short check.
"""
import argparse
import ctypes
import json
import time

import numpy as np
import scipy.sparse as sp


def best(f, repeat=3):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def emit(case, ours, baseline_name, baseline, unit="s", **extra):
    print(json.dumps(dict(case=case, unit=unit, ours=ours, baseline_name=baseline_name, baseline=baseline,
                          speedup=baseline / ours if ours else None, **extra)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    q = 4 if a.quick else 1
    rng = np.random.default_rng(0)

    from tessera import _lib
    from tessera._arrays import ptr
    from tessera.random_projection import SparseRandomProjection
    from sklearn import random_projection as skrp

    # 1. overhead of the Python layer over the C call it makes
    X = rng.random((2000, 1000)).astype(np.float32)
    rp = SparseRandomProjection(128, random_state=0).fit(X)
    plan = rp._plan()
    Y = np.empty((2000, 128), dtype=np.float32)
    pool = _lib.pool(None)
    direct = best(lambda: _lib.lib.tsr_rp_transform_f32(pool, plan.h, 2000, ptr(X), 1000, ptr(Y), 128), 10)
    wrapped = best(lambda: rp.transform(X), 10)
    emit("python_overhead_srp_2000x1000", wrapped, "direct ctypes C call", direct,
         overhead_percent=100 * (wrapped / direct - 1))

    # 2. KMedoids FasterPAM vs the kmedoids package
    try:
        import kmedoids
        from sklearn.metrics import pairwise_distances
        from tessera.cluster import KMedoids
        n, k = 10000 // q, 100 // q
        D = pairwise_distances(rng.normal(size=(n, 8)))
        start = rng.choice(n, k, replace=False)
        ours = best(lambda: KMedoids(k, metric="precomputed", method="fasterpam", init=start).fit(D), 2)
        ref = best(lambda: kmedoids.fasterpam(D, start.copy(), n_cpu=1), 2)
        emit(f"kmedoids_fasterpam_n{n}_k{k}", ours, "kmedoids.fasterpam", ref)
    except ImportError as e:
        print(json.dumps(dict(case="kmedoids_fasterpam", skipped=str(e))))

    # 3. sparse random projection vs scikit-learn (transform only; both fitted first)
    n, D_ = 20000 // (q * q), 10000
    X = rng.random((n, D_))
    ours_rp = SparseRandomProjection(256, random_state=0).fit(X)
    sk = skrp.SparseRandomProjection(256, random_state=0, dense_output=True).fit(X)
    emit(f"srp_dense_{n}x{D_}", best(lambda: ours_rp.transform(X), 2), "sklearn SparseRandomProjection",
         best(lambda: sk.transform(X), 2))
    Xs = sp.random(n, D_, density=0.01, format="csr", random_state=0)
    emit(f"srp_csr_{n}x{D_}_1pct", best(lambda: ours_rp.transform(Xs), 2), "sklearn SparseRandomProjection",
         best(lambda: sk.transform(Xs), 2))


if __name__ == "__main__":
    main()
