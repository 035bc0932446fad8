"""Tests for skpoison.defenses.SpectralSignatures."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from skpoison.attacks import LabelFlip
from skpoison.defenses import SpectralSignatures
from skpoison.defenses import _spectral as spectral_module
from skpoison.defenses._spectral import projection_scores as spectral_scores
from skpoison.defenses._spectral import top_singular_vector
from skpoison.metrics import clean_removal_scorer, poison_removal_scorer
from skpoison.nets import make_mlp_classifier
from skpoison.pipeline import make_pipeline
from skpoison.subpopulations import ClusterMatch

N, K, D = 100, 10, 10
PLANTED = np.arange(2 * N, 2 * N + K)


def _backdoor(seed=0, n=N, k=K, d=D):
    """Two Gaussian classes; the last k rows are class-0-like with a trigger
    (last feature +10), labelled 1."""
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


def _reference_scores(R):
    """The authors' formula: v = svd(R - mean)[2][0], score = (v . (R_i - mean))^2."""
    Rc = R - R.mean(axis=0)
    v = np.linalg.svd(Rc, full_matrices=False)[2][0]
    return (Rc @ v) ** 2


# ----------------------------------------------------------- the scores
def test_scores_match_reference_svd():
    X, y = _backdoor()
    ss = SpectralSignatures(LogisticRegression()).fit(X, y)
    for c in (0, 1):
        np.testing.assert_allclose(ss.scores_[y == c], _reference_scores(X[y == c]),
                                   rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("shape", [(40, 8), (8, 40), (50, 30)])
def test_top_singular_vector_all_paths(monkeypatch, shape):
    # exact d x d Gram, exact n x n Gram, and (threshold lowered) randomized SVD
    rng = np.random.RandomState(0)
    R = rng.normal(size=shape) * np.linspace(3, 1, shape[1])
    Rc = R - R.mean(axis=0)
    ref = np.linalg.svd(Rc, full_matrices=False)[2][0]
    if shape == (50, 30):
        monkeypatch.setattr(spectral_module, "_EXACT_MAX_SIDE", 10)
    v = top_singular_vector(Rc, random_state=0)
    assert abs(abs(v @ ref) - 1) < 1e-6


def test_float32_representations():
    X, _ = _backdoor()
    R = X[100:].astype(np.float32)
    np.testing.assert_allclose(spectral_scores(R), _reference_scores(R.astype(float)),
                               rtol=1e-3, atol=1e-3)


def test_constant_or_single_row_class_scores_zero():
    np.testing.assert_array_equal(spectral_scores(np.ones((5, 3))), np.zeros(5))
    np.testing.assert_array_equal(spectral_scores(np.ones((1, 3))), np.zeros(1))


# -------------------------------------------------------------- removal
def test_removes_planted_backdoor_with_expected_count():
    X, y = _backdoor()
    ss = SpectralSignatures(LogisticRegression(), n_remove=K).fit(X, y)
    # 1.5 x 10 rows of every class, the 10 planted rows among class 1's
    np.testing.assert_array_equal(ss.n_removed_, [15, 15])
    assert not ss.support_mask_[PLANTED].any()
    # the planted rows have the 10 highest scores of class 1
    class1 = np.flatnonzero(y == 1)
    top = class1[np.argsort(-ss.scores_[class1])[:K]]
    np.testing.assert_array_equal(np.sort(top), PLANTED)
    direct = LogisticRegression().fit(X[ss.support_mask_], y[ss.support_mask_])
    np.testing.assert_allclose(ss.estimator_.coef_, direct.coef_)
    assert ss.n_iter_ == 1


def test_epsilon_multiplier_one_removes_exactly_the_planted_rows():
    X, y = _backdoor()
    ss = SpectralSignatures(LogisticRegression(), n_remove=K,
                            epsilon_multiplier=1.0).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~ss.support_mask_[N:]) + N, PLANTED)


def test_fraction_n_remove_per_class():
    X, y = _backdoor()
    # class 0: int(1.5 * 0.1 * 100) = 15, class 1: int(1.5 * 0.1 * 110) = 16
    ss = SpectralSignatures(LogisticRegression(), n_remove=0.1).fit(X, y)
    np.testing.assert_array_equal(ss.n_removed_, [15, 16])
    assert (~ss.support_mask_).sum() == 31
    assert not ss.support_mask_[PLANTED].any()
    # 0.29 * 100 must not floor to 28 through rounding error
    ss = SpectralSignatures(LogisticRegression(), n_remove=0.29,
                            epsilon_multiplier=1.0).fit(X, y)
    assert ss.n_removed_[0] == 29


@pytest.mark.parametrize("quantile", [0.85, 0.5, 0.9])
def test_default_quantile_matches_numpy_percentile(quantile):
    X, y = _backdoor()
    ss = SpectralSignatures(LogisticRegression(), quantile=quantile).fit(X, y)
    for c in (0, 1):
        s = ss.scores_[y == c]
        np.testing.assert_array_equal(~ss.support_mask_[y == c],
                                      s > np.quantile(s, quantile))


def test_clean_data_removes_only_its_quantile_evenly():
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(-2, 1, (200, D)), rng.normal(2, 1, (200, D)),
                   rng.normal(6, 1, (100, D))])
    y = np.repeat([0, 1, 2], [200, 200, 100])
    ss = SpectralSignatures(LogisticRegression()).fit(X, y)
    # 85th percentile: 30 of 200 and 15 of 100: 15 % of every class
    np.testing.assert_array_equal(ss.n_removed_, [30, 30, 15])
    for c in range(3):
        assert (~ss.support_mask_[y == c]).mean() == pytest.approx(0.15)
    assert ss.score(X, y) == 1.0
    nothing = SpectralSignatures(LogisticRegression(), quantile=1.0).fit(X, y)
    assert nothing.support_mask_.all()


def test_removal_capped_with_warning():
    X, y = _backdoor()
    with pytest.warns(UserWarning, match=r"every row of class\(es\) \[0\]"):
        ss = SpectralSignatures(LogisticRegression(), n_remove=70).fit(X, y)
    np.testing.assert_array_equal(ss.n_removed_, [99, 105])


# ------------------------------------------------------------ models
@pytest.mark.parametrize("make_est, layer", [
    (lambda: make_mlp_classifier((16,), max_epochs=30, random_state=0), "hidden"),
    (lambda: MLPClassifier((16,), max_iter=300, random_state=0), -1),
])
def test_hidden_layer_of_trained_nets(make_est, layer):
    X, y = _backdoor()
    ss = SpectralSignatures(make_est(), layer=layer, n_remove=K).fit(
        X.astype(np.float32), y)
    assert not ss.support_mask_[PLANTED].any()
    np.testing.assert_array_equal(ss.n_removed_, [15, 15])


def test_net_determinism():
    X, y = _backdoor()
    X = X.astype(np.float32)
    net = make_mlp_classifier((8,), max_epochs=5)
    a = SpectralSignatures(net, layer="hidden", random_state=0).fit(X, y)
    b = SpectralSignatures(net, layer="hidden", random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_sparse_input_densified_per_class():
    X, y = _backdoor()
    X_sp = sp.csr_matrix(X)
    a = SpectralSignatures(LogisticRegression(), n_remove=K).fit(X_sp, y)
    b = SpectralSignatures(LogisticRegression(), n_remove=K).fit(X, y)
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    assert sp.issparse(X_sp)


def test_string_labels():
    X, y = _backdoor()
    labels = np.array(["neg", "pos"])[y]
    ss = SpectralSignatures(LogisticRegression(), n_remove=K).fit(X, labels)
    assert not ss.support_mask_[PLANTED].any()
    np.testing.assert_array_equal(ss.classes_, ["neg", "pos"])


# --------------------------------------------------------------- errors
def test_unknown_layer_lists_valid_names():
    X, y = _backdoor()
    net = make_mlp_classifier((4,), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"Unknown layer 'hidden.7'.*'hidden', "
                                         r"'hidden.0', 'hidden.1', 'output'"):
        SpectralSignatures(net, layer="hidden.7").fit(X, y)


@pytest.mark.parametrize("params", [{"quantile": 0.0}, {"quantile": 1.5},
                                    {"n_remove": -1}, {"n_remove": 1.0},
                                    {"epsilon_multiplier": 0}])
def test_invalid_parameters(params):
    X, y = _backdoor()
    with pytest.raises(ValueError, match=next(iter(params))):
        SpectralSignatures(LogisticRegression(), **params).fit(X, y)


# ---------------------------------------------------------- composition
def test_in_label_flip_pipeline_and_grid_search():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal([-4, 0], 0.7, (60, 2)), rng.normal([4, 0], 0.7, (60, 2)),
                   rng.normal([1, 6], 0.2, (10, 2))])
    y = np.r_[np.zeros(60, int), np.ones(70, int)]
    attack = LabelFlip(ClusterMatch(n_clusters=3, target="smallest", n_init=5),
                       alpha=1, random_state=0)
    pipe = make_pipeline(attack, SpectralSignatures(LogisticRegression(), n_remove=10))
    pipe.fit(X, y)
    assert pipe[-1].support_mask_.shape == (140,)
    # the 10 flipped rows sit far from class 0's mass: all found
    assert poison_removal_scorer(pipe) == 1.0
    assert clean_removal_scorer(pipe) == pytest.approx(20 / 130)

    search = GridSearchCV(
        clone(pipe),
        {"spectralsignatures__quantile": [0.8, 0.9],
         "spectralsignatures__n_remove": [None, 5]},
        cv=2, scoring={"poison_found": poison_removal_scorer, "acc": "accuracy"},
        refit="acc",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_poison_found"]).all()
