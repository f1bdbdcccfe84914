#!/usr/bin/env python3
"""A Gaussian mixture and PPP (which chooses k itself) on four blobs, through the Swift implementation."""
import numpy as np

from tessera.cluster import PPP, GaussianMixture

rng = np.random.default_rng(0)
centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
X = np.vstack([c + rng.normal(size=(250, 2)) for c in centres])

g = GaussianMixture(n_components=4, random_state=0).fit(X)
print(f"GMM: weights {np.round(g.weights_, 3).tolist()}  mean log-likelihood {g.lower_bound_:.4f}  "
      f"iterations {g.n_iter_}  BIC {g.bic(X):.1f}")
p = PPP(k_range=(1, 8)).fit(X)
print("PPP candidates (k, BIC, agreement):",
      [(int(c["k"]), round(float(c["bic"]), 1), round(float(c["agreement"]), 3)) for c in p.candidates_])
print(f"PPP chose k = {p.n_clusters_}; cluster sizes {np.bincount(p.labels_).tolist()}")
