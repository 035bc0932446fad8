"""rank_subpopulations: the paper's ordering of clusters by model confidence."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from skpoison.subpopulations import ClusterMatch, FeatureMatch, rank_subpopulations


def _data():
    rng = np.random.RandomState(0)
    group = np.repeat([0, 1, 2, 3], 25)
    X = np.column_stack([group.astype(float), rng.normal(group * 4.0, 0.3)])
    y = (group >= 2).astype(int)
    # group 1 gets half its labels wrong: the model cannot be confident there
    flip = (group == 1) & (np.arange(100) % 2 == 0)
    y[flip] = 1 - y[flip]
    return X, y, group


def test_matches_reference_computation():
    X, y, group = _data()
    finder = FeatureMatch(columns=[0]).fit(X)
    model = LogisticRegression().fit(X, y)
    confidence = rank_subpopulations(finder, model, X, y)
    proba = model.predict_proba(X)[np.arange(len(y)), y]
    expected = {g: proba[group == g].mean() for g in range(4)}
    assert list(confidence.index) == sorted(expected, key=expected.get)
    for g, value in confidence.items():
        assert value == pytest.approx(expected[g])
    assert confidence.index[0] == 1  # the noisy group is least confident
    assert confidence.is_monotonic_increasing


def test_only_kept_subpopulations_are_ranked():
    X, y, _ = _data()
    finder = ClusterMatch(n_clusters=4, random_state=0, max_size=26).fit(X)
    model = LogisticRegression().fit(X, y)
    confidence = rank_subpopulations(finder, model, X, y)
    assert set(confidence.index) <= set(finder.subpopulations_.tolist())


def test_errors():
    X, y, _ = _data()
    finder = FeatureMatch(columns=[0]).fit(X)
    with pytest.raises(TypeError, match="predict_proba"):
        rank_subpopulations(finder, LinearSVC().fit(X, y), X, y)
    with pytest.raises(ValueError, match="inconsistent"):
        rank_subpopulations(finder, LogisticRegression().fit(X, y), X, y[:-1])


def test_cross_validated_confidence_matches_reference():
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y, group = _data()
    finder = FeatureMatch(columns=[0]).fit(X)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    confidence = rank_subpopulations(finder, LogisticRegression(), X, y, cv=cv)
    proba = cross_val_predict(LogisticRegression(), X, y, cv=cv,
                              method="predict_proba")[np.arange(len(y)), y]
    for g, value in confidence.items():
        assert value == pytest.approx(proba[group == g].mean())
    assert confidence.index[0] == 1
