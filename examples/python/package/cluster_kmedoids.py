#!/usr/bin/env python3
"""k-medoids with FasterPAM on blobs, through the Swift implementation (pip install ./python)."""
import numpy as np

from tessera.cluster import KMedoids

rng = np.random.default_rng(0)
centres = rng.normal(scale=8, size=(4, 2))
X = centres[rng.integers(0, 4, 2000)] + rng.normal(size=(2000, 2))

km = KMedoids(n_clusters=4, method="fasterpam", init="random", random_state=0).fit(X)
print(f"medoids {km.medoid_indices_.tolist()}  loss {km.inertia_:.3f}  iterations {km.n_iter_}")
print("cluster sizes", np.bincount(km.labels_).tolist())
print("new points ->", km.predict(centres).tolist())
