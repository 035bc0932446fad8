"""Tests of select_targets."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from numpy.testing import assert_array_equal
from sklearn.frozen import FrozenEstimator

from skpoison.attacks import select_targets
from skpoison.subpopulations import ClusterMatch, FeatureMatch


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    centres = np.array([[0, 0], [5, 0], [0, 5], [5, 5]], dtype=float)
    group = np.repeat(np.arange(4), 50)
    X = centres[group] + rng.normal(0, 0.3, (200, 2))
    y = np.where(rng.uniform(size=200) < 0.5, 0, 1)  # classes mixed in groups
    return X, y, group


def test_subpopulation_mode_rows_of_one_subpopulation_and_class(data):
    X, y, group = data
    idx = select_targets(X, y, n=10, target_class=1, random_state=0,
                         subpopulation=ClusterMatch(4, target="random", min_size=9))
    assert idx.shape == (10,) and np.all(np.diff(idx) > 0)
    assert np.all(y[idx] == 1)
    assert np.unique(group[idx]).size == 1  # one cluster = one true group


def test_random_mode_rows_of_one_class_spread(data):
    X, y, group = data
    idx = select_targets(X, y, n=30, mode="random", target_class=0, random_state=0)
    assert np.unique(idx).size == 30 and np.all(y[idx] == 0)
    assert np.unique(group[idx]).size > 1


def test_default_finder_and_random_class(data):
    X, y, group = data
    idx = select_targets(X, y, n=8, random_state=1)
    assert np.unique(y[idx]).size == 1
    assert np.unique(group[idx]).size == 1


def test_fitted_or_frozen_finder_is_used_as_is(data):
    X, y, group = data
    annotated = np.column_stack([X, group])
    finder = FeatureMatch(columns=[2], target=3).fit(annotated)
    idx = select_targets(annotated, y, n=5, subpopulation=FrozenEstimator(finder),
                         target_class=0, random_state=0)
    assert np.all(group[idx] == 3) and np.all(y[idx] == 0)
    # a fitted finder that is not frozen: used as is for one more release
    with pytest.warns(FutureWarning, match="wrap it in sklearn.frozen"):
        again = select_targets(annotated, y, n=5, subpopulation=finder,
                               target_class=0, random_state=0)
    np.testing.assert_array_equal(again, idx)
    with pytest.raises(NotFittedError, match="FrozenEstimator around a FeatureMatch that is not fitted"):
        select_targets(annotated, y, n=5, target_class=0,
                       subpopulation=FrozenEstimator(FeatureMatch(columns=[2])))


def test_deterministic_and_dataframe(data):
    X, y, _ = data
    a = select_targets(X, y, n=6, random_state=3)
    b = select_targets(pd.DataFrame(X, columns=["a", "b"]), pd.Series(y), n=6,
                       random_state=3)
    assert_array_equal(a, b)
    assert not np.array_equal(a, select_targets(X, y, n=6, random_state=4))


@pytest.mark.parametrize("kwargs, match", [
    ({"target_class": 5}, "target_class=5"),
    ({"n": 500}, "No class has n=500"),
    ({"n": 150, "target_class": 0}, "fewer than n=150"),
    ({"n": 40, "target_class": 0,
      "subpopulation": ClusterMatch(4, target="largest")}, "min_size=39"),
    ({"mode": "cluster"}, "mode"),
])
def test_bad_input(data, kwargs, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        select_targets(X, y, **kwargs)


def test_length_mismatch(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="rows"):
        select_targets(X, y[:-1])
