"""Tests for skpoison.metrics.certified_fraction."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skpoison.attacks import LabelFlip
from skpoison.defenses import LabelFlipCertifier, PartitionAggregation
from skpoison.metrics import certified_fraction, certified_radius_vs_poison
from skpoison.pipeline import make_pipeline as imb_make_pipeline
from skpoison.subpopulations import ClusterMatch

Y = np.array([0, 0, 1, 1, 1, 0])
Y_PRED = np.array([0, 1, 1, 1, 0, 0])
RADIUS = np.array([4, 9, 1, 2, 0, 7])
MASK = np.array([True, True, True, True, False, False])


def _data(seed=0, n=200):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal(-2, 1, (n, 2)), rng.normal(2, 1, (n, 2))])
    return X, np.repeat([0, 1], n)


def test_hand_computed():
    r = certified_fraction((Y_PRED, RADIUS), None, Y, MASK, 2)
    # target rows: radii 4, 9, 1, 2 -> 3 of 4 reach 2; correct: rows 0, 2, 3
    assert r.certified_fraction == 0.75
    assert r.certified_accuracy == 0.5  # rows 0 and 3
    assert r.accuracy == 0.75
    assert r.median_radius == 3.0
    assert (r.n_target, r.n_insertions) == (4, 2)
    r0 = certified_fraction((Y_PRED, RADIUS), None, Y, MASK, 0)
    assert r0.certified_fraction == 1.0
    assert r0.certified_accuracy == r0.accuracy


def test_several_budgets_at_once():
    r = certified_fraction((Y_PRED, RADIUS), None, Y, MASK, [0, 2, 5, 10])
    np.testing.assert_allclose(r.certified_fraction, [1.0, 0.75, 0.25, 0.0])
    np.testing.assert_allclose(r.certified_accuracy, [0.75, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(r.n_insertions, [0, 2, 5, 10])


def test_with_a_fitted_defense_matches_its_certify():
    X, y = _data()
    pa = PartitionAggregation(LogisticRegression(), n_partitions=10).fit(X, y)
    X_test, y_test = _data(seed=1, n=50)
    mask = X_test[:, 0] < -1
    y_pred, radius = pa.certify(X_test)
    expected = certified_fraction((y_pred, radius), None, y_test, mask, 3)
    got = certified_fraction(pa, X_test, y_test, mask, 3)
    assert got == expected
    assert got.certified_fraction == pytest.approx(np.mean(radius[mask] >= 3))
    # DataFrames and label-flip certificates too
    frame = pd.DataFrame(X_test)
    pa_frame = PartitionAggregation(LogisticRegression(), n_partitions=10).fit(
        pd.DataFrame(X), y)
    assert certified_fraction(pa_frame, frame, y_test, mask, 3) == expected
    cert = LabelFlipCertifier(q=0.0).fit(X, y)
    r = certified_fraction(cert, X_test, y_test, mask, 3)
    assert r.certified_fraction == pytest.approx(np.mean(cert.certified_radius(X_test)[mask] >= 3))


def test_looks_through_pipelines_and_searches():
    X, y = _data()
    X_test, y_test = _data(seed=1, n=50)
    mask = X_test[:, 1] > 0
    shift = FunctionTransformer(lambda Z: Z - 1.0)
    pipe = make_pipeline(shift, PartitionAggregation(LogisticRegression(),
                                                     n_partitions=5)).fit(X, y)
    direct = PartitionAggregation(LogisticRegression(), n_partitions=5).fit(X - 1.0, y)
    expected = certified_fraction(direct, X_test - 1.0, y_test, mask, 1)
    assert certified_fraction(pipe, X_test, y_test, mask, 1) == expected
    search = GridSearchCV(pipe, {"partitionaggregation__n_partitions": [5]}, cv=2)
    search.fit(X, y)
    assert certified_fraction(search, X_test, y_test, mask, 1) == expected
    # an attack in an imbalanced-learn pipeline does nothing at prediction time
    attacked = imb_make_pipeline(
        LabelFlip(ClusterMatch(n_clusters=3, random_state=0), alpha=0.5, random_state=0),
        PartitionAggregation(LogisticRegression(), n_partitions=5)).fit(X, y)
    r = certified_fraction(attacked, X_test, y_test, mask, 1)
    assert 0 <= r.certified_fraction <= 1


def test_looks_through_a_search_inside_a_pipeline():
    X, y = _data()
    X_test, y_test = _data(seed=1, n=50)
    mask = X_test[:, 1] > 0
    shift = FunctionTransformer(lambda Z: Z - 1.0)
    direct = PartitionAggregation(LogisticRegression(), n_partitions=5).fit(X - 1.0, y)
    expected = certified_fraction(direct, X_test - 1.0, y_test, mask, 1)
    search = GridSearchCV(PartitionAggregation(LogisticRegression()),
                          {"n_partitions": [5]}, cv=2)
    pipe = make_pipeline(shift, search).fit(X, y)
    assert certified_fraction(pipe, X_test, y_test, mask, 1) == expected
    # a search over a pipeline whose last step is a pipeline ending in a search
    nested = GridSearchCV(make_pipeline(FunctionTransformer(),
                                        make_pipeline(shift, search)),
                          {"functiontransformer__validate": [False]}, cv=2).fit(X, y)
    assert certified_fraction(nested, X_test, y_test, mask, 1) == expected


def test_bad_input():
    with pytest.raises(TypeError, match="mask must be boolean"):
        certified_fraction((Y_PRED, RADIUS), None, Y, MASK.astype(int), 1)
    with pytest.raises(ValueError, match="mask selects no row"):
        certified_fraction((Y_PRED, RADIUS), None, Y, np.zeros(6, bool), 1)
    with pytest.raises(ValueError, match="n_insertions must be non-negative"):
        certified_fraction((Y_PRED, RADIUS), None, Y, MASK, -1)
    with pytest.raises(TypeError, match="n_insertions must be an int"):
        certified_fraction((Y_PRED, RADIUS), None, Y, MASK, 1.5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        certified_fraction((Y_PRED, RADIUS[:-1]), None, Y, MASK, 1)
    with pytest.raises(TypeError, match="certify method"):
        X, y = _data(n=10)
        certified_fraction(LogisticRegression().fit(X, y), X, y,
                           np.ones(20, bool), 1)
    with pytest.raises(ValueError, match="X is None"):
        X, y = _data(n=10)
        pa = PartitionAggregation(LogisticRegression(), n_partitions=2).fit(X, y)
        certified_fraction(pa, None, y, np.ones(20, bool), 1)


def test_only_the_target_rows_are_certified():
    class Counting(PartitionAggregation):
        def certify(self, X):
            self.seen_ = len(X)
            return super().certify(X)

    X, y = _data()
    model = Counting(LogisticRegression(), n_partitions=4).fit(X, y)
    mask = np.zeros(len(y), bool)
    mask[:7] = True
    certified_fraction(model, X, y, mask, 1)
    assert model.seen_ == 7


def test_radii_below_minus_one_are_refused():
    with pytest.raises(ValueError, match="radius must be >= -1"):
        certified_fraction((Y_PRED, RADIUS - 100), None, Y, MASK, 1)
    with pytest.raises(ValueError, match="whole numbers"):
        certified_fraction((Y_PRED, RADIUS + 0.5), None, Y, MASK, 1)
    # -1 (LabelFlipCertifier: not certified even without an attack) is a radius
    r = certified_fraction((Y_PRED, np.full(6, -1)), None, Y, MASK, 0)
    assert r.certified_fraction == 0.0


def test_no_unknown_label_warning_for_one_class_predictions():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = certified_fraction((np.array([1, 1, 0, 0]), np.array([3, 3, 3, 3])),
                               None, np.array([1, 1, 0, 0]),
                               np.array([1, 1, 0, 0], bool), 1)
    assert (r.certified_fraction, r.certified_accuracy) == (1.0, 1.0)


def test_radius_vs_poison_report():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-2, 1, (150, 2)), rng.normal(2, 1, (150, 2))])
    y = np.repeat([0, 1], 150)
    finder = ClusterMatch(n_clusters=4, random_state=0).fit(X)
    cert = LabelFlipCertifier(q=0.1).fit(X, y)
    X_test = np.vstack([rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))])
    y_test = np.repeat([0, 1], 100)
    report = certified_radius_vs_poison(cert, X_test, finder, alpha=[0.5, 2.0],
                                        y=y_test)
    assert len(report) == 2 * len(finder.subpopulations_)
    radius = cert.certified_radius(X_test)
    ids = finder.predict(X_test)
    sizes = dict(zip(finder.subpopulations_.tolist(), finder.sizes_.tolist()))
    for rec in report.itertuples():
        rows = ids == rec.subpopulation
        m = int(rec.alpha * sizes[rec.subpopulation])
        assert rec.n_poison == m
        assert rec.certified_fraction == pytest.approx(np.mean(radius[rows] >= m))
        assert rec.certified_accuracy <= rec.certified_fraction
    # more poison, fewer certified points
    by = report.pivot(index="subpopulation", columns="alpha",
                      values="certified_fraction")
    assert np.all(by[2.0] <= by[0.5])


def test_radius_vs_poison_errors():
    X, y = _data(n=10)
    cert = LabelFlipCertifier().fit(X, y)
    with pytest.raises(ValueError, match="ids for"):
        certified_radius_vs_poison(cert, X, np.zeros(3, int))
    with pytest.raises(TypeError, match="no certify method"):
        certified_radius_vs_poison(LogisticRegression().fit(X, y), X,
                                   np.zeros(len(X), int))
    with pytest.raises(ValueError, match="radius must be >= -1"):
        certified_radius_vs_poison(np.array([-2, 3]), X[:2], np.zeros(2, int))


def test_radius_vs_poison_looks_through_a_pipeline():
    X, y = _data()
    pa = make_pipeline(FunctionTransformer(),
                       PartitionAggregation(LogisticRegression(), n_partitions=4)).fit(X, y)
    ids = (np.arange(len(y)) % 2)
    report = certified_radius_vs_poison(pa, X, ids, alpha=1.0, y=y)
    radius = pa[-1].certified_radius(X)
    assert report.certified_fraction.tolist() == [
        np.mean(radius[ids == s] >= (ids == s).sum()) for s in (0, 1)]


def test_certified_damage_bounds_real_attacks():
    """1-NN base models: rows added next to the group's test points with
    another label take the votes of the partitions they land in. The damage
    they do never exceeds the certified damage, which never exceeds the
    pointwise share."""
    from sklearn.neighbors import KNeighborsClassifier

    from skpoison.metrics import certified_damage, subpopulation_damage

    X, y = _data(seed=1, n=120)
    pa = PartitionAggregation(KNeighborsClassifier(n_neighbors=1),
                              n_partitions=9).fit(X, y)
    rng = np.random.RandomState(0)
    X_test, y_test = _data(seed=2, n=30)
    group = X_test[:, 0] > 0
    seen = []
    for n_added in (1, 3, 6, 9):
        cert = certified_damage(pa, X_test[group], y_test[group], n_added)
        assert cert.optimal
        assert cert.damage <= cert.pointwise_damage
        for trial in range(3):
            # all poisons next to one or two of the group's points
            idx = rng.choice(rng.choice(np.flatnonzero(group), 1 + trial % 2), n_added)
            poison = X_test[idx] + rng.normal(0, 1e-3, (n_added, X.shape[1]))
            attacked = clone(pa).fit(np.vstack([X, poison]),
                                     np.concatenate([y, 1 - y_test[idx]]))
            measured = subpopulation_damage(pa, attacked, X_test, y_test, group)
            assert measured.target_damage <= cert.damage + 1e-12
            seen.append(measured.target_damage)
    assert max(seen) > 0  # the attacks do damage


def test_certified_damage_through_a_pipeline_and_errors():
    from skpoison.metrics import certified_damage

    X, y = _data()
    pipe = make_pipeline(FunctionTransformer(),
                         PartitionAggregation(LogisticRegression(), n_partitions=10,
                                              aggregation="runoff")).fit(X, y)
    res = certified_damage(pipe, X[:40], y[:40], 3)
    ref = pipe[-1].certify_group(X[:40], y[:40], 3)
    assert (res.n_flippable, res.n_pointwise) == (ref.n_flippable, ref.n_pointwise)
    assert set(res) >= {"damage", "n_flippable", "optimal", "n_pointwise",
                        "pointwise_damage"}
    with pytest.raises(TypeError, match="no certify_group"):
        certified_damage(LabelFlipCertifier().fit(X, y), X, y, 1)
    with pytest.raises(ValueError, match="n_added must be non-negative"):
        certified_damage(pipe, X, y, -1)
    with pytest.raises(TypeError, match="n_added must be an int"):
        certified_damage(pipe, X, y, 1.5)
    with pytest.raises(ValueError, match="empty"):
        certified_damage(pipe, X[:0], y[:0], 1)
