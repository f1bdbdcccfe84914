"""scikit-learn's own estimator checks on every estimator that takes an (n_samples, n_features) X.

FastRP takes a graph (adjacency or edge array), not samples × features, and is checked in test_graph.py.
"""
from sklearn.utils.estimator_checks import parametrize_with_checks

from tessera.cluster import CLARA, CLARANS, PPP, GaussianMixture, KMeans, KMedoids
from tessera.random_projection import GaussianRandomProjection, SparseRandomProjection

ESTIMATORS = [
    SparseRandomProjection(n_components=2, random_state=0),
    GaussianRandomProjection(n_components=2, random_state=0),
    KMedoids(n_clusters=3, random_state=0),
    KMedoids(n_clusters=3, method="pam", init="build"),
    KMedoids(n_clusters=3, method="alternating", metric="manhattan"),
    CLARA(n_clusters=3, random_state=0),
    CLARANS(n_clusters=3, random_state=0),
    KMeans(n_clusters=3, random_state=0),
    GaussianMixture(n_components=2, random_state=0),
    GaussianMixture(n_components=2, covariance_type="diag", reg_covar=1e-4),
    PPP(k_range=(1, 4)),
    PPP(k_range=(2, 3), covariance_type="diag", restarts=2),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
