"""Tests for the subpopulation scorers of skpoison.metrics."""

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skpoison.attacks import LabelFlip
from skpoison.defenses import TRIM
from skpoison.metrics import (
    clean_removal_scorer,
    collateral_accuracy_scorer,
    find_attack,
    find_defense,
    make_subpopulation_scorer,
    poison_removal_scorer,
    target_accuracy_scorer,
)
from skpoison.pipeline import PoisonedEstimator, make_pipeline


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny problems: BLAS threads only spin against each other on a loaded
    # 2-core machine (an lbfgs fit of 100 rows goes from ~3 ms to ~60 ms).
    with threadpool_limits(1):
        yield

N_SUB = 10


def _blobs(seed):
    """Class 0 at (-4, 0), class 1 at (4, 0), a small class-1 group at (1, 6)."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([-4, 0], 0.7, (100, 2)),
                   rng.normal([4, 0], 0.7, (100, 2)),
                   rng.normal([1, 6], 0.2, (N_SUB, 2))])
    y = np.concatenate([np.zeros(100, int), np.ones(100 + N_SUB, int)])
    return X, y


def _scaled_blobs(seed):
    """Same idea, in raw units far from standardised ones; the small group at
    the largest x, so that raw rows (x ~ 100) all land in its cluster."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([-4, 0], 0.7, (100, 2)),
                   rng.normal([2, 0], 0.7, (100, 2)),
                   rng.normal([8, 3], 0.3, (20, 2))])
    y = np.concatenate([np.zeros(100, int), np.ones(120, int)])
    return X * [10, 1] + [100, 0], y


def _attack(alpha=2, **kw):
    from skpoison.subpopulations import ClusterMatch

    return LabelFlip(ClusterMatch(n_clusters=3, target="smallest", n_init=5),
                     alpha=alpha, random_state=0, **kw)


def _reference(attack, X_attack_input, y, y_pred, subset):
    mask = np.asarray(attack.subpopulation_.membership(X_attack_input), dtype=bool)
    if subset == "rest":
        mask = ~mask
    return float(np.mean(np.asarray(y)[mask] == np.asarray(y_pred)[mask]))


@pytest.fixture(scope="module")
def data():
    return _blobs(0), _blobs(1)


@pytest.fixture(scope="module")
def knn_pipeline(data):
    (X, y), _ = data
    return make_pipeline(_attack(), KNeighborsClassifier(n_neighbors=5)).fit(X, y)


# ------------------------------------------------------ target / collateral
def test_scorers_on_pipeline_match_reference(data, knn_pipeline):
    _, (X_test, y_test) = data
    attack = knn_pipeline.named_steps["labelflip"]
    y_pred = knn_pipeline.predict(X_test)
    target = target_accuracy_scorer(knn_pipeline, X_test, y_test)
    rest = collateral_accuracy_scorer(knn_pipeline, X_test, y_test)
    assert target == _reference(attack, X_test, y_test, y_pred, "target")
    assert rest == _reference(attack, X_test, y_test, y_pred, "rest")
    # the attack works on this data: the subpopulation is lost, the rest kept
    np.testing.assert_array_equal(attack.subpopulation_.membership(X_test),
                                  np.arange(X_test.shape[0]) >= 200)
    assert target <= 0.3
    assert rest == 1.0


def test_scorers_on_poisoned_estimator_match_reference(data):
    (X, y), (X_test, y_test) = data
    model = PoisonedEstimator(_attack(), KNeighborsClassifier(n_neighbors=5)).fit(X, y)
    y_pred = model.predict(X_test)
    for scorer, subset in [(target_accuracy_scorer, "target"),
                           (collateral_accuracy_scorer, "rest")]:
        assert scorer(model, X_test, y_test) == _reference(
            model.attack_, X_test, y_test, y_pred, subset)
    attack, to_input = find_attack(model)
    assert attack is model.attack_
    assert to_input(X_test) is X_test


@pytest.mark.parametrize("kind", ["skpoison", "bound", "sklearn"])
def test_scorer_pushes_rows_through_steps_before_attack(kind):
    X, y = _scaled_blobs(0)
    X_test, y_test = _scaled_blobs(1)
    knn = KNeighborsClassifier(n_neighbors=5)
    if kind == "skpoison":
        model = make_pipeline(StandardScaler(), _attack(), knn).fit(X, y)
        attack = model.named_steps["labelflip"]
    elif kind == "bound":  # the finder as its own step: it passes rows through
        nested = _attack()
        model = make_pipeline(StandardScaler(), nested.subpopulation,
                              nested.set_params(subpopulation=None), knn).fit(X, y)
        attack = model.named_steps["labelflip"]
    else:
        model = sk_make_pipeline(StandardScaler(), PoisonedEstimator(_attack(), knn))
        model.fit(X, y)
        attack = model[-1].attack_
    scaler = model[0]
    y_pred = model.predict(X_test)
    right = _reference(attack, scaler.transform(X_test), y_test, y_pred, "target")
    wrong = _reference(attack, X_test, y_test, y_pred, "target")
    # the test is meaningful: the raw rows give another mask and another score
    assert attack.subpopulation_.membership(scaler.transform(X_test)).sum() == 20
    assert attack.subpopulation_.membership(X_test).all()
    assert abs(right - wrong) > 0.5
    assert target_accuracy_scorer(model, X_test, y_test) == right
    rest = _reference(attack, scaler.transform(X_test), y_test, y_pred, "rest")
    assert collateral_accuracy_scorer(model, X_test, y_test) == rest
    found, to_input = find_attack(model)
    assert found is attack
    np.testing.assert_allclose(to_input(X_test), scaler.transform(X_test))


def test_empty_subset_nan_with_warning(data, knn_pipeline):
    _, (X_test, y_test) = data
    outside, inside = slice(0, 200), slice(200, None)
    with pytest.warns(UserWarning, match="'target' subset has no rows"):
        score = target_accuracy_scorer(knn_pipeline, X_test[outside], y_test[outside])
    assert math.isnan(score)
    with pytest.warns(UserWarning, match="'rest' subset has no rows"):
        score = collateral_accuracy_scorer(knn_pipeline, X_test[inside], y_test[inside])
    assert math.isnan(score)


def test_find_attack_without_attack_raises(data):
    (X, y), _ = data
    for model in [LogisticRegression().fit(X, y),
                  sk_make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
                  make_pipeline(_attack(), LogisticRegression()),  # unfitted
                  TRIM(LogisticRegression(), n_remove=2).fit(X, y)]:
        with pytest.raises(ValueError, match="No fitted attack"):
            find_attack(model)
        with pytest.raises(ValueError, match="No fitted attack"):
            target_accuracy_scorer(model, X, y)


def test_find_attack_through_grid_search(data):
    (X, y), (X_test, y_test) = data
    search = GridSearchCV(make_pipeline(_attack(), KNeighborsClassifier()),
                          {"kneighborsclassifier__n_neighbors": [3, 5]}, cv=2)
    search.fit(X, y)
    attack, _ = find_attack(search)
    assert attack is search.best_estimator_.named_steps["labelflip"]
    assert target_accuracy_scorer(search, X_test, y_test) == \
        target_accuracy_scorer(search.best_estimator_, X_test, y_test)


def test_sample_weight_and_kwargs(data, knn_pipeline):
    _, (X_test, y_test) = data
    attack = knn_pipeline.named_steps["labelflip"]
    mask = attack.subpopulation_.membership(X_test)
    y_pred = knn_pipeline.predict(X_test)
    w = np.linspace(0.1, 2, X_test.shape[0])
    got = collateral_accuracy_scorer(knn_pipeline, X_test, y_test, sample_weight=w)
    want = accuracy_score(y_test[~mask], y_pred[~mask], sample_weight=w[~mask])
    assert got == pytest.approx(want)
    # kwargs reach score_func
    recall0 = make_subpopulation_scorer(recall_score, subset="rest", pos_label=0)
    assert recall0(knn_pipeline, X_test, y_test) == pytest.approx(
        recall_score(y_test[~mask], y_pred[~mask], pos_label=0))
    assert "recall_score" in repr(recall0) and "'rest'" in repr(recall0)


def test_make_subpopulation_scorer_validation():
    with pytest.raises(ValueError, match="subset"):
        make_subpopulation_scorer(accuracy_score, subset="all")
    with pytest.raises(TypeError, match="score_func"):
        make_subpopulation_scorer("accuracy")


# ------------------------------------------------------------ removal scorers
@pytest.mark.parametrize("alpha, n_remove, poison_removed, clean_removed", [
    (0.5, 5, 1.0, 0.0),               # TRIM finds the outnumbered poisons
    (2, 20, 0.0, 20 / (210)),         # the paper's failure mode: clean rows go
])
def test_removal_scorers_on_trim_pipeline(data, alpha, n_remove, poison_removed,
                                          clean_removed):
    (X, y), _ = data
    model = make_pipeline(_attack(alpha), TRIM(LogisticRegression(), n_remove=n_remove))
    model.fit(X, y)
    attack, trim = model.named_steps["labelflip"], model.named_steps["trim"]
    assert find_defense(model) is trim
    poison, support = attack.poison_mask_, trim.support_mask_
    assert poison.shape == support.shape == (X.shape[0] + attack.n_poison_,)
    want_poison = float(np.mean(~support[poison]))
    want_clean = float(np.mean(~support[~poison]))
    assert poison_removal_scorer(model) == want_poison
    assert clean_removal_scorer(model) == want_clean
    # ... and on this data those fractions are known
    assert want_poison == pytest.approx(poison_removed)
    assert want_clean == pytest.approx(clean_removed)
    # X and y are ignored, as in scoring=
    assert poison_removal_scorer(model, X[:3], y[:3]) == want_poison


def test_removal_scorers_on_poisoned_estimator(data):
    (X, y), _ = data
    model = PoisonedEstimator(_attack(2), TRIM(LogisticRegression(), n_remove=20))
    model.fit(X, y)
    assert find_defense(model) is model.estimator_
    poison, support = model.attack_.poison_mask_, model.estimator_.support_mask_
    assert poison_removal_scorer(model) == float(np.mean(~support[poison]))
    assert clean_removal_scorer(model) == float(np.mean(~support[~poison]))


def test_removal_scorers_edge_cases(data):
    (X, y), _ = data
    undefended = make_pipeline(_attack(), LogisticRegression()).fit(X, y)
    assert find_defense(undefended) is None
    with pytest.raises(ValueError, match="defense"):
        poison_removal_scorer(undefended)
    no_poison = make_pipeline(_attack(alpha=0), TRIM(LogisticRegression(), n_remove=3))
    no_poison.fit(X, y)
    assert math.isnan(poison_removal_scorer(no_poison))
    assert clean_removal_scorer(no_poison) == pytest.approx(3 / X.shape[0])


def test_scorers_do_not_modify_inputs(data, knn_pipeline):
    _, (X_test, y_test) = data
    X_copy, y_copy = X_test.copy(), y_test.copy()
    target_accuracy_scorer(knn_pipeline, X_test, y_test)
    collateral_accuracy_scorer(knn_pipeline, X_test, y_test)
    np.testing.assert_array_equal(X_test, X_copy)
    np.testing.assert_array_equal(y_test, y_copy)
    # a clone of the fitted model is unfitted: the scorer refuses it
    with pytest.raises(ValueError, match="No fitted attack"):
        target_accuracy_scorer(clone(knn_pipeline), X_test, y_test)
