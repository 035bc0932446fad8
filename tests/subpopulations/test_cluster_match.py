"""ClusterMatch: known answers on separated blobs, PCA, filter, determinism."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from skpoison.subpopulations import ClusterMatch

CENTERS = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0], [30.0, 30.0]])


@pytest.fixture(autouse=True)
def _one_thread():
    # k-means' OpenMP threads oversubscribe a small CI machine
    with threadpool_limits(1):
        yield


def _blobs(n_samples=(40, 40, 40, 40), n_features=2, random_state=0):
    centers = CENTERS if n_features == 2 else None
    if centers is None:
        rng = np.random.RandomState(1)
        centers = rng.uniform(-50, 50, (len(n_samples), n_features))
    return make_blobs(n_samples=list(n_samples), centers=centers[: len(n_samples)],
                      cluster_std=0.5, random_state=random_state)


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch"])
def test_recovers_separated_blobs(algorithm):
    X, y = _blobs()
    finder = ClusterMatch(n_clusters=4, algorithm=algorithm, random_state=0).fit(X)
    expected = KMeans if algorithm == "kmeans" else MiniBatchKMeans
    assert type(finder.kmeans_) is expected
    ids = finder.predict(X)
    assert adjusted_rand_score(y, ids) == 1.0
    assert_array_equal(finder.subpopulations_, [0, 1, 2, 3])
    assert_array_equal(finder.sizes_, [40, 40, 40, 40])
    # fresh rows from the same blobs land in the same clusters
    X_new, y_new = _blobs(n_samples=(10, 10, 10, 10), random_state=1)
    assert adjusted_rand_score(np.concatenate([y, y_new]),
                               np.concatenate([ids, finder.predict(X_new)])) == 1.0


def test_sizes_target_and_membership_on_blobs():
    X, y = _blobs(n_samples=(15, 40, 25, 60))
    finder = ClusterMatch(n_clusters=4, target="smallest", random_state=0).fit(X)
    ids = finder.predict(X)
    assert sorted(finder.sizes_.tolist()) == [15, 25, 40, 60]
    assert_array_equal(finder.membership(X), y == 0)
    assert_array_equal(finder.membership(X), ids == finder.target_)
    largest = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    assert_array_equal(largest.membership(X), y == 3)
    # membership of another cluster, given by id
    other = ids[np.flatnonzero(y == 1)[0]]
    assert_array_equal(finder.membership(X, target=other), y == 1)


def test_predict_new_rows_equals_kmeans_and_size_filter():
    X, y = _blobs(n_samples=(5, 30, 30, 200))
    finder = ClusterMatch(n_clusters=4, min_size=10, max_size=100,
                          random_state=0).fit(X)
    assert_array_equal(finder.sizes_, [30, 30])
    X_new = np.random.RandomState(3).uniform(-5, 35, (200, 2))
    raw = finder.kmeans_.predict(X_new)
    expected = np.where(np.isin(raw, finder.subpopulations_), raw, -1)
    assert_array_equal(finder.predict(X_new), expected)
    # the small and the large blob are filtered out
    ids = finder.predict(X)
    assert np.all(ids[(y == 0) | (y == 3)] == -1)
    assert np.all(ids[(y == 1) | (y == 2)] >= 0)
    Xt = finder.transform(X)
    assert Xt.shape == (X.shape[0], 2)
    assert_array_equal(Xt.sum(axis=1), ((y == 1) | (y == 2)).astype(float))


def test_no_predict_without_filter_matches_kmeans():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    assert_array_equal(finder.predict(X), finder.kmeans_.labels_)
    assert_array_equal(finder.predict(X), finder.kmeans_.predict(X))


def test_n_clusters_one():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=1, random_state=0).fit(X)
    assert_array_equal(finder.subpopulations_, [0])
    assert_array_equal(finder.sizes_, [X.shape[0]])
    assert finder.target_ == 0
    assert finder.membership(X).all()
    assert_array_equal(finder.transform(X), np.ones((X.shape[0], 1)))
    for target in ("largest", "smallest", "random", 0):
        finder = ClusterMatch(n_clusters=1, target=target, random_state=0)
        assert finder.fit(X).target_ == 0


def test_pca_path():
    X, y = _blobs(n_features=10)
    plain = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    assert plain.pca_ is None
    assert plain.kmeans_.cluster_centers_.shape == (4, 10)

    pca = ClusterMatch(n_clusters=4, n_components=5, random_state=0).fit(X)
    assert pca.pca_.n_components_ == 5
    assert pca.kmeans_.cluster_centers_.shape == (4, 5)
    assert adjusted_rand_score(y, pca.predict(X)) == 1.0
    assert_array_equal(pca.kmeans_.predict(pca.pca_.transform(X)), pca.predict(X))

    sliced = ClusterMatch(n_clusters=4, n_components=5, n_components_kmeans=2,
                          random_state=0).fit(X)
    assert sliced.pca_.n_components_ == 5  # PCA keeps all 5 components
    assert sliced.kmeans_.cluster_centers_.shape == (4, 2)  # k-means sees 2
    assert_allclose(sliced.pca_.components_, pca.pca_.components_)
    Z = sliced.pca_.transform(X)[:, :2]
    assert_array_equal(sliced.kmeans_.predict(Z), sliced.predict(X))
    assert adjusted_rand_score(y, sliced.predict(X)) == 1.0

    raw_sliced = ClusterMatch(n_clusters=4, n_components_kmeans=3,
                              random_state=0).fit(X)
    assert raw_sliced.pca_ is None
    assert raw_sliced.kmeans_.cluster_centers_.shape == (4, 3)
    assert_array_equal(raw_sliced.kmeans_.predict(X[:, :3]), raw_sliced.predict(X))


@pytest.mark.parametrize("params, name", [
    ({"n_components": 0}, "n_components"),
    ({"n_components": 11}, "n_components"),
    ({"n_components": 2.5}, "n_components"),
    ({"n_components": 5, "n_components_kmeans": 6}, "n_components_kmeans"),
    ({"n_components_kmeans": 11}, "n_components_kmeans"),
    ({"n_components_kmeans": 0}, "n_components_kmeans"),
    ({"n_clusters": 0}, "n_clusters"),
    ({"n_clusters": 161}, "n_clusters"),
    ({"algorithm": "dbscan"}, "algorithm"),
    ({"min_size": -1}, "min_size"),
    ({"target": "median"}, "target"),
])
def test_bad_parameters_are_named(params, name):
    X, _ = _blobs(n_features=10)  # 160 rows, 10 features
    with pytest.raises(ValueError, match=name):
        ClusterMatch(**{"n_clusters": 4, **params}).fit(X)


def test_n_clusters_equal_to_n_samples_is_allowed():
    X, _ = _blobs(n_samples=(3, 3))
    finder = ClusterMatch(n_clusters=6, random_state=0).fit(X)
    assert_array_equal(finder.sizes_, np.ones(6))


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch"])
def test_deterministic_with_random_state(algorithm):
    X = np.random.RandomState(0).normal(size=(200, 5))  # no obvious clusters
    fits = [ClusterMatch(n_clusters=7, n_components=4, target="random",
                         algorithm=algorithm, random_state=42).fit(X)
            for _ in range(2)]
    assert_array_equal(fits[0].kmeans_.cluster_centers_,
                       fits[1].kmeans_.cluster_centers_)
    assert_array_equal(fits[0].predict(X), fits[1].predict(X))
    assert fits[0].target_ == fits[1].target_
    assert fits[0].target_ in fits[0].subpopulations_


def test_float32_input():
    X, y = _blobs()
    X32 = X.astype(np.float32)
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X32)
    assert finder.kmeans_.cluster_centers_.dtype == np.float32
    assert adjusted_rand_score(y, finder.predict(X32)) == 1.0
    assert_array_equal(finder.predict(X), finder.predict(X32))
    pca = ClusterMatch(n_clusters=4, n_components=2, random_state=0).fit(X32)
    assert adjusted_rand_score(y, pca.predict(X)) == 1.0


def test_retarget_keeps_the_clustering():
    X, y = _blobs(n_samples=(15, 40, 25, 60))
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    small = finder.retarget("smallest")
    assert small.kmeans_ is finder.kmeans_  # not refitted
    assert_array_equal(small.membership(X), y == 0)
    assert_array_equal(finder.membership(X), y == 3)


def test_predict_checks_features():
    X, _ = _blobs()
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        finder.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        finder.predict(np.array([[np.nan, 0.0]]))


# ------------------------------------------------------------ representation
def test_representation_is_clustered_instead_of_X():
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    # the representation keeps only the sign of column 0: two clusters
    rep = FunctionTransformer(lambda Z: np.sign(Z[:, :1]))
    finder = ClusterMatch(n_clusters=2, representation=rep, random_state=0).fit(X)
    ids = finder.predict(X)
    assert len(np.unique(ids)) == 2
    for sign in (-1, 1):
        assert len(np.unique(ids[np.sign(X[:, 0]) == sign])) == 1
    # the caller's transformer is cloned, never fitted in place
    assert not hasattr(rep, "n_features_in_")
    assert finder.representation_ is not rep


def test_representation_frozen_is_used_as_is():
    from sklearn.decomposition import PCA
    from sklearn.frozen import FrozenEstimator

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    pca = PCA(n_components=2, random_state=0).fit(X[:40])
    finder = ClusterMatch(n_clusters=3, representation=FrozenEstimator(pca),
                          random_state=0).fit(X[40:])
    np.testing.assert_allclose(finder.representation_.transform(X), pca.transform(X))
    reference = ClusterMatch(n_clusters=3, random_state=0).fit(pca.transform(X[40:]))
    # same clustering as clustering the transformed rows directly
    assert (finder.predict(X) >= 0).all()
    np.testing.assert_array_equal(
        np.unique(finder.predict(X), return_counts=True)[1],
        np.unique(reference.predict(pca.transform(X)), return_counts=True)[1])


def test_representation_accepts_non_numeric_input():
    from sklearn.preprocessing import FunctionTransformer

    texts = np.array(["a", "bb", "ccc", "dddd"] * 10, dtype=object)
    rep = FunctionTransformer(lambda T: np.array([[len(t)] for t in np.ravel(T)], float))
    finder = ClusterMatch(n_clusters=4, representation=rep, random_state=0)
    ids = finder.fit(texts.reshape(-1, 1)).predict(texts.reshape(-1, 1))
    assert len(np.unique(ids)) == 4
    assert len(np.unique(ids[texts == "bb"])) == 1


def test_representation_must_be_2d():
    from sklearn.preprocessing import FunctionTransformer

    rep = FunctionTransformer(lambda Z: Z[:, 0])
    with pytest.raises(ValueError, match="representation must map X to a 2-D"):
        ClusterMatch(n_clusters=2, representation=rep).fit(np.ones((10, 2)))


def test_representation_without_transform_is_rejected():
    with pytest.raises(ValueError, match="representation"):
        ClusterMatch(n_clusters=2, representation=object()).fit(np.ones((10, 2)))
