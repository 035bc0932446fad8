"""Tests for skpoison.defenses.SEVER."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skpoison.attacks import LabelFlip
from skpoison.defenses import SEVER
from skpoison.defenses._sever import svd_scores
from skpoison.nets import make_mlp_classifier
from skpoison.pipeline import make_pipeline
from skpoison.subpopulations import ClusterMatch


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


N, K_PLANTED = 100, 6


def _planted(seed=0, n=N, k=K_PLANTED):
    """Two classes; k label-flipped rows clustered far out beyond class 1."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-2, 1, (n, 2)), rng.normal(2, 1, (n, 2)),
                   rng.normal(7, 0.3, (k, 2))])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int), np.zeros(k, int)])
    return X, y


def _clean(seed=0, n=150):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-1, 1, (n, 2)), rng.normal(1, 1, (n, 2))])
    return X, np.repeat([0, 1], n)


PLANTED = np.arange(2 * N, 2 * N + K_PLANTED)


def test_removes_planted_high_gradient_outliers():
    X, y = _planted()
    sever = SEVER(LogisticRegression(), n_remove=K_PLANTED).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~sever.support_mask_), PLANTED)
    rng = np.random.RandomState(1)
    X_test = np.vstack([rng.normal(-2, 1, (300, 2)), rng.normal(2, 1, (300, 2)),
                        rng.normal(7, 0.3, (50, 2))])
    y_test = np.repeat([0, 1, 1], [300, 300, 50])
    undefended = LogisticRegression().fit(X, y).score(X_test, y_test)
    assert sever.score(X_test, y_test) >= undefended
    assert sever.score(X_test, y_test) > 0.97
    assert sever.scores_.shape == (X.shape[0],)


def test_svd_spreads_removal_over_rounds_and_refits_on_support():
    X, y = _planted()
    sever = SEVER(LogisticRegression(), n_remove=7, max_iter=3).fit(X, y)
    # 7 = 3 + 2 + 2 over three rounds, then the final refit
    assert sever.n_iter_ == 3
    assert (~sever.support_mask_).sum() == 7
    assert set(PLANTED) <= set(np.flatnonzero(~sever.support_mask_))
    # scores_ are from the last round: rows removed before it are nan
    assert np.isnan(sever.scores_).sum() == 5
    direct = LogisticRegression().fit(X[sever.support_mask_], y[sever.support_mask_])
    np.testing.assert_allclose(sever.estimator_.coef_, direct.coef_, rtol=1e-3)


def test_n_remove_zero_and_fewer_than_rounds():
    X, y = _planted()
    sever = SEVER(LogisticRegression(), n_remove=0).fit(X, y)
    assert sever.support_mask_.all() and sever.n_iter_ == 1
    np.testing.assert_allclose(sever.estimator_.coef_,
                               LogisticRegression().fit(X, y).coef_)
    # 2 removals in 5 rounds: one per round, then a scoring round on the final
    # set, whose fit is estimator_
    sever = SEVER(LogisticRegression(), n_remove=2, max_iter=5).fit(X, y)
    assert sever.n_iter_ == 3 and (~sever.support_mask_).sum() == 2


def test_clean_data_almost_untouched():
    # n_remove forces removals; on clean data they must be spread over both
    # classes (no class wiped out), the model about as good as without SEVER
    X, y = _clean()
    n_remove = 15  # 5 %
    sever = SEVER(LogisticRegression(), n_remove=n_remove).fit(X, y)
    removed = ~sever.support_mask_
    assert removed.sum() == n_remove
    per_class = np.bincount(y[removed], minlength=2)
    assert per_class.min() >= 3, per_class
    X_test, y_test = _clean(seed=5, n=500)
    plain = LogisticRegression().fit(X, y).score(X_test, y_test)
    assert sever.score(X_test, y_test) >= plain - 0.02


def test_norm_scores_are_the_authors_formula():
    X, y = _planted()
    sever = SEVER(LogisticRegression(), n_remove=0, method="norm").fit(X, y)
    lr = LogisticRegression().fit(X, y)
    p = lr.predict_proba(X)[np.arange(len(y)), y]
    expected = (p * (1 - p) * np.linalg.norm(X, axis=1)) ** 2
    np.testing.assert_allclose(sever.scores_, expected, rtol=1e-6)


def test_norm_and_svd_differ_on_constructed_case():
    # The planted rows are confidently wrong (p_i near 0): their gradients are
    # the outlying cluster SVD finds, but the authors' proxy p (1 - p) ||x||
    # is near 0 for them and largest for uncertain rows near the boundary.
    X, y = _planted()
    svd = SEVER(LogisticRegression(), n_remove=K_PLANTED, method="svd").fit(X, y)
    norm = SEVER(LogisticRegression(), n_remove=K_PLANTED, method="norm").fit(X, y)
    rem_svd = np.flatnonzero(~svd.support_mask_)
    rem_norm = np.flatnonzero(~norm.support_mask_)
    np.testing.assert_array_equal(rem_svd, PLANTED)
    assert not set(rem_norm) & set(PLANTED)
    p = LogisticRegression().fit(X, y).predict_proba(X)[np.arange(len(y)), y]
    assert np.all(np.abs(p[rem_norm] - 0.5) < np.abs(p[PLANTED] - 0.5).min())


def test_svd_scores_per_class_centering():
    # Two classes whose gradients differ by a constant offset: per-class
    # centring removes it, global centring makes it the top direction.
    G = np.vstack([np.zeros((5, 2)), np.full((5, 2), 10.0)])
    G[0] = [0.0, 1.0]
    groups = np.repeat([0, 1], 5)
    per_class = svd_scores(G, groups)
    assert np.argmax(per_class) == 0
    assert np.ptp(svd_scores(G)) > 0 and svd_scores(G).min() > 10


def test_refuses_to_wipe_a_class():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-2, 1, (40, 2)), rng.normal(2, 1, (3, 2))])
    y = np.repeat([0, 1], [40, 3])
    # the three class-1 rows have the largest gradients
    X[40:] = [[-3, -3], [-2.5, -3], [-3, -2.5]]
    with pytest.warns(UserWarning, match="drop every row of a class"):
        sever = SEVER(LogisticRegression(), n_remove=3, max_iter=1,
                      per_class=False).fit(X, y)
    assert sever.support_mask_[y == 1].any()


def test_inside_pipeline_with_label_flip_and_grid_search():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-2, 1, (60, 2)), rng.normal(2, 1, (60, 2))])
    y = np.repeat([0, 1], 60)
    pipe = make_pipeline(
        LabelFlip(ClusterMatch(n_clusters=3, random_state=0), alpha=0.5,
                  random_state=0),
        SEVER(LogisticRegression()),
    )
    pipe.fit(X, y)
    attack, sever = pipe[0], pipe[-1]
    n_poison = attack.n_poison_
    assert n_poison > 0
    assert sever.support_mask_.shape == (X.shape[0] + n_poison,)
    grid = GridSearchCV(pipe, {"sever__method": ["svd", "norm"],
                               "sever__n_remove": [0.05, 0.1]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"sever__method", "sever__n_remove"}
    assert grid.predict(X).shape == y.shape


def test_skorch_net_and_forest():
    X, y = _planted()
    net = make_mlp_classifier((8,), max_epochs=30, lr=0.05, random_state=0)
    sever = SEVER(net, n_remove=K_PLANTED, layer="last", random_state=0).fit(X, y)
    assert (~sever.support_mask_).sum() == K_PLANTED
    assert len(set(np.flatnonzero(~sever.support_mask_)) & set(PLANTED)) >= 4
    again = SEVER(net, n_remove=K_PLANTED, layer="last", random_state=0).fit(X, y)
    np.testing.assert_array_equal(sever.support_mask_, again.support_mask_)
    np.testing.assert_array_equal(sever.predict_proba(X), again.predict_proba(X))
    forest = RandomForestClassifier(n_estimators=10, random_state=0)
    sever = SEVER(forest, n_remove=K_PLANTED).fit(X, y)
    assert (~sever.support_mask_).sum() == K_PLANTED


def test_deterministic_and_does_not_modify_input():
    X, y = _planted()
    X_copy, y_copy = X.copy(), y.copy()
    est = SEVER(LogisticRegression(), n_remove=0.05, random_state=0)
    a = clone(est).fit(X, y)
    b = clone(est).fit(X, y)
    np.testing.assert_array_equal(a.support_mask_, b.support_mask_)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_randomized_svd_path_is_seeded():
    # > 1000 rows and columns: the randomized SVD; same random_state -> same scores
    rng = np.random.RandomState(0)
    G = rng.normal(size=(1010, 1005))
    G[:5] += 5.0
    a = svd_scores(G, random_state=3)
    b = svd_scores(G, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert set(np.argsort(-a)[:5]) == set(range(5))


@pytest.mark.parametrize("shape", [(40, 6), (6, 40)])
def test_exact_scores_match_full_svd(shape):
    rng = np.random.RandomState(0)
    G = rng.normal(size=shape) * np.linspace(1, 3, shape[1])
    Gc = G - G.mean(axis=0)
    v = np.linalg.svd(Gc)[2][0]
    np.testing.assert_allclose(svd_scores(G), (Gc @ v) ** 2, rtol=1e-8, atol=1e-12)


def test_errors():
    X, y = _planted()
    with pytest.raises(ValueError, match="estimator"):
        SEVER(LinearSVC()).fit(X, y)
    with pytest.raises(ValueError, match="n_remove"):
        SEVER(LogisticRegression(), n_remove=-1).fit(X, y)
    with pytest.raises(ValueError, match="n_remove"):
        SEVER(LogisticRegression(), n_remove=1.5).fit(X, y)
    with pytest.raises(ValueError, match="at least two rows must remain"):
        SEVER(LogisticRegression(), n_remove=X.shape[0]).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        SEVER(LogisticRegression(), method="pca").fit(X, y)
    net = make_mlp_classifier((4,), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="Unknown layer 'nope'"):
        SEVER(net, layer="nope", n_remove=2).fit(X, y)
