"""Composition: skpoison pipelines, PoisonedEstimator, model selection."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skpoison.attacks import LabelFlip
from skpoison.defenses import TRIM
from skpoison.metrics import (
    clean_removal_scorer,
    collateral_accuracy_scorer,
    poison_removal_scorer,
    target_accuracy_scorer,
)
from skpoison.pipeline import Pipeline, PoisonedEstimator, make_pipeline
from skpoison.subpopulations import ClusterMatch


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny problems: BLAS threads only spin against each other on a loaded
    # 2-core machine (an lbfgs fit of 100 rows goes from ~3 ms to ~60 ms).
    with threadpool_limits(1):
        yield

# Three well-separated blobs in convex position: any one blob, or any two,
# can be given the other label by a single hyperplane, so a linear victim
# must follow a 2:1 label-flip majority on whichever cluster is targeted.
CENTERS = np.array([[-5.0, 0.0], [5.0, -5.0], [5.0, 5.0]])
LABELS = np.array([0, 1, 1])

SCORING = {"target": target_accuracy_scorer, "rest": collateral_accuracy_scorer}
GRID = {
    "labelflip__alpha": [0.5, 2],
    "labelflip__subpopulation__target": [0, 1],
    "labelflip__subpopulation__n_clusters": [2, 3],
    "trim__n_remove": [5, 10],
}


def _blobs(seed, n=60):
    rng = np.random.RandomState(seed)
    blob = np.repeat(np.arange(3), n)
    X = CENTERS[blob] + rng.normal(0, 0.8, (3 * n, 2))
    y = LABELS[blob]
    order = rng.permutation(3 * n)  # so that unshuffled CV folds mix the blobs
    return X[order], y[order]


@pytest.fixture(scope="module")
def data():
    X, y = _blobs(0)
    X_aux, y_aux = _blobs(1)
    X_test, y_test = _blobs(2)
    return X, y, X_aux, y_aux, X_test, y_test


def _attack(X_aux, y_aux, alpha=1, **finder):
    finder = {"n_clusters": 3, **finder}
    return LabelFlip(ClusterMatch(**finder), alpha=alpha, aux=(X_aux, y_aux),
                     random_state=0)


def _trim_pipeline(X_aux, y_aux, alpha=1, n_remove=5):
    return make_pipeline(_attack(X_aux, y_aux, alpha=alpha),
                         TRIM(LogisticRegression(), n_remove=n_remove))


def _search(data, n_jobs):
    X, y, X_aux, y_aux, _, _ = data
    search = GridSearchCV(_trim_pipeline(X_aux, y_aux), GRID, scoring=SCORING,
                          refit="rest", cv=2, n_jobs=n_jobs)
    return search.fit(X, y)


@pytest.fixture(scope="module")
def search(data):
    return _search(data, n_jobs=1)


# --------------------------------------------------------------------- clone
def test_clone_pipeline(data):
    X, y, X_aux, y_aux, _, _ = data
    pipe = _trim_pipeline(X_aux, y_aux)
    pipe.fit(X, y)
    cloned = clone(pipe)
    assert type(cloned) is Pipeline
    assert cloned is not pipe
    assert cloned.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert repr(cloned) == repr(pipe)
    finder = cloned.named_steps["labelflip"].subpopulation
    assert finder is not pipe.named_steps["labelflip"].subpopulation
    original = pipe.named_steps["labelflip"].subpopulation
    assert finder.get_params() == original.get_params()
    # the clone is unfitted, the original untouched
    assert not hasattr(cloned.named_steps["labelflip"], "poison_mask_")
    assert not hasattr(cloned.named_steps["trim"], "estimator_")
    assert hasattr(pipe.named_steps["trim"], "estimator_")
    # aux (attacker data) is a parameter: it is carried over, not sliced
    X_aux_c, y_aux_c = cloned.named_steps["labelflip"].aux
    np.testing.assert_array_equal(X_aux_c, X_aux)
    np.testing.assert_array_equal(y_aux_c, y_aux)
    # and the clone refits to the same model
    np.testing.assert_array_equal(cloned.fit(X, y).predict(X), pipe.predict(X))


def test_clone_poisoned_estimator(data):
    X, y, X_aux, y_aux, _, _ = data
    model = PoisonedEstimator(_attack(X_aux, y_aux, alpha=2), LogisticRegression())
    model.fit(X, y)
    cloned = clone(model)
    assert repr(cloned) == repr(model)
    assert cloned.attack is not model.attack
    assert cloned.estimator is not model.estimator
    assert not hasattr(cloned, "attack_") and not hasattr(cloned, "estimator_")
    assert set(cloned.get_params()) >= {
        "attack__alpha", "attack__subpopulation__n_clusters", "estimator__C"}
    cloned.set_params(attack__alpha=0.5, attack__subpopulation__target=1)
    assert model.attack.alpha == 2
    assert model.attack.subpopulation.target is None
    # fit never touches the given attack: the fitted one is a clone
    assert model.attack_ is not model.attack
    assert not hasattr(model.attack, "poison_mask_")


# --------------------------------------------------------------- GridSearchCV
def test_grid_search_direction_of_effect(search):
    res = search.cv_results_
    assert len(res["params"]) == 16
    assert {"mean_test_target", "mean_test_rest", "rank_test_rest"} <= set(res)
    alpha = np.asarray(res["param_labelflip__alpha"], dtype=float)
    target = np.asarray(res["mean_test_target"])
    rest = np.asarray(res["mean_test_rest"])
    assert not np.isnan(target).any() and not np.isnan(rest).any()
    # pair each alpha=2 candidate with the alpha=0.5 one of the same settings
    others = ["param_labelflip__subpopulation__target",
              "param_labelflip__subpopulation__n_clusters", "param_trim__n_remove"]
    key = [tuple(res[k][i] for k in others) for i in range(len(alpha))]
    low = {key[i]: target[i] for i in range(len(alpha)) if alpha[i] == 0.5}
    high = {key[i]: target[i] for i in range(len(alpha)) if alpha[i] == 2}
    assert low.keys() == high.keys() and len(low) == 8
    for k in low:
        assert high[k] < low[k] - 0.5, (k, high[k], low[k])
    assert np.mean(list(low.values())) > 0.85
    assert np.mean(list(high.values())) < 0.25
    # the attack leaves the rest of the data alone on these blobs
    assert rest.min() > 0.95


def test_grid_search_refit(search, data):
    _, _, _, _, X_test, y_test = data
    res = search.cv_results_
    assert search.best_index_ == int(np.argmin(res["rank_test_rest"]))
    assert search.best_params_ == res["params"][search.best_index_]
    best = search.best_estimator_
    alpha = search.best_params_["labelflip__alpha"]
    assert best.named_steps["labelflip"].alpha == alpha
    assert hasattr(best.named_steps["trim"], "support_mask_")
    assert search.predict(X_test).shape == (X_test.shape[0],)
    assert target_accuracy_scorer(search, X_test, y_test) == \
        target_accuracy_scorer(best, X_test, y_test)


def test_grid_search_n_jobs_same_results(search, data):
    parallel = _search(data, n_jobs=2)
    keys = [k for k in search.cv_results_
            if k.startswith(("split", "mean_test", "std_test", "rank_test"))]
    assert len(keys) == 2 * 5  # 2 splits, mean, std, rank for 2 scorers
    for k in keys:
        np.testing.assert_array_equal(parallel.cv_results_[k], search.cv_results_[k],
                                      err_msg=k)
    assert parallel.cv_results_["params"] == search.cv_results_["params"]
    assert parallel.best_index_ == search.best_index_


# ------------------------------------------------------------ cross_validate
def test_cross_validate_matches_manual_folds(data):
    X, y, X_aux, y_aux, _, _ = data
    pipe = _trim_pipeline(X_aux, y_aux, alpha=2, n_remove=10)
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {**SCORING, "poison_removed": poison_removal_scorer,
               "clean_removed": clean_removal_scorer}
    out = cross_validate(pipe, X, y, cv=cv, scoring=scoring, return_estimator=True)
    for fold, (train, test) in enumerate(cv.split(X, y)):
        model = clone(pipe).fit(X[train], y[train])
        attack = model.named_steps["labelflip"]
        mask = attack.subpopulation_.membership(X[test])
        y_pred = model.predict(X[test])
        assert out["test_target"][fold] == np.mean(y_pred[mask] == y[test][mask])
        assert out["test_rest"][fold] == np.mean(y_pred[~mask] == y[test][~mask])
        support = model.named_steps["trim"].support_mask_
        poison = attack.poison_mask_
        assert out["test_poison_removed"][fold] == np.mean(~support[poison])
        assert out["test_clean_removed"][fold] == np.mean(~support[~poison])
        # poison count follows the training fold, not the full data
        fitted = out["estimator"][fold].named_steps["labelflip"]
        assert fitted.poison_mask_.shape[0] == len(train) + fitted.n_poison_
    assert np.all(out["test_target"] < 0.3)


# -------------------------------------------------------------------- pickle
def test_pickle_round_trip(data):
    X, y, X_aux, y_aux, X_test, y_test = data
    pipe = _trim_pipeline(X_aux, y_aux, alpha=2, n_remove=10).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X_test), pipe.predict(X_test))
    np.testing.assert_array_equal(restored.predict_proba(X_test),
                                  pipe.predict_proba(X_test))
    for scorer in SCORING.values():
        assert scorer(restored, X_test, y_test) == scorer(pipe, X_test, y_test)
    assert poison_removal_scorer(restored) == poison_removal_scorer(pipe)
    assert clean_removal_scorer(restored) == clean_removal_scorer(pipe)

    model = sk_make_pipeline(StandardScaler(), PoisonedEstimator(
        LabelFlip(ClusterMatch(n_clusters=3), alpha=2, random_state=0),
        LogisticRegression())).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_test), model.predict(X_test))
    assert target_accuracy_scorer(restored, X_test, y_test) == \
        target_accuracy_scorer(model, X_test, y_test)


# --------------------------------------------------- scikit-learn's Pipeline
def test_poisoned_estimator_in_sklearn_pipeline(data):
    X, y, _, _, X_test, y_test = data
    attack = LabelFlip(ClusterMatch(n_clusters=3), alpha=2, random_state=0)
    model = sk_make_pipeline(StandardScaler(),
                             PoisonedEstimator(attack, TRIM(LogisticRegression(),
                                                            n_remove=10)))
    assert isinstance(model, SkPipeline)
    model.fit(X, y)
    poisoned = model[-1]
    fitted_attack = poisoned.attack_
    n_poison = fitted_attack.n_poison_
    assert n_poison > 0
    assert fitted_attack.poison_mask_.shape == (X.shape[0] + n_poison,)
    assert poisoned.estimator_.support_mask_.shape == (X.shape[0] + n_poison,)
    assert poisoned.n_features_in_ == 2
    np.testing.assert_array_equal(model.classes_, [0, 1])
    # the attack saw the scaled rows: its finder was fitted on them
    scaled = model[0].transform(X)
    np.testing.assert_array_equal(
        fitted_attack.subpopulation_.membership(scaled).sum(),
        fitted_attack.n_subpopulation_)
    y_pred = model.predict(X_test)
    assert y_pred.shape == (X_test.shape[0],)
    assert model.predict_proba(X_test).shape == (X_test.shape[0], 2)
    mask = fitted_attack.subpopulation_.membership(model[0].transform(X_test))
    assert target_accuracy_scorer(model, X_test, y_test) == \
        np.mean(y_pred[mask] == y_test[mask])
    assert target_accuracy_scorer(model, X_test, y_test) < 0.3
    assert poison_removal_scorer(model) == \
        np.mean(~poisoned.estimator_.support_mask_[fitted_attack.poison_mask_])


def test_poisoned_estimator_tags():
    from sklearn.utils import get_tags

    model = PoisonedEstimator(LabelFlip(ClusterMatch()), LogisticRegression())
    tags = get_tags(model)
    assert tags.estimator_type == "classifier"
    # it lowers its own accuracy on purpose
    assert tags.classifier_tags.poor_score is True


# --------------------------------------------------------------------- guard
def _finder_steps(X):
    fitted = ClusterMatch(n_clusters=2, random_state=0).fit(X)
    return {"plain": ClusterMatch(n_clusters=2), "frozen": FrozenEstimator(fitted)}


@pytest.mark.parametrize("kind", ["plain", "frozen"])
def test_guard_detached_finder_before_attack(data, kind):
    X, y, *_ = data
    finder = _finder_steps(X)[kind]
    pipe = Pipeline([("f", finder),
                     ("a", LabelFlip(ClusterMatch(n_clusters=2), random_state=0)),
                     ("m", LogisticRegression())])
    with pytest.raises(ValueError, match="'f'.*finder.*'a'"):
        pipe.fit(X, y)
    # also with other steps between them, and from make_pipeline
    pipe = make_pipeline(finder, StandardScaler(),
                         LabelFlip(ClusterMatch(n_clusters=2), random_state=0),
                         LogisticRegression())
    name = "frozenestimator" if kind == "frozen" else "clustermatch"
    with pytest.raises(ValueError, match=f"'{name}'"):
        pipe.fit(X, y)


def test_guard_allows_finder_after_attack_or_without_attack(data):
    X, y, _, _, X_test, _ = data
    after = Pipeline([("a", LabelFlip(ClusterMatch(n_clusters=3), random_state=0)),
                      ("f", ClusterMatch(n_clusters=3, random_state=0)),
                      ("m", LogisticRegression())]).fit(X, y)
    assert after.predict(X_test).shape == (X_test.shape[0],)
    assert after.named_steps["f"].transform(X_test).shape == (X_test.shape[0], 3)
    alone = Pipeline([("f", ClusterMatch(n_clusters=3, random_state=0)),
                      ("m", LogisticRegression())]).fit(X, y)
    assert alone.predict(X_test).shape == (X_test.shape[0],)
    frozen_alone = make_pipeline(
        FrozenEstimator(ClusterMatch(n_clusters=3, random_state=0).fit(X)),
        LogisticRegression()).fit(X, y)
    assert frozen_alone.predict(X_test).shape == (X_test.shape[0],)


# ---------------------------------------------------- predict skips the attack
class _CountingLabelFlip(LabelFlip):
    calls = 0

    def fit_resample(self, X, y, **params):
        type(self).calls += 1
        return super().fit_resample(X, y, **params)


def test_predict_never_runs_the_attack(data):
    X, y, _, _, X_test, y_test = data
    _CountingLabelFlip.calls = 0
    attack = _CountingLabelFlip(ClusterMatch(n_clusters=3), alpha=2, random_state=0)
    for model in [make_pipeline(StandardScaler(), attack, KNeighborsClassifier()),
                  sk_make_pipeline(StandardScaler(),
                                   PoisonedEstimator(attack, KNeighborsClassifier()))]:
        _CountingLabelFlip.calls = 0
        model.fit(X, y)
        assert _CountingLabelFlip.calls == 1
        assert model.predict(X_test).shape == (X_test.shape[0],)
        assert model.predict_proba(X_test).shape == (X_test.shape[0], 2)
        model.score(X_test, y_test)
        target_accuracy_scorer(model, X_test, y_test)
        assert _CountingLabelFlip.calls == 1
        # predicting on the training rows returns one label per row, no poison
        assert model.predict(X).shape == (X.shape[0],)


# ------------------------------------------------- the caller's data is safe
@pytest.mark.parametrize("as_frame", [False, True])
def test_caller_data_unchanged(data, as_frame):
    X, y, X_aux, y_aux, X_test, y_test = data
    X, y, X_aux, y_aux, X_test = (a.copy() for a in (X, y, X_aux, y_aux, X_test))
    if as_frame:
        X = pd.DataFrame(X, columns=["a", "b"], index=np.arange(len(X)) + 500)
        X_test = pd.DataFrame(X_test, columns=["a", "b"])
        y = pd.Series(y, index=X.index)
        X_aux = pd.DataFrame(X_aux, columns=["a", "b"])
    copies = [a.copy() for a in (X, y, X_aux, y_aux, X_test)]
    models = [
        _trim_pipeline(X_aux, y_aux, alpha=2, n_remove=10),
        make_pipeline(StandardScaler(),
                      LabelFlip(ClusterMatch(n_clusters=3), alpha=2, random_state=0),
                      KNeighborsClassifier()),
        sk_make_pipeline(StandardScaler(), PoisonedEstimator(
            LabelFlip(ClusterMatch(n_clusters=3), alpha=2, random_state=0),
            TRIM(LogisticRegression(), n_remove=10))),
    ]
    for model in models:
        model.fit(X, y)
        model.predict(X_test)
        model.predict_proba(X_test)
        target_accuracy_scorer(model, X_test, y_test)
    for a, b in zip((X, y, X_aux, y_aux, X_test), copies):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        elif isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b)
        else:
            np.testing.assert_array_equal(a, b)
    # the aux arrays inside the attack are the caller's, unchanged
    assert models[0].named_steps["labelflip"].aux[0] is X_aux


# ------------------------------- the finder as a step: bound to the attack
def _bound(alpha=2, n_clusters=3, target=None, attack=LabelFlip, **kw):
    return Pipeline([ClusterMatch(n_clusters=n_clusters, target=target),
                     attack(alpha=alpha, random_state=0, **kw),
                     TRIM(LogisticRegression(), n_remove=5)])


def _nested(alpha=2, n_clusters=3, target=None, attack=LabelFlip, **kw):
    return make_pipeline(
        attack(ClusterMatch(n_clusters=n_clusters, target=target), alpha=alpha,
               random_state=0, **kw),
        TRIM(LogisticRegression(), n_remove=5))


def test_bare_steps_are_named_as_make_pipeline_names_them():
    steps = [ClusterMatch(), LabelFlip(alpha=1), TRIM(LogisticRegression())]
    pipe = Pipeline(steps)
    assert [n for n, _ in pipe.steps] == ["clustermatch", "labelflip", "trim"]
    assert [n for n, _ in make_pipeline(*steps).steps] == [n for n, _ in pipe.steps]
    assert all(a is b for (_, a), b in zip(pipe.steps, steps))
    # pairs and bare estimators mix; a list of pairs is kept as given (clone)
    mixed = Pipeline([("f", ClusterMatch()), LabelFlip(), ("m", LogisticRegression())])
    assert [n for n, _ in mixed.steps] == ["f", "labelflip", "m"]
    pairs = [("f", ClusterMatch()), ("m", LogisticRegression())]
    assert Pipeline(pairs).steps is pairs
    assert type(clone(pipe)) is Pipeline
    assert [n for n, _ in clone(pipe).steps] == ["clustermatch", "labelflip", "trim"]
    # set_params(steps=...) names bare estimators too
    mixed.set_params(steps=[ClusterMatch(), LabelFlip(), LogisticRegression()])
    assert [n for n, _ in mixed.steps] == ["clustermatch", "labelflip",
                                           "logisticregression"]
    # a pipeline pickled by an earlier release (steps in its __dict__) loads
    old = Pipeline.__new__(Pipeline)
    old.__setstate__({"steps": pairs, "memory": None, "verbose": False,
                      "transform_input": None})
    assert old.steps is pairs and repr(old) == repr(Pipeline(pairs))
    # repeated classes are numbered, as make_pipeline does
    twice = Pipeline([StandardScaler(), StandardScaler(), LogisticRegression()])
    assert [n for n, _ in twice.steps] == ["standardscaler-1", "standardscaler-2",
                                           "logisticregression"]


@pytest.mark.parametrize("target", [0, 1, 2])
def test_bound_finder_is_the_nested_finder(data, target):
    # the bound form and the nested form make the same poisons and the same model
    X, y, _, _, X_test, y_test = data
    bound, nested = _bound(target=target).fit(X, y), _nested(target=target).fit(X, y)
    a, b = bound.named_steps["labelflip"], nested.named_steps["labelflip"]
    assert a.n_poison_ == b.n_poison_ > 0
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    np.testing.assert_array_equal(a.poison_mask_, b.poison_mask_)
    assert a.subpopulation_.get_params() == b.subpopulation_.get_params()
    np.testing.assert_array_equal(bound.predict(X_test), nested.predict(X_test))
    for scorer in (*SCORING.values(), poison_removal_scorer):
        assert scorer(bound, X_test, y_test) == scorer(nested, X_test, y_test)
    # the victim saw the 2 features, not the finder's 3 indicators
    assert bound.named_steps["trim"].n_features_in_ == 2
    assert bound.n_features_in_ == 2
    # the attack given is untouched: the fitted one is a bound clone
    assert target_accuracy_scorer(bound, X_test, y_test) < 0.3


def test_bound_gradient_poison_is_the_nested_one(data):
    from skpoison.attacks import GradientPoison

    X, y, _, _, X_test, _ = data
    kw = {"attack": GradientPoison, "target": 1, "n_iter": 3, "eps": 0.5}
    bound, nested = _bound(**kw).fit(X, y), _nested(**kw).fit(X, y)
    a, b = bound.named_steps["gradientpoison"], nested.named_steps["gradientpoison"]
    X_a, _ = clone(a).set_params(subpopulation=ClusterMatch(
        n_clusters=3, target=1)).fit_resample(X, y)
    np.testing.assert_array_equal(a.objective_, b.objective_)
    np.testing.assert_array_equal(bound.predict(X_test), nested.predict(X_test))
    assert X_a.shape[0] == X.shape[0] + a.n_poison_


def test_bound_form_params_reach_the_finder_and_leave_the_steps_alone(data):
    X, y, *_ = data
    finder, attack = ClusterMatch(n_clusters=3), LabelFlip(alpha=2, random_state=0)
    pipe = Pipeline([finder, attack, LogisticRegression()])
    assert {"clustermatch__n_clusters", "labelflip__alpha",
            "labelflip__subpopulation"} <= set(pipe.get_params())
    pipe.set_params(clustermatch__n_clusters=2, clustermatch__target="smallest",
                    labelflip__alpha=1)
    pipe.fit(X, y)
    fitted = pipe.named_steps["labelflip"]
    assert fitted is not attack and fitted.subpopulation_.n_clusters == 2
    assert fitted.alpha == 1
    finder_ = fitted.subpopulation_
    assert fitted.n_poison_ == finder_.sizes_[finder_.target_]
    # the steps given keep their parameters and stay unfitted
    assert attack.subpopulation is None and attack.alpha == 1
    assert not hasattr(attack, "poison_mask_")
    assert not hasattr(finder, "subpopulations_")
    assert pipe.get_params()["labelflip__subpopulation"] is None
    # refitting after set_params rebinds the current finder step
    pipe.set_params(clustermatch__n_clusters=3).fit(X, y)
    assert pipe.named_steps["labelflip"].subpopulation_.n_clusters == 3
    # clone and pickle of the fitted bound pipeline
    cloned = clone(pipe)
    assert repr(cloned) == repr(pipe)
    assert cloned.get_params()["labelflip__subpopulation"] is None
    np.testing.assert_array_equal(cloned.fit(X, y).predict(X), pipe.predict(X))
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))
    assert target_accuracy_scorer(restored, X, y) == target_accuracy_scorer(pipe, X, y)


def test_bound_form_grid_search_matches_the_nested_form(data):
    # the design card's grid, over the finder step's and the attack's params
    X, y, *_ = data
    grid = {"clustermatch__n_clusters": [2, 3], "clustermatch__target": [0, 1],
            "labelflip__alpha": [0.5, 2]}
    nested_grid = {"labelflip__subpopulation__n_clusters": [2, 3],
                   "labelflip__subpopulation__target": [0, 1],
                   "labelflip__alpha": [0.5, 2]}
    bound = GridSearchCV(_bound(), grid, scoring=SCORING, refit="target", cv=2)
    nested = GridSearchCV(_nested(), nested_grid, scoring=SCORING, refit="target",
                          cv=2)
    bound.fit(X, y)
    nested.fit(X, y)

    def by_setting(search, prefix):
        res = search.cv_results_
        return {(p[f"{prefix}n_clusters"], p[f"{prefix}target"], p["labelflip__alpha"]):
                (res["mean_test_target"][i], res["mean_test_rest"][i],
                 res["split0_test_target"][i])
                for i, p in enumerate(res["params"])}

    assert by_setting(bound, "clustermatch__") == \
        by_setting(nested, "labelflip__subpopulation__")
    assert bound.best_score_ == nested.best_score_
    best = bound.best_estimator_.named_steps["labelflip"]
    assert best.subpopulation_.n_clusters == \
        bound.best_params_["clustermatch__n_clusters"]
    # alpha=2 damages the target (direction of effect)
    alpha = np.asarray(bound.cv_results_["param_labelflip__alpha"], dtype=float)
    target = bound.cv_results_["mean_test_target"]
    assert target[alpha == 2].mean() < target[alpha == 0.5].mean() - 0.3


def test_bound_form_cross_validate_and_memory(data, tmp_path):
    X, y, *_ = data
    cv = KFold(2, shuffle=True, random_state=0)
    scoring = {**SCORING, "poison_removed": poison_removal_scorer}
    out = cross_validate(_bound(target=1), X, y, cv=cv, scoring=scoring)
    ref = cross_validate(_nested(target=1), X, y, cv=cv, scoring=scoring)
    for k in ("test_target", "test_rest", "test_poison_removed"):
        np.testing.assert_array_equal(out[k], ref[k])
    # with a cache the pipeline clones its steps: the binding survives it
    cached = _bound(target=1).set_params(memory=str(tmp_path)).fit(X, y)
    plain = _bound(target=1).fit(X, y)
    np.testing.assert_array_equal(cached.named_steps["labelflip"].poison_mask_,
                                  plain.named_steps["labelflip"].poison_mask_)
    np.testing.assert_array_equal(cached.predict(X), plain.predict(X))


def test_bound_form_in_poisoned_estimator(data):
    X, y, _, _, X_test, y_test = data
    attack = make_pipeline(ClusterMatch(n_clusters=3, target=1),
                           LabelFlip(alpha=2, random_state=0))
    model = PoisonedEstimator(attack, LogisticRegression()).fit(X, y)
    ref = PoisonedEstimator(LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2,
                                      random_state=0), LogisticRegression()).fit(X, y)
    assert model.n_features_in_ == 2
    np.testing.assert_array_equal(model.predict(X_test), ref.predict(X_test))
    assert target_accuracy_scorer(model, X_test, y_test) == \
        target_accuracy_scorer(ref, X_test, y_test)
    assert "attack__clustermatch__n_clusters" in model.get_params()


def test_attack_without_finder_is_a_clear_error(data):
    X, y, *_ = data
    for model in (make_pipeline(LabelFlip(), LogisticRegression()),
                  make_pipeline(StandardScaler(), LabelFlip(), LogisticRegression()),
                  PoisonedEstimator(LabelFlip(), LogisticRegression())):
        with pytest.raises(ValueError, match=(
                r"LabelFlip has no subpopulation finder.*first parameter.*"
                r"step right before it")):
            model.fit(X, y)
    with pytest.raises(ValueError, match="no subpopulation finder"):
        LabelFlip().fit_resample(X, y)


def test_finder_step_not_right_before_its_attack_is_an_error(data):
    X, y, *_ = data
    pipe = make_pipeline(ClusterMatch(), StandardScaler(), LabelFlip(),
                         LogisticRegression())
    with pytest.raises(ValueError, match="'labelflip' does not come right after.*"
                                         "'standardscaler' is between"):
        pipe.fit(X, y)
    # a step set to passthrough between them does not count
    pipe.set_params(standardscaler="passthrough").fit(X, y)
    assert pipe.named_steps["labelflip"].n_poison_ > 0


# ------------------------------------- aux goes through the steps before it
@pytest.mark.parametrize("bound", [False, True])
def test_aux_after_a_transformer_takes_the_steps_before_the_attack(data, bound):
    X, y, X_aux, y_aux, X_test, y_test = data
    # raw rows far from the scaled ones: raw aux against scaled rows would
    # put no received row in the target
    X, X_aux, X_test = X + 100.0, X_aux + 100.0, X_test + 100.0
    attack = LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2,
                       aux=(X_aux, y_aux), random_state=0)
    if bound:
        attack.set_params(subpopulation=None)
        steps = [StandardScaler(), ClusterMatch(n_clusters=3, target=1), attack,
                 LogisticRegression()]
        name = "labelflip"
    else:
        steps = [("scale", StandardScaler()), ("attack", attack),
                 ("victim", LogisticRegression())]
        name = "attack"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipe = Pipeline(steps).fit(X, y)
    fitted = pipe.named_steps[name]
    # reference: the attack on rows (and aux) scaled by hand
    scaler = StandardScaler().fit(X)
    ref = LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2,
                    aux=(scaler.transform(X_aux), y_aux), random_state=0)
    ref.fit_resample(scaler.transform(X), y)
    assert fitted.n_poison_ == ref.n_poison_ > 0
    np.testing.assert_array_equal(fitted.sample_indices_, ref.sample_indices_)
    assert target_accuracy_scorer(pipe, X_test, y_test) < 0.3
    # the attack given keeps the caller's aux, untransformed
    assert attack.aux[0] is X_aux
    np.testing.assert_array_equal(fitted.aux[0], X_aux)


def test_zero_poisons_from_aux_in_another_representation_is_not_silent(data):
    # PoisonedEstimator cannot see the scaler before it: the attacker's raw
    # rows put none of the received (scaled) rows in the target
    X, y, X_aux, y_aux, *_ = data
    X, X_aux = X + 100.0, X_aux + 100.0
    attack = LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2,
                       aux=(X_aux, y_aux), random_state=0)
    model = sk_make_pipeline(StandardScaler(),
                             PoisonedEstimator(attack, LogisticRegression()))
    with pytest.warns(UserWarning, match=r"None of the 180 rows received.*"
                                         r"X_aux must be in the representation"):
        model.fit(X, y)
    assert model[-1].attack_.n_poison_ == 0


def test_frozen_finder_step_is_used_as_is(data):
    # a finder the attacker fitted on its own rows, frozen, as a step
    X, y, X_aux, y_aux, X_test, _ = data
    finder = ClusterMatch(n_clusters=3, target=2, random_state=0).fit(X_aux)
    bound = make_pipeline(FrozenEstimator(finder),
                          LabelFlip(alpha=2, aux=(X_aux, y_aux), random_state=0),
                          LogisticRegression()).fit(X, y)
    nested = make_pipeline(LabelFlip(FrozenEstimator(finder), alpha=2,
                                     aux=(X_aux, y_aux), random_state=0),
                           LogisticRegression()).fit(X, y)
    a, b = bound.named_steps["labelflip"], nested.named_steps["labelflip"]
    assert a.subpopulation_.estimator is finder is b.subpopulation_.estimator
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    np.testing.assert_array_equal(bound.predict(X_test), nested.predict(X_test))


# ------------------------- a hostile user's round on the bound form
def _attack_kinds():
    from skpoison.attacks import GradientPoison, InfluencePoison, ModelTargetedPoison

    return {
        "labelflip": lambda f=None: LabelFlip(f, alpha=1, random_state=0),
        "gradientpoison": lambda f=None: GradientPoison(f, alpha=1, n_iter=2,
                                                        random_state=0),
        "influencepoison": lambda f=None: InfluencePoison(f, alpha=1, n_iter=2,
                                                          random_state=0),
        "modeltargetedpoison": lambda f=None: ModelTargetedPoison(
            f, target_error=0.1, max_poisons=20, random_state=0),
    }


@pytest.mark.parametrize("kind", ["labelflip", "gradientpoison", "influencepoison",
                                  "modeltargetedpoison"])
def test_every_attack_bound_then_refit_alone_has_no_finder(data, kind):
    # A fitted attack taken out of its pipeline used to keep the finder step
    # it was bound to (a hidden attribute, not a parameter): refitting it
    # alone, in another pipeline or as pipe[1:] silently reused that finder
    # while get_params said subpopulation=None.
    X, y, _, _, X_test, y_test = data
    X, y = X[::2], y[::2]
    make = _attack_kinds()[kind]
    finder, attack = ClusterMatch(n_clusters=3, target=1), make()
    finder_params, attack_params = finder.get_params(), attack.get_params()
    bound = Pipeline([finder, attack, LogisticRegression()]).fit(X, y)
    nested = make_pipeline(make(ClusterMatch(n_clusters=3, target=1)),
                           LogisticRegression()).fit(X, y)
    a, b = bound.named_steps[kind], nested.named_steps[kind]
    assert a.n_poison_ == b.n_poison_ > 0
    np.testing.assert_array_equal(a.poison_mask_, b.poison_mask_)
    np.testing.assert_array_equal(bound.predict(X_test), nested.predict(X_test))
    assert target_accuracy_scorer(bound, X_test, y_test) == \
        target_accuracy_scorer(nested, X_test, y_test)
    # the fitted finder is the step's finder, fitted with the step's params
    fitted_finder = a.subpopulation_
    assert hasattr(fitted_finder, "subpopulations_")
    assert {k: v for k, v in fitted_finder.get_params().items()
            if k != "random_state"} == \
        {k: v for k, v in finder_params.items() if k != "random_state"}
    # the caller's instances: same parameters, nothing fitted
    assert finder.get_params() == finder_params and attack.get_params() == attack_params
    assert not [k for k in vars(finder) if k.endswith("_")]
    assert not [k for k in vars(attack) if k.endswith("_") or k.startswith("_")]
    # the fitted attack holds no binding: its parameters say it has no finder
    assert not [k for k in vars(a) if k.startswith("_bound") or k == "_pipeline_aux"]
    for refit in (lambda: a.fit_resample(X, y),
                  lambda: make_pipeline(a, LogisticRegression()).fit(X, y),
                  lambda: bound[1:].fit(X, y)):
        with pytest.raises(ValueError, match="has no subpopulation finder"):
            refit()
    # and the pipeline itself refits (rebinding the step) to the same result
    np.testing.assert_array_equal(bound.fit(X, y).predict(X_test),
                                  nested.predict(X_test))


def test_new_aux_after_fit_is_the_one_used(data):
    # The aux transformed by the steps before the attack used to stay on the
    # fitted attack: set_params(aux=...) then a refit drew from the old rows.
    X, y, X_aux, y_aux, *_ = data
    pipe = Pipeline([StandardScaler(), ClusterMatch(n_clusters=3, target=1),
                     LabelFlip(alpha=2, aux=(X_aux, y_aux), random_state=0),
                     LogisticRegression()]).fit(X, y)
    fitted = pipe.named_steps["labelflip"]
    assert fitted.sample_indices_.max() >= 60  # drawn from the 180 aux rows
    nested = LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2,
                       aux=(X_aux, y_aux), random_state=0)
    fitted = Pipeline([StandardScaler(), nested, LogisticRegression()]).fit(X, y)[1]
    small = (X_aux[:60], y_aux[:60])
    fitted.set_params(aux=small).fit_resample(X, y)
    ref = LabelFlip(ClusterMatch(n_clusters=3, target=1), alpha=2, aux=small,
                    random_state=0).fit(X, y)
    assert fitted.sample_indices_.max() < 60
    np.testing.assert_array_equal(fitted.sample_indices_, ref.sample_indices_)


def test_poisoned_estimator_refuses_a_transformer_inside_its_attack(data):
    # fit_resample of such a pipeline hands the victim transformed rows while
    # predict gives it the raw ones: a silently wrong model before
    X, y, *_ = data
    attack = make_pipeline(StandardScaler(), ClusterMatch(n_clusters=3, target=1),
                           LabelFlip(alpha=1, random_state=0))
    model = PoisonedEstimator(attack, LogisticRegression())
    with pytest.raises(ValueError, match=r"attack pipeline's step 'standardscaler'.*"
                                         r"transforms the rows.*before "
                                         r"PoisonedEstimator"):
        model.fit(X + 100, y)
    # the transformer outside, the bound finder inside: accepted, as the
    # equivalent skpoison pipeline
    attack.set_params(standardscaler="passthrough")
    outside = sk_make_pipeline(StandardScaler(), model).fit(X + 100, y)
    ref = make_pipeline(StandardScaler(), ClusterMatch(n_clusters=3, target=1),
                        LabelFlip(alpha=1, random_state=0),
                        LogisticRegression()).fit(X + 100, y)
    np.testing.assert_array_equal(outside.predict(X + 100), ref.predict(X + 100))


def test_bound_form_errors_name_the_step_and_the_fix(data):
    from imblearn.pipeline import make_pipeline as imb_make_pipeline

    from skpoison.attacks import ModelTargetedPoison
    from skpoison.subpopulations import FeatureMatch

    X, y, *_ = data
    # a frozen finder step that was never fitted: the step, not "subpopulation"
    with pytest.raises(Exception, match="the finder step 'frozenestimator' is a "
                                        "FrozenEstimator.*not fitted"):
        make_pipeline(FrozenEstimator(ClusterMatch(n_clusters=3)), LabelFlip(),
                      LogisticRegression()).fit(X, y)
    # two finder steps in a row: not "put it right before the attack"
    with pytest.raises(ValueError, match="'clustermatch-1' and 'clustermatch-2' are "
                                         "both subpopulation finders.*Remove one"):
        make_pipeline(ClusterMatch(2), ClusterMatch(3), LabelFlip(),
                      LogisticRegression()).fit(X, y)
    # a finder step, another step, an attack with a finder: remove the step
    with pytest.raises(ValueError, match="finder of its own, so remove step "
                                         "'clustermatch'"):
        make_pipeline(ClusterMatch(3), StandardScaler(), LabelFlip(ClusterMatch(3)),
                      LogisticRegression()).fit(X, y)
    # the advice names only parameters the attack has (no alpha here)
    with pytest.raises(ValueError, match=r"ambiguous.*ModelTargetedPoison\(\.\.\.\), "
                                         "victim"):
        make_pipeline(ClusterMatch(3), ModelTargetedPoison(ClusterMatch(3)),
                      LogisticRegression()).fit(X, y)
    # imbalanced-learn's pipeline (and PoisonedEstimator) bind nothing: say so
    for model in (imb_make_pipeline(ClusterMatch(3), LabelFlip(), LogisticRegression()),
                  sk_make_pipeline(ClusterMatch(3), PoisonedEstimator(
                      LabelFlip(), LogisticRegression()))):
        with pytest.raises(ValueError, match="skpoison Pipeline.*imbalanced-learn's.*"
                                             "PoisonedEstimator do not bind"):
            model.fit(X, y)
    # a target with no row: which parameter to change, in the bound form
    X_aux = np.repeat([[0.0], [1.0], [2.0]], [10, 10, 3], axis=0)
    finder = FeatureMatch([0], target="smallest").fit(X_aux)
    rows, labels = np.repeat([[0.0], [1.0]], 10, axis=0), np.arange(20) % 2
    with pytest.raises(ValueError, match="Choose another target of the frozen finder "
                                         "step 'frozenestimator'"):
        make_pipeline(FrozenEstimator(finder), LabelFlip(),
                      LogisticRegression()).fit(rows, labels)
    with pytest.raises(ValueError, match=r"Choose another subpopulation\.target"):
        LabelFlip(FrozenEstimator(finder)).fit(rows, labels)


def test_finder_step_before_a_poisoned_estimator_is_an_error(data):
    # PoisonedEstimator binds no finder step: with a finder of its own, its
    # attack silently clustered the finder step's membership indicators
    X, y, *_ = data
    inner = PoisonedEstimator(LabelFlip(ClusterMatch(n_clusters=3), random_state=0),
                              LogisticRegression())
    for steps in ([ClusterMatch(n_clusters=3), inner],
                  [ClusterMatch(n_clusters=3), StandardScaler(), inner]):
        with pytest.raises(ValueError, match=r"'clustermatch' is a subpopulation "
                                             r"finder before 'poisonedestimator'.*"
                                             r"does not bind.*remove the step"):
            Pipeline(steps).fit(X, y)
    # without a finder step it composes as before
    assert Pipeline([StandardScaler(), inner]).fit(X, y)[-1].attack_.n_poison_ > 0


def test_attack_set_to_passthrough_leaves_the_clean_victim(data):
    # The clean baseline of a grid ({"labelflip": ["passthrough", ...]}): the
    # finder step used to become an ordinary transformer, so the "clean"
    # victim was silently fitted on the finder's 3 membership indicators.
    X, y, _, _, X_test, y_test = data
    pipe = _bound(target=1)
    for off in ("passthrough", None):
        clean = clone(pipe).set_params(labelflip=off).fit(X, y)
        assert clean[-1].n_features_in_ == 2
        ref = TRIM(LogisticRegression(), n_remove=5).fit(X, y)
        np.testing.assert_array_equal(clean.predict(X_test), ref.predict(X_test))
    search = GridSearchCV(pipe, {"labelflip": ["passthrough", LabelFlip(
        alpha=2, random_state=0)]}, cv=KFold(2, shuffle=True, random_state=0))
    search.fit(X, y)
    clean_score, poisoned_score = search.cv_results_["mean_test_score"]
    assert clean_score > 0.95 > poisoned_score
    # a finder step with no disabled step after it stays a transformer
    features = make_pipeline(ClusterMatch(n_clusters=3, random_state=0),
                             LogisticRegression()).fit(X, y)
    assert features[-1].n_features_in_ == 3


def test_bound_form_model_selection_parallel_multiclass(data):
    # the design card's line in GridSearchCV and cross_val_predict, 3 classes,
    # the subpopulation and poison-removal scorers, loky workers: the same
    # numbers as in one process
    from sklearn.model_selection import cross_val_predict

    X, y, *_ = data
    y = np.where(X[:, 0] < 0, 0, np.where(X[:, 1] < 0, 1, 2))  # one per blob
    assert np.unique(y).size == 3
    pipe = Pipeline([ClusterMatch(n_clusters=3, target=0),
                     GradientPoisonSmall(), TRIM(LogisticRegression(), n_remove=5)])
    grid = {"clustermatch__n_clusters": [2, 3], "gradientpoison__alpha": [1]}
    scoring = {**SCORING, "poison_removed": poison_removal_scorer,
               "clean_removed": clean_removal_scorer}
    cv = KFold(2, shuffle=True, random_state=0)
    runs = [GridSearchCV(pipe, grid, scoring=scoring, refit="target", cv=cv,
                         n_jobs=n_jobs).fit(X, y) for n_jobs in (1, 2)]
    for key in ("mean_test_target", "mean_test_rest", "mean_test_poison_removed",
                "mean_test_clean_removed"):
        assert not np.isnan(runs[0].cv_results_[key]).any(), key
        np.testing.assert_array_equal(runs[0].cv_results_[key],
                                      runs[1].cv_results_[key], err_msg=key)
    best = runs[1].best_estimator_.named_steps["gradientpoison"]
    assert best.subpopulation_.n_clusters == \
        runs[1].best_params_["clustermatch__n_clusters"]
    proba = [cross_val_predict(pipe, X, y, cv=cv, n_jobs=n_jobs,
                               method="predict_proba") for n_jobs in (1, 2)]
    assert proba[0].shape == (X.shape[0], 3)
    np.testing.assert_array_equal(proba[0], proba[1])


def GradientPoisonSmall():
    from skpoison.attacks import GradientPoison

    return GradientPoison(alpha=1, n_iter=2, random_state=0)


def test_bound_form_on_a_frame_with_strings_and_missing_values():
    # FeatureMatch as the step, LabelFlip copying rows of any type, a
    # ColumnTransformer victim, pandas output, pickled and unpickled
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    from skpoison.subpopulations import FeatureMatch

    rng = np.random.RandomState(0)
    n = 120
    frame = pd.DataFrame({"job": rng.choice(["a", "b", None], n).astype(object),
                          "sex": rng.choice(["m", "f"], n),
                          "age": rng.normal(40, 10, n)})
    frame.loc[::7, "age"] = np.nan
    y = np.where(frame["job"].isna(), 1, (frame["age"].fillna(40) > 40).astype(int))
    copy = frame.copy()
    victim = sk_make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["job", "sex"]),
        (sk_make_pipeline(SimpleImputer(), StandardScaler()), ["age"])),
        LogisticRegression())
    finder = FeatureMatch(["job"], target="largest")
    pipe = Pipeline([finder, LabelFlip(alpha=1, random_state=0), victim])
    pipe.set_output(transform="pandas").fit(frame, y)
    pd.testing.assert_frame_equal(frame, copy)
    attack = pipe.named_steps["labelflip"]
    mask = attack.subpopulation_.membership(frame)
    assert attack.n_poison_ == mask.sum() > 0
    np.testing.assert_array_equal(pipe.feature_names_in_, ["job", "sex", "age"])
    y_pred = pipe.predict(frame)
    assert target_accuracy_scorer(pipe, frame, y) == np.mean(y_pred[mask] == y[mask])
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(frame), y_pred)
    assert target_accuracy_scorer(restored, frame, y) == \
        target_accuracy_scorer(pipe, frame, y)
    assert not hasattr(finder, "subpopulations_")


def test_nested_finder_keys_on_the_bound_form_name_the_step_key(data):
    # the nested form's grid keys on the bound form used to fail with
    # "AttributeError: 'NoneType' object has no attribute 'set_params'"
    X, y, *_ = data
    pipe = _bound()
    with pytest.raises(ValueError, match=r"'labelflip__subpopulation__target'.*"
                                         r"step 'clustermatch'.*Set "
                                         r"clustermatch__target instead"):
        GridSearchCV(pipe, {"labelflip__subpopulation__target": [0, 1]}).fit(X, y)
    with pytest.raises(ValueError, match=r"'subpopulation__n_clusters' for LabelFlip.*"
                                         r"clustermatch__n_clusters.*"
                                         r"LabelFlip\(ClusterMatch"):
        LabelFlip().set_params(subpopulation__n_clusters=2)
    # setting the finder and its parameters in one call stays valid
    attack = LabelFlip().set_params(subpopulation=ClusterMatch(),
                                    subpopulation__n_clusters=2)
    assert attack.subpopulation.n_clusters == 2
    assert pipe.set_params(clustermatch__target=1).steps[0][1].target == 1


def test_fit_params_for_a_bound_finder_step_are_refused(data):
    # they were silently dropped (an ordinary step would have refused them)
    X, y, *_ = data
    with pytest.raises(ValueError, match=r"Fit parameters \['sample_weight'\] were "
                                         r"given to step 'clustermatch', a finder "
                                         r"bound"):
        _bound().fit(X, y, clustermatch__sample_weight=np.ones(len(y)))
    # parameters for the victim still reach it
    pipe = Pipeline([ClusterMatch(n_clusters=3, target=1),
                     LabelFlip(alpha=0, random_state=0), LogisticRegression()])
    pipe.fit(X, y, logisticregression__sample_weight=np.ones(len(y)))
    assert pipe.named_steps["labelflip"].n_poison_ == 0


def test_finder_then_final_passthrough_is_still_a_transformer(data):
    X, y, *_ = data
    pipe = Pipeline([ClusterMatch(n_clusters=3, random_state=0), "passthrough"])
    assert pipe.fit_transform(X, y).shape == (X.shape[0], 3)


def test_sklearn_pipeline_with_the_bound_line_is_an_error_not_a_no_op(data):
    # scikit-learn's Pipeline binds nothing: it refuses a sampler as an
    # intermediate step, and an attack as its last step receives the finder's
    # indicators and no finder, which the attack's error explains
    X, y, *_ = data
    with pytest.raises(TypeError, match="LabelFlip"):
        sk_make_pipeline(ClusterMatch(3), LabelFlip(alpha=1),
                         LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="scikit-learn's pipelines.*do not bind"):
        sk_make_pipeline(StandardScaler(), ClusterMatch(3), LabelFlip(alpha=1)).fit(X, y)
