#!/usr/bin/env python3
"""Python peers for `tessera bench randproj`, driven over stdin/stdout one command per line
so that the Swift bench can interleave its own runs with these (A B A B ...).

Commands (each answered by one line: "ok ...", a time in seconds, or "unavailable <why>"):
  dense N D d SEED          build X (N x D float32) and fit sklearn SparseRandomProjection (s = sqrt(D))
  run_dense                 time one transform of X
  csr N D DENSITY d SEED    build a random CSR X (float32) and fit the projection
  run_csr                   time one transform of the CSR X
  graph EDGES.npy N         load an (m, 2) int64 edge array, symmetrise (duplicates merged, weight 1)
  run_scipy_fastrp d BETA W1,W2,...   time the SciPy FastRP (reference formulas: transition matrix,
                            very sparse R with s = sqrt(n) from sklearn, L = deg^beta, q products, column scale)
  run_rust_fastrp d W1,W2,...  time the `fastrp` package (Rust) on the same CSR: undirected=False
                            (the input is already symmetric) and weights [0, W1, ...] (its weights[0]
                            multiplies the power-0 term)
  run_scipy_spmm d          time one CSR(A) @ dense (n x d float32) product
  quit
"""
import sys
import time
import warnings

import numpy as np


def reply(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def main():
    warnings.filterwarnings("ignore")  # sklearn's float32 scaling notes would clutter the bench's stderr
    st = {}
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd, args = parts[0], parts[1:]
        try:
            if cmd == "quit":
                reply("ok")
                return
            elif cmd == "dense":
                from sklearn.random_projection import SparseRandomProjection
                n, D, d, seed = int(args[0]), int(args[1]), int(args[2]), int(args[3])
                rng = np.random.default_rng(seed)
                st["X"] = rng.standard_normal((n, D), dtype=np.float32)
                st["rp"] = SparseRandomProjection(n_components=d, density="auto", dense_output=True,
                                                  random_state=seed).fit(st["X"][:2])
                reply("ok sklearn %s" % __import__("sklearn").__version__)
            elif cmd == "run_dense":
                t = time.perf_counter()
                y = st["rp"].transform(st["X"])
                reply("%.9f" % (time.perf_counter() - t))
                del y
            elif cmd == "csr":
                import scipy.sparse as sp
                from sklearn.random_projection import SparseRandomProjection
                n, D, dens, d, seed = int(args[0]), int(args[1]), float(args[2]), int(args[3]), int(args[4])
                st["Xs"] = sp.random(n, D, density=dens, format="csr", dtype=np.float32,
                                     random_state=np.random.default_rng(seed))
                st["rps"] = SparseRandomProjection(n_components=d, density="auto", dense_output=True,
                                                   random_state=seed).fit(st["Xs"][:2])
                reply("ok nnz %d" % st["Xs"].nnz)
            elif cmd == "run_csr":
                t = time.perf_counter()
                y = st["rps"].transform(st["Xs"])
                reply("%.9f" % (time.perf_counter() - t))
                del y
            elif cmd == "graph":
                import scipy.sparse as sp
                e = np.load(args[0])
                n = int(args[1])
                S = sp.coo_matrix((np.ones(len(e), dtype=np.float32), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
                S = S + S.T
                S.data[:] = 1.0  # duplicates merged to weight 1, as Tessera's unweighted graphs
                S.sort_indices()
                st["S"] = S.astype(np.float32)
                reply("ok nnz %d" % S.nnz)
            elif cmd == "run_scipy_fastrp":
                d, beta, w = int(args[0]), float(args[1]), [float(x) for x in args[2].split(",")]
                reply("%.9f" % scipy_fastrp(st["S"], d, beta, w))
            elif cmd == "run_rust_fastrp":
                try:
                    import fastrp
                except ImportError as ex:
                    reply("unavailable %s" % ex)
                    continue
                d, w = int(args[0]), [float(x) for x in args[1].split(",")]
                S = st["S"]
                t = time.perf_counter()
                fastrp.fit_csr(S.indptr.astype(np.int64), S.indices.astype(np.int64), S.data.astype(np.float32),
                               S.shape[0], d, weights=[0.0] + w, seed=42, undirected=False)
                reply("%.9f" % (time.perf_counter() - t))
            elif cmd == "run_scipy_spmm":
                d = int(args[0])
                S = st["S"]
                if "A" not in st:
                    deg = np.asarray(S.sum(axis=1)).ravel()
                    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-300), 0.0).astype(np.float32)
                    import scipy.sparse as sp
                    st["A"] = (sp.diags(inv) @ S).tocsr()
                    st["Xd"] = np.random.default_rng(1).standard_normal((S.shape[0], d), dtype=np.float32)
                t = time.perf_counter()
                y = st["A"] @ st["Xd"]
                reply("%.9f" % (time.perf_counter() - t))
                del y
            else:
                reply("unavailable unknown command %s" % cmd)
        except Exception as ex:  # report, keep serving
            reply("unavailable %s: %s" % (type(ex).__name__, str(ex).replace("\n", " ")))


def scipy_fastrp(S, dim, beta, weights):
    """FastRP as the reference fastrp.py computes it, in SciPy: returns the time in seconds."""
    import scipy.sparse as sp
    from sklearn.preprocessing import scale
    from sklearn.random_projection import SparseRandomProjection
    t = time.perf_counter()
    n = S.shape[0]
    deg = np.asarray(S.sum(axis=1)).ravel()
    A = (sp.diags(np.where(deg > 0, 1.0 / np.maximum(deg, 1e-300), 0.0).astype(np.float32)) @ S).tocsr()
    tr = SparseRandomProjection(n_components=dim, random_state=42).fit(A)
    L = np.where(deg > 0, np.power(np.maximum(deg, 1e-300), beta), 1.0)
    comps = (tr.components_ @ sp.diags(L)).T.tocsr().astype(np.float32)  # n x d, sparse
    cur = np.asarray((A @ comps).todense(), dtype=np.float32)
    U = weights[0] * cur
    for w in weights[1:]:
        cur = A @ cur
        U += w * cur
    U = scale(U)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
