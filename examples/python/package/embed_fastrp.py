#!/usr/bin/env python3
"""FastRP node embeddings of a 4-block stochastic block model graph."""
import numpy as np
import scipy.sparse as sp

from tessera.graph import FastRP

rng = np.random.default_rng(0)
n, blocks = 2000, 4
b = np.arange(n) % blocks
m = 40000
u, v = rng.integers(0, n, m), rng.integers(0, n, m)
keep = (b[u] == b[v]) | (rng.random(m) < 0.05)                      # mostly edges inside a block
A = sp.coo_matrix((np.ones(keep.sum()), (u[keep], v[keep])), shape=(n, n))
A = ((A + A.T) > 0).astype(np.float32).tocsr()

emb = FastRP(n_components=64, random_state=0).fit_transform(A)
emb /= np.linalg.norm(emb, axis=1, keepdims=True)
S = emb @ emb.T
print(f"embedding {emb.shape}, mean cosine within blocks {S[b[:, None] == b].mean():.3f}, "
      f"across blocks {S[b[:, None] != b].mean():.3f}")
