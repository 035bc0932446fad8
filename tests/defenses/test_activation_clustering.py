"""Tests for skpoison.defenses.ActivationClustering."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from skpoison.attacks import LabelFlip
from skpoison.defenses import ActivationClustering
from skpoison.metrics import clean_removal_scorer, poison_removal_scorer
from skpoison.nets import make_mlp_classifier
from skpoison.pipeline import make_pipeline
from skpoison.subpopulations import ClusterMatch

N, K, D = 100, 10, 10


def _backdoor(seed=0, n=N, k=K, d=D):
    """Two Gaussian classes; k class-0-like rows with a trigger (last feature
    +10) labelled 1, far from every clean row: the last k rows."""
    rng = np.random.RandomState(seed)
    X0 = rng.normal(0, 1, (n, d))
    X0[:, 0] -= 3
    X1 = rng.normal(0, 1, (n, d))
    X1[:, 0] += 3
    P = rng.normal(0, 1, (k, d))
    P[:, 0] -= 3
    P[:, -1] += 10
    X = np.vstack([X0, X1, P])
    y = np.r_[np.zeros(n, int), np.ones(n + k, int)]
    return X, y


def _clean(seed, n=150, d=D):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-2, 1, (n, d)), rng.normal(2, 1, (n, d))])
    return X, np.repeat([0, 1], n)


PLANTED = np.arange(2 * N, 2 * N + K)


# --------------------------------------------------------------- known answer
@pytest.mark.parametrize("reduction", ["ica", "pca"])
def test_removes_exactly_the_planted_backdoor(reduction):
    X, y = _backdoor()
    ac = ActivationClustering(LogisticRegression(), reduction=reduction,
                              silhouette_threshold=0.1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~ac.support_mask_), PLANTED)
    np.testing.assert_array_equal(ac.cluster_removed_, [False, True])
    np.testing.assert_array_equal(ac.cluster_sizes_, [[ac.cluster_sizes_[0, 0],
                                                       N - ac.cluster_sizes_[0, 0]],
                                                      [K, N]])
    assert ac.silhouette_scores_[1] >= 0.1 > ac.silhouette_scores_[0]
    assert ac.n_iter_ == 1
    # refit on the kept rows (layer=None: the only fit)
    direct = LogisticRegression().fit(X[ac.support_mask_], y[ac.support_mask_])
    np.testing.assert_allclose(ac.estimator_.coef_, direct.coef_)


def test_without_threshold_removes_each_smaller_cluster():
    X, y = _backdoor()
    ac = ActivationClustering(LogisticRegression(), reduction="pca",
                              silhouette_threshold=None, size_threshold=None,
                              random_state=0).fit(X, y)
    removed = ~ac.support_mask_
    assert removed[PLANTED].all()
    np.testing.assert_array_equal(ac.cluster_removed_, [True, True])
    # class 0, one blob, loses its smaller half of an arbitrary split
    assert removed[:N].sum() == ac.cluster_sizes_[0, 0] <= N // 2
    assert not removed[N:2 * N].any()


@pytest.mark.parametrize("reduction", ["ica", "pca"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_data_with_threshold_untouched(reduction, seed):
    # one Gaussian blob per class: 2-means splits it with a silhouette of
    # about 0.07-0.09 in 10 dimensions, below the threshold
    X, y = _clean(seed)
    ac = ActivationClustering(LogisticRegression(), reduction=reduction,
                              silhouette_threshold=0.15, random_state=seed).fit(X, y)
    assert ac.support_mask_.all()
    assert not ac.cluster_removed_.any()
    assert (ac.silhouette_scores_ < 0.15).all()
    np.testing.assert_array_equal(ac.cluster_sizes_.sum(axis=1), [150, 150])


@pytest.mark.parametrize("make_est, layer", [
    (lambda: make_mlp_classifier((16,), max_epochs=30, random_state=0), "hidden"),
    (lambda: MLPClassifier((16,), max_iter=300, random_state=0), -1),
])
def test_hidden_layer_of_trained_nets(make_est, layer):
    X, y = _backdoor()
    ac = ActivationClustering(make_est(), layer=layer, reduction="pca",
                              silhouette_threshold=0.3, random_state=0)
    ac.fit(X.astype(np.float32), y)
    np.testing.assert_array_equal(np.flatnonzero(~ac.support_mask_), PLANTED)


# ----------------------------------------------------------- n_components
@pytest.mark.parametrize("reduction, expected", [("ica", 15), ("pca", 10)])
def test_default_n_components(reduction, expected):
    X, y = _clean(0, n=60, d=20)
    ac = ActivationClustering(LogisticRegression(), reduction=reduction,
                              random_state=0).fit(X, y)
    np.testing.assert_array_equal(ac.n_components_, [expected, expected])


def test_n_components_capped_by_rows_dims_and_constant_columns():
    X, y = _clean(0, n=30, d=4)
    X = np.column_stack([X, np.zeros(60)])  # a dead unit
    ac = ActivationClustering(LogisticRegression(), n_components=50,
                              random_state=0).fit(X, y)
    np.testing.assert_array_equal(ac.n_components_, [4, 4])
    # a class of 6 rows: at most 5 components after centring
    X_small = np.vstack([X[:30], X[30:36]])
    y_small = np.r_[np.zeros(30, int), np.ones(6, int)]
    ac = ActivationClustering(LogisticRegression(), n_components=50,
                              random_state=0).fit(X_small, y_small)
    np.testing.assert_array_equal(ac.n_components_, [4, 4])
    ac = ActivationClustering(LogisticRegression(), n_components=50,
                              random_state=0).fit(X_small[:33], y_small[:33])
    assert ac.n_components_[1] == 2


def test_tiny_or_constant_class_not_split():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(20, 3)), np.ones((5, 3)), [[9, 9, 9], [8, 8, 8]]])
    y = np.r_[np.zeros(20, int), np.ones(5, int), [2, 2]]
    ac = ActivationClustering(LogisticRegression(), random_state=0).fit(X, y)
    assert np.isnan(ac.silhouette_scores_[1:]).all()
    np.testing.assert_array_equal(ac.cluster_sizes_[1:], [[0, 5], [0, 2]])
    assert ac.support_mask_[20:].all()


# ------------------------------------------------------------- determinism
def test_same_random_state_same_result():
    X, y = _backdoor(seed=3)
    a = ActivationClustering(LogisticRegression(), random_state=0).fit(X, y)
    b = ActivationClustering(LogisticRegression(), random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    np.testing.assert_array_equal(a.silhouette_scores_, b.silhouette_scores_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_net_determinism_and_caller_data_unchanged():
    X, y = _backdoor()
    X = X.astype(np.float32)
    X_copy, y_copy = X.copy(), y.copy()
    net = make_mlp_classifier((8,), max_epochs=5)
    a = ActivationClustering(net, layer="hidden", reduction="pca",
                             random_state=0).fit(X, y)
    b = ActivationClustering(net, layer="hidden", reduction="pca",
                             random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    assert net.get_params()["random_state"] is None


# ------------------------------------------------------------------ errors
def test_unknown_layer_lists_valid_names():
    X, y = _backdoor()
    net = make_mlp_classifier((4,), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"Unknown layer 'hiden'.*'hidden', "
                                         r"'hidden.0', 'hidden.1', 'output'"):
        ActivationClustering(net, layer="hiden").fit(X, y)
    with pytest.raises(ValueError, match="LogisticRegression has no named layers"):
        ActivationClustering(LogisticRegression(), layer="hidden").fit(X, y)


@pytest.mark.parametrize("params", [{"reduction": "tsne"}, {"n_components": 0},
                                    {"silhouette_threshold": 2.0},
                                    {"size_threshold": 0.0},
                                    {"size_threshold": 1.0},
                                    {"layer": 1.5}])
def test_invalid_parameters(params):
    X, y = _backdoor()
    name = next(iter(params))
    with pytest.raises(ValueError, match=name):
        ActivationClustering(LogisticRegression(), **params).fit(X, y)


# ------------------------------------------------------------- composition
def test_in_pipeline_and_grid_search():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal([-4, 0], 0.7, (60, 2)), rng.normal([4, 0], 0.7, (60, 2)),
                   rng.normal([1, 6], 0.2, (10, 2))])
    y = np.r_[np.zeros(60, int), np.ones(70, int)]
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest", n_init=5),
                       alpha=1, random_state=0)
    pipe = make_pipeline(attack, ActivationClustering(
        LogisticRegression(), reduction="pca", random_state=0))
    pipe.fit(X, y)
    defense = pipe[-1]
    assert defense.support_mask_.shape == (130 + 10,)
    assert 0 <= poison_removal_scorer(pipe) <= 1
    assert 0 <= clean_removal_scorer(pipe) <= 1

    search = GridSearchCV(
        clone(pipe),
        {"activationclustering__reduction": ["ica", "pca"],
         "activationclustering__silhouette_threshold": [None, 0.5]},
        cv=2, scoring={"poison_found": poison_removal_scorer, "acc": "accuracy"},
        refit="acc",
    ).fit(X, y)
    assert set(search.cv_results_["params"][0]) == {
        "activationclustering__reduction",
        "activationclustering__silhouette_threshold"}
    assert np.isfinite(search.cv_results_["mean_test_acc"]).all()


# ------------------------------------------------------------------ defaults
def _far_poisons(seed=0, n=2000, d=10, k=100):
    """Clean Gaussian rows with a label from their first feature, and ``k``
    poisons far away labelled 0 (the last ``k`` rows)."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] > 0).astype(int)
    P = rng.normal(8, 0.5, size=(k, d))
    return np.vstack([X, P]), np.r_[y, np.zeros(k, int)]


@pytest.mark.parametrize("seed", [0, 1])
def test_defaults_find_far_poisons_and_keep_clean_classes(seed):
    X, y = _far_poisons()
    ac = ActivationClustering(LogisticRegression(), random_state=seed).fit(X, y)
    assert (~ac.support_mask_[2000:]).all()  # 100 of 100 poisons found
    assert ac.support_mask_[:2000].all()  # no clean row removed
    assert ac.cluster_removed_.tolist() == [True, False]


@pytest.mark.parametrize("d", [1, 2, 10])
def test_default_guard_never_cuts_a_clean_class(d):
    # a fixed silhouette threshold cannot do this: 2-means on a 1-d Gaussian
    # has a silhouette of about 0.56, on a 10-d one about 0.08
    rng = np.random.RandomState(d)
    X = rng.normal(size=(600, d))
    y = (rng.rand(600) > 0.5).astype(int)
    ac = ActivationClustering(LogisticRegression(), random_state=0).fit(X, y)
    assert ac.support_mask_.all()
    assert np.all(ac.silhouette_scores_ < ac.silhouette_thresholds_)


def test_authors_setting_by_name_cuts_clean_classes():
    # reduction="ica", no silhouette or size test: the subpopulation paper's
    # authors; on clean data it removes the smaller cluster of every class
    X, y = _far_poisons()
    X, y = X[:2000], y[:2000]
    ac = ActivationClustering(LogisticRegression(), reduction="ica",
                              silhouette_threshold=None, size_threshold=None,
                              random_state=0).fit(X, y)
    assert ac.cluster_removed_.all()
    assert 0.3 < (~ac.support_mask_).mean() < 0.5
    assert np.isneginf(ac.silhouette_thresholds_).all()


def _bimodal(seed, n=1000, d=10, share=0.5):
    """Two clean classes; class 0 has two natural modes (``share`` of its rows
    moved 6 units along feature 1), so 2-means splits it with a high
    silhouette."""
    rng = np.random.RandomState(seed)
    X0 = rng.normal(size=(n, d))
    X0[: int(share * n), 1] += 6
    X1 = rng.normal(size=(n, d))
    X1[:, 0] += 4
    return np.vstack([X0, X1]), np.repeat([0, 1], n)


@pytest.mark.parametrize("share", [0.5, 0.4])
@pytest.mark.parametrize("seed", [0, 1])
def test_default_keeps_a_bimodal_clean_class(seed, share):
    # before the relative-size analysis, the default (PCA, silhouette "auto")
    # removed the 400-500 rows of the smaller mode: its silhouette (about
    # 0.4) is well above a Gaussian's
    X, y = _bimodal(seed, share=share)
    ac = ActivationClustering(LogisticRegression(), random_state=seed).fit(X, y)
    assert ac.support_mask_.all()
    assert not ac.cluster_removed_.any()
    assert ac.silhouette_scores_[0] > ac.silhouette_thresholds_[0]
    np.testing.assert_allclose(ac.relative_sizes_[0], min(share, 1 - share),
                               atol=0.01)
    # the size test alone is what keeps it: without it the mode is cut
    cut = ActivationClustering(LogisticRegression(), size_threshold=None,
                               random_state=seed).fit(X, y)
    assert abs((~cut.support_mask_).sum() - min(share, 1 - share) * 1000) <= 10
    assert cut.support_mask_[1000:].all()


@pytest.mark.parametrize("size_threshold, removed", [
    (0.35, True), (0.25, False), (None, True)])
def test_size_threshold_is_a_share_of_the_class(size_threshold, removed):
    # a separated mode of 300 rows in a class of 1,000: 0.30 of the class,
    # flagged below a threshold of 0.35 and kept under one of 0.25
    X, y = _bimodal(0, share=0.3)
    ac = ActivationClustering(LogisticRegression(), size_threshold=size_threshold,
                              random_state=0).fit(X, y)
    assert ac.cluster_sizes_[0].tolist() == [300, 700]
    assert ac.relative_sizes_[0] == 0.3
    assert ac.cluster_removed_[0] == removed
    np.testing.assert_array_equal(~ac.support_mask_[:1000],
                                  np.arange(1000) < 300 if removed else False)


@pytest.mark.parametrize("reduction", ["pca", "ica"])
def test_same_seed_same_rows_whatever_the_thread_count(reduction):
    from threadpoolctl import threadpool_limits

    X, y = _far_poisons(n=800)
    masks = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            ac = ActivationClustering(LogisticRegression(), reduction=reduction,
                                      silhouette_threshold=None,
                                      size_threshold=None,
                                      random_state=0).fit(X, y)
        masks.append(ac.support_mask_)
    np.testing.assert_array_equal(*masks)
