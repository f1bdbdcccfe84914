"""KMedoids / CLARA / CLARANS / KMeans through libTesseraCABI (the Swift implementation)."""
import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from tessera.cluster import CLARA, CLARANS, KMeans, KMedoids

import kmedoids  # noqa: E402  (pinned in requirements-test.txt: the oracle must be there)

REF = {"pam": "pam", "fastpam1": "fastpam1", "fasterpam": "fasterpam", "alternating": "alternating"}


def blobs(rng, n=400, d=4, k=5):
    centres = rng.normal(scale=6, size=(k, d))
    return centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))


@pytest.mark.parametrize("method", list(REF))
@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmedoids_package_gives_the_same_loss_and_medoids(method, integer, seed):
    rng = np.random.default_rng(seed)
    X = blobs(rng, n=250)
    D = pairwise_distances(X)
    if integer:
        D = np.round(D * 10)
    k = 6
    start = rng.choice(len(X), k, replace=False)
    ours = KMedoids(k, metric="precomputed", method=method, init=start, max_iter=100).fit(D)
    ref = getattr(kmedoids, REF[method])(D, start.copy(), max_iter=100)
    assert list(ours.medoid_indices_) == list(ref.medoids)
    if integer:   # exact sums: the same loss to the bit
        assert ours.inertia_ == ref.loss
    else:         # the same medoids; the loss summed in another order (kmedoids updates it per swap)
        assert ours.inertia_ == pytest.approx(ref.loss, rel=1e-12)
    np.testing.assert_array_equal(ours.labels_, ref.labels)
    assert ours.n_iter_ == ref.n_iter


@pytest.mark.parametrize("method", ["pam", "fastpam1"])
def test_build_initialisation_matches_kmedoids_build(method, rng):
    D = pairwise_distances(blobs(rng, n=150))
    ours = KMedoids(5, metric="precomputed", method=method, init="build").fit(D)
    ref = getattr(kmedoids, method)(D, 5, init="build")
    assert ours.inertia_ == pytest.approx(ref.loss, rel=1e-12)
    assert sorted(ours.medoid_indices_) == sorted(ref.medoids)


def test_data_metric_equals_precomputed(rng):
    X = blobs(rng, n=200)
    a = KMedoids(5, method="pam").fit(X)
    b = KMedoids(5, metric="precomputed", method="pam").fit(pairwise_distances(X))
    assert list(a.medoid_indices_) == list(b.medoid_indices_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9)
    np.testing.assert_array_equal(a.cluster_centers_, X[a.medoid_indices_])


def test_predict_and_transform(rng):
    X = blobs(rng, n=200)
    km = KMedoids(5, method="fasterpam", random_state=0).fit(X)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert km.transform(X[:7]).shape == (7, 5)
    D = pairwise_distances(X)
    kp = KMedoids(5, metric="precomputed", random_state=0).fit(D)
    np.testing.assert_array_equal(kp.predict(D), kp.labels_)


def test_float32_runs_in_float32(rng):
    X = blobs(rng, n=200).astype(np.float32)
    a = KMedoids(4, random_state=0).fit(X)
    b = KMedoids(4, random_state=0).fit(X.astype(np.float64))
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-5)


def test_results_independent_of_threads_and_layout(rng):
    X = blobs(rng, n=300)
    a = KMedoids(5, method="fasterpam", init="random", random_state=4, n_threads=1).fit(X)
    b = KMedoids(5, method="fasterpam", init="random", random_state=4, n_threads=2).fit(np.asfortranarray(X))
    assert list(a.medoid_indices_) == list(b.medoid_indices_) and a.inertia_ == b.inertia_


def test_clara_and_clarans(rng):
    X = blobs(rng, n=600, k=4)
    full = KMedoids(4, method="pam").fit(X).inertia_
    for est in (CLARA(4, random_state=0), CLARA(4, fast=False, n_sampling=100), CLARANS(4, random_state=0)):
        r = est.fit(X)
        assert r.medoid_indices_.shape == (4,) and r.labels_.shape == (600,)
        assert full <= r.inertia_ < 1.2 * full
    a, b = CLARA(4, random_state=3).fit(X), CLARA(4, random_state=3).fit(X)
    assert list(a.medoid_indices_) == list(b.medoid_indices_)


def test_kmeans(rng):
    X = blobs(rng, n=500, k=3)
    km = KMeans(3, random_state=0, n_init=3).fit(X)
    assert km.cluster_centers_.shape == (3, 4) and km.converged_
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    d2 = ((X - km.cluster_centers_[km.labels_]) ** 2).sum()
    assert km.inertia_ == pytest.approx(d2, rel=1e-9)
    ham = KMeans(3, random_state=0, n_init=3, algorithm="hamerly").fit(X)
    np.testing.assert_array_equal(ham.labels_, km.labels_)
    given = KMeans(3, init=km.cluster_centers_).fit(X)
    np.testing.assert_array_equal(given.labels_, km.labels_)
    f32 = KMeans(3, random_state=0).fit(X.astype(np.float32))
    assert f32.cluster_centers_.dtype == np.float32


def _lloyd_keeping_empty_centres(X, C, max_iter):
    """Plain float64 Lloyd where an empty cluster keeps its centre (no relocation): the inertia
    the fits below would reach without scikit-learn's rule, to show the case exercises it."""
    C = C.copy()
    for _ in range(max_iter):
        lab = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1).argmin(1)
        for c in range(len(C)):
            if (lab == c).any():
                C[c] = X[lab == c].mean(0)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1).min(1).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threads", [1, 2])
def test_kmeans_relocates_empty_clusters_as_sklearn(seed, threads):
    """scikit-learn as the oracle: from the same start with the same iteration cap (tol = 0),
    clusters that a step leaves empty take the points farthest from their centres, so the
    inertia, the iteration count and every point's centre are scikit-learn's. (scikit-learn
    hands the farthest points to the empty clusters in argpartition's order, ours farthest
    first: the same centres, possibly numbered differently.)"""
    from sklearn.cluster import KMeans as SKKMeans
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-8, 8, size=(6, 5))
    X = centres[rng.integers(0, 6, 1200)] + rng.normal(size=(1200, 5))
    # 16 data rows, two of them again (a repeated centre loses every tie: empty at once) and two
    # centres far from all data (never the nearest): four clusters empty after the first step
    C0 = X[rng.choice(len(X), 16, replace=False)]
    C0 = np.vstack([C0, C0[:2], rng.uniform(-8, 8, size=(2, 5)) + 100])
    k, max_iter = len(C0), 25
    ours = KMeans(k, init=C0, max_iter=max_iter, tol=0, n_threads=threads).fit(X)
    ref = SKKMeans(k, init=C0, n_init=1, max_iter=max_iter, tol=0, algorithm="lloyd").fit(X)
    kept = _lloyd_keeping_empty_centres(X, C0, max_iter)
    assert abs(kept - ref.inertia_) > 1e-3 * ref.inertia_, "no cluster went empty: the case tests nothing"
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
    assert ours.n_iter_ == ref.n_iter_
    # the same partition: every point's centre (cluster ids may be numbered differently)
    np.testing.assert_allclose(ours.cluster_centers_[ours.labels_], ref.cluster_centers_[ref.labels_],
                               rtol=0, atol=1e-9)
    ham = KMeans(k, init=C0, max_iter=max_iter, tol=0, algorithm="hamerly", n_threads=threads).fit(X)
    assert ham.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)


@pytest.mark.parametrize("kw,exc", [
    (dict(n_clusters=0), ValueError), (dict(n_clusters=-3), ValueError), (dict(n_clusters=2.0), TypeError),
    (dict(n_clusters=1000), ValueError), (dict(method="kmeans"), ValueError), (dict(metric="hamming"), ValueError),
    (dict(init="kmeans++"), ValueError), (dict(init=[0, 0, 1]), ValueError), (dict(init=[0, 1]), ValueError),
    (dict(init=[0, 1, 500]), ValueError), (dict(init=[0.0, 1.0, 2.0]), TypeError), (dict(max_iter=-1), ValueError),
    (dict(n_threads=0.5), TypeError), (dict(random_state="x"), TypeError),
])
def test_bad_kmedoids_arguments(kw, exc, rng):
    args = dict(n_clusters=3)
    args.update(kw)
    with pytest.raises(exc):
        KMedoids(**args).fit(rng.random((50, 3)))


@pytest.mark.parametrize("X,exc", [
    (np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 0.0]]), ValueError), (np.zeros((0, 3)), ValueError),
    (np.zeros((3,)), ValueError), (np.array([["a", "b"]] * 3), (TypeError, ValueError)),
    (np.ones((3, 2), dtype=complex), (TypeError, ValueError)),
])
def test_bad_data(X, exc):
    with pytest.raises(exc):
        KMedoids(2).fit(X)


def test_precomputed_must_be_a_dissimilarity(rng):
    D = pairwise_distances(rng.random((20, 2)))
    with pytest.raises(ValueError, match="square"):
        KMedoids(2, metric="precomputed").fit(D[:, :10])
    A = D.copy()
    A[0, 1] += 1
    with pytest.raises(ValueError, match="symmetric"):
        KMedoids(2, metric="precomputed").fit(A)
    A = D.copy()
    A[2, 2] = 1
    with pytest.raises(ValueError, match="diagonal"):
        KMedoids(2, metric="precomputed").fit(A)
    with pytest.raises(ValueError, match="dissimilarities must be finite and >= 0"):
        KMedoids(2, metric="precomputed").fit(-D)


def tessera_cli():
    """The `tessera` CLI: TESSERA_BIN, else .build/{release,debug}/tessera, else PATH. `make test-python`
    builds it and sets TESSERA_BIN; a missing CLI fails the cross-checks (never skips them)."""
    for c in [os.environ.get("TESSERA_BIN"), *(Path(__file__).resolve().parents[2] / ".build" / conf / "tessera"
                                              for conf in ("release", "debug"))]:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("tessera")
    assert found, "the tessera CLI is not built (make test-python builds it; or set TESSERA_BIN)"
    return found


@pytest.mark.parametrize("method", ["pam", "fastpam1", "fasterpam", "alternating"])
def test_bitwise_equal_to_the_swift_cli(method, tmp_path, rng):
    """`tessera cluster` (the Swift CLI over TesseraCluster) and the Python estimator on the same data."""
    cli = tessera_cli()
    X = blobs(rng, n=300)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "labels.csv"
    run = subprocess.run([cli, "cluster", str(tmp_path / "x.npy"), "--k", "5", "--method", method, "--initialization", "random",
                          "--seed", "11", "--precision", "f64", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    cli_labels = np.array([int(r["label"]) for r in rows])
    cli_medoid_of_point = np.array([int(r["medoid"]) for r in rows])
    ours = KMedoids(5, method=method, init="random", random_state=11).fit(X)
    np.testing.assert_array_equal(ours.labels_, cli_labels)
    np.testing.assert_array_equal(ours.medoid_indices_[ours.labels_], cli_medoid_of_point)
    medoids_line = next(line for line in run.stdout.splitlines() if line.startswith("medoids "))
    assert [int(v) for v in medoids_line.split()[1:]] == list(ours.medoid_indices_)
