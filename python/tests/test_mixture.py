"""GaussianMixture and PPP through libTesseraCABI (TesseraCluster's EM and PPP).

Oracles: a naive float64 EM written here from the textbook formulas (started from the same
partition, the same stopping rule), scikit-learn's GaussianMixture started from the same
parameters, and `tessera cluster --method gmm/ppp` (the Swift CLI) for bit-for-bit labels.
"""
import pickle

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from tessera.cluster import PPP, GaussianMixture


def blobs(rng, n=300, d=3, k=3, spread=8.0):
    centres = rng.normal(scale=spread, size=(k, d))
    truth = rng.integers(0, k, n)
    A = rng.normal(size=(k, d, d)) * 0.4 + np.eye(d)
    return np.einsum("nij,nj->ni", A[truth], rng.normal(size=(n, d))) + centres[truth], truth


def reference_em(X, labels, k, covariance="full", reg=1e-6, tol=1e-3, max_iter=100):
    """EM as in Dempster–Laird–Rubin with scikit-learn's M-step (nk + 10·eps, reg on the diagonal):
    M-step from the hard partition, then E (mean log-likelihood; stop if it changed < tol), M."""
    n, d = X.shape
    resp = np.zeros((n, k))
    resp[np.arange(n), labels] = 1

    def m_step(resp):
        nk = resp.sum(0) + 10 * np.finfo(float).eps
        mu = resp.T @ X / nk[:, None]
        covs = []
        for c in range(k):
            diff = X - mu[c]
            if covariance == "full":
                covs.append((resp[:, c, None] * diff).T @ diff / nk[c] + reg * np.eye(d))
            else:
                covs.append((resp[:, c, None] * diff ** 2).sum(0) / nk[c] + reg)
        return nk / n, mu, np.array(covs)

    def e_step(w, mu, covs):
        logp = np.column_stack([multivariate_normal(mu[c], covs[c] if covariance == "full" else np.diag(covs[c])).logpdf(X)
                                for c in range(k)]) + np.log(w)
        lse = logsumexp(logp, axis=1)
        return np.exp(logp - lse[:, None]), lse.mean()

    w, mu, covs = m_step(resp)
    prev, it, converged = -np.inf, 0, False
    while it < max_iter:
        it += 1
        resp, ll = e_step(w, mu, covs)
        if abs(ll - prev) < tol:
            converged = True
            break
        prev = ll
        w, mu, covs = m_step(resp)
    if not converged:
        resp, ll = e_step(w, mu, covs)
    return w, mu, covs, ll, it, converged


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_the_reference_em_from_the_same_partition(covariance, dtype, rng):
    X, truth = blobs(rng)
    X = X.astype(dtype)
    start = rng.integers(0, 3, len(X))            # a poor start: EM has work to do
    g = GaussianMixture(3, covariance_type=covariance, init_params=start, tol=1e-8, max_iter=500).fit(X)
    w, mu, covs, ll, it, conv = reference_em(X.astype(np.float64), start, 3, covariance, tol=1e-8, max_iter=500)
    assert g.converged_ == conv and g.n_iter_ == it
    np.testing.assert_allclose(g.weights_, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.means_, mu, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(g.covariances_, covs, rtol=1e-8, atol=1e-10)
    assert g.lower_bound_ == pytest.approx(ll, rel=1e-12)
    assert g.covariances_.shape == ((3, 3, 3) if covariance == "full" else (3, 3))


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_scikit_learn_from_the_same_parameters_reaches_the_same_mixture(covariance, rng):
    X, truth = blobs(rng, n=500)
    ours = GaussianMixture(3, covariance_type=covariance, tol=1e-10, max_iter=1000, random_state=3).fit(X)
    # start scikit-learn from our first M-step (the k-means partition) by rerunning one iteration
    first = GaussianMixture(3, covariance_type=covariance, max_iter=1, tol=0, random_state=3).fit(X)
    prec = (np.linalg.inv(first.covariances_) if covariance == "full" else 1 / first.covariances_)
    sk = SkGaussianMixture(3, covariance_type=covariance, tol=1e-10, max_iter=1000, weights_init=first.weights_,
                           means_init=first.means_, precisions_init=prec).fit(X)
    np.testing.assert_allclose(ours.means_, sk.means_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.weights_, sk.weights_, rtol=1e-6)
    np.testing.assert_allclose(ours.covariances_, sk.covariances_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.score_samples(X), sk.score_samples(X), rtol=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.bic(X) == pytest.approx(sk.bic(X), rel=1e-7)
    assert ours.aic(X) == pytest.approx(sk.aic(X), rel=1e-7)
    assert ours.bic_ == pytest.approx(sk.bic(X), rel=1e-7)


def test_prediction_from_parameters_equals_the_fit_bitwise(rng):
    X, _ = blobs(rng)
    g = GaussianMixture(3, random_state=1).fit(X)
    np.testing.assert_array_equal(g.predict(X), g.labels_)
    np.testing.assert_array_equal(g.fit_predict(X), g.labels_)
    again = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(again.predict_proba(X), g.predict_proba(X))
    p = g.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-12)
    np.testing.assert_array_equal(np.argmax(p, 1), g.predict(X))


def test_threads_and_layout_do_not_change_the_bits(rng):
    X, _ = blobs(rng, n=3000)
    a = GaussianMixture(3, random_state=0, n_threads=1).fit(X)
    b = GaussianMixture(3, random_state=0, n_threads=4).fit(np.asfortranarray(X))
    wide = np.zeros((X.shape[0], 7))
    wide[:, 2:5] = X
    c = GaussianMixture(3, random_state=0, n_threads=2).fit(wide[:, 2:5])
    for o in (b, c):
        np.testing.assert_array_equal(a.means_, o.means_)
        np.testing.assert_array_equal(a.covariances_, o.covariances_)
        np.testing.assert_array_equal(a.labels_, o.labels_)


@pytest.mark.parametrize("kw, exc, match", [
    ({"n_components": 0}, ValueError, ">= 1"),
    ({"n_components": 1000}, ValueError, "n_components"),
    ({"covariance_type": "tied"}, ValueError, "covariance_type"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"tol": -1.0}, ValueError, "tol"),
    ({"reg_covar": float("nan")}, ValueError, "reg_covar"),
    ({"n_components": 2.5}, TypeError, "n_components"),
    ({"init_params": "random"}, ValueError, "init_params"),
    ({"init_params": np.zeros(5, dtype=int)}, ValueError, "n_samples"),
])
def test_bad_arguments(kw, exc, match, rng):
    X, _ = blobs(rng, n=50)
    with pytest.raises(exc, match=match):
        GaussianMixture(**{"n_components": 2, **kw}).fit(X)


def test_singular_data_raise_the_swift_message():
    X = np.zeros((20, 2))
    X[:10, 0] = 1
    with pytest.raises(ValueError, match="singular|zero variance"):
        GaussianMixture(2, reg_covar=0).fit(X)


def test_ppp_finds_the_number_of_blobs(rng):
    centres = np.array([[0, 0], [12, 0], [0, 12], [12, 12]], float)
    X = np.vstack([c + rng.normal(size=(150, 2)) for c in centres])
    p = PPP(k_range=(1, 8), restarts=3).fit(X)
    assert p.n_clusters_ == 4
    assert list(p.candidates_["k"]) == list(range(1, 9))
    best = p.candidates_[p.candidates_["k"] == 4][0]
    assert best["agreement"] >= 0.9 and best["bic"] == pytest.approx(p.bic_)
    # the accepted k has the lowest BIC among the confirmed candidates
    ok = p.candidates_[p.candidates_["agreement"] >= 0.9]
    assert best["bic"] == ok["bic"].min()
    # one cluster per blob
    groups = [set(p.labels_[i * 150:(i + 1) * 150]) for i in range(4)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 4
    np.testing.assert_array_equal(p.predict(X), p.labels_)
    assert p.cluster_centers_.shape == (4, 2) and p.means_.shape == (4, 2) and p.covariances_.shape == (4, 2, 2)
    np.testing.assert_allclose(np.sort(p.cluster_centers_, 0), np.sort(centres, 0), atol=0.3)


def test_ppp_inertia_is_that_of_its_labels(rng):
    X, _ = blobs(rng, n=200)
    p = PPP(k_range=(2, 4), covariance_type="diag").fit(X)
    inertia = sum(((X[p.labels_ == c] - p.cluster_centers_[c]) ** 2).sum() for c in range(p.n_clusters_))
    assert p.inertia_ == pytest.approx(inertia, rel=1e-9)
    assert p.covariances_.shape == (p.n_clusters_, 3)


@pytest.mark.parametrize("kw", [{"k_range": (0, 3)}, {"k_range": (3, 2)}, {"k_range": 5}, {"restarts": 0},
                                {"min_agreement": 1.5}, {"covariance_type": "spherical"}])
def test_ppp_bad_arguments(kw, rng):
    X, _ = blobs(rng, n=50)
    with pytest.raises(ValueError):
        PPP(**kw).fit(X)


@pytest.mark.parametrize("method", ["gmm", "gmm-diag", "ppp"])
def test_bitwise_equal_to_the_swift_cli(method, tmp_path, rng):
    """`tessera cluster --method gmm/gmm-diag/ppp` (the Swift CLI) and the Python estimators."""
    import csv
    import subprocess

    from test_cluster import tessera_cli
    X, _ = blobs(rng, n=400)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "labels.csv"
    args = ["--k-max", "6"] if method == "ppp" else ["--k", "3", "--max-iter", "100", "--seed", "5"]
    run = subprocess.run([tessera_cli(), "cluster", str(tmp_path / "x.npy"), "--method", method, *args,
                          "--precision", "f64", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    cli_labels = np.array([int(r["label"]) for r in csv.DictReader(out.open())])
    report = dict(line.split(None, 1) for line in run.stdout.splitlines() if len(line.split(None, 1)) == 2)
    if method == "ppp":
        ours = PPP(k_range=(1, 6)).fit(X)
        assert report["k"] == str(ours.n_clusters_)
        assert report["inertia"] == f"{ours.inertia_:.6f}"
    else:
        ours = GaussianMixture(3, covariance_type="full" if method == "gmm" else "diag", random_state=5).fit(X)
        assert report["log_likelihood"] == f"{ours.lower_bound_:.6f}"
        assert report["iterations"] == str(ours.n_iter_)
    assert report["bic"] == f"{ours.bic_:.3f}"
    np.testing.assert_array_equal(ours.labels_, cli_labels)
