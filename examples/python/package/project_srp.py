#!/usr/bin/env python3
"""Very sparse random projection of dense and CSR data; pairwise distances are kept within JL bounds."""
import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import pdist

from tessera.random_projection import SparseRandomProjection, johnson_lindenstrauss_min_dim

rng = np.random.default_rng(0)
X = rng.random((200, 10000)).astype(np.float32)
rp = SparseRandomProjection(eps=0.3, random_state=0).fit(X)
Y = rp.transform(X)
ratio = pdist(Y) / pdist(X)
print(f"{X.shape} -> {Y.shape} (JL bound {johnson_lindenstrauss_min_dim(200, eps=0.3)}), density {rp.density_:.4f}, "
      f"distance ratio {ratio.min():.3f}..{ratio.max():.3f}")
Xs = sp.random(200, 10000, density=0.01, format="csr", dtype=np.float32, random_state=0)
print("CSR input equals its dense form:", np.array_equal(rp.transform(Xs), rp.transform(Xs.toarray())))
