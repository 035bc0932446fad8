"""Theorem 7.1 on the subpopulation mixture: locally dependent learners lose
the attacked subpopulation with exactly zero collateral damage, and TRIM with
the exact poison count removes the target's clean rows instead of the poisons.

Same mixture and target as ``examples/impossibility/plot_impossibility.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, RadiusNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skpoison.attacks import LabelFlip
from skpoison.datasets import make_subpopulation_mixture
from skpoison.defenses import TRIM
from skpoison.subpopulations import FeatureMatch

RADIUS, TARGET = 0.2, 18


@pytest.fixture(scope="module")
def mixture():
    X, y, sub = make_subpopulation_mixture(6000, n_subpopulations=50,
                                           radius=RADIUS, random_state=0)
    Xs = np.column_stack([X, sub])  # last column: the attacker's annotation
    rows = np.arange(len(y))
    train, rest = train_test_split(rows, test_size=2 / 3, stratify=sub,
                                   random_state=0)
    aux, test = train_test_split(rest, test_size=0.5, stratify=sub[rest],
                                 random_state=0)
    finder = FrozenEstimator(FeatureMatch(columns=[2], target=TARGET).fit(Xs[aux]))
    return Xs, y, sub, train, aux, test, finder


def _features_only(estimator):
    return make_pipeline(ColumnTransformer([("xy", "passthrough", [0, 1])]),
                         estimator)


LOCAL = {
    "local majority": RadiusNeighborsClassifier(radius=2 * RADIUS, outlier_label=0),
    "5-NN": KNeighborsClassifier(n_neighbors=5),
}


def _attack(mixture, alpha):
    Xs, y, _, train, aux, _, finder = mixture
    attack = LabelFlip(finder, alpha=alpha, aux=(Xs[aux], y[aux]), random_state=0)
    X_p, y_p = attack.fit_resample(Xs[train], y[train])
    return attack, X_p, y_p


@pytest.mark.parametrize("name", list(LOCAL))
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_local_learners_have_exactly_zero_collateral(mixture, name, alpha):
    Xs, y, sub, train, _, test, finder = mixture
    learner = _features_only(LOCAL[name])
    clean = learner.fit(Xs[train], y[train]).predict(Xs[test])
    attack, X_p, y_p = _attack(mixture, alpha)
    assert attack.n_poison_ == int(alpha * np.sum(sub[train] == TARGET))
    poisoned = learner.fit(X_p, y_p).predict(Xs[test])
    rest = ~finder.membership(Xs[test])
    # not only the accuracy: every single prediction outside the target stays
    assert_array_equal(poisoned[rest], clean[rest])
    assert np.mean(clean == y[test]) > 0.99


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_local_majority_loses_the_target_completely_above_alpha_1(mixture, alpha):
    Xs, y, _, train, _, test, finder = mixture
    learner = _features_only(LOCAL["local majority"])
    target = finder.membership(Xs[test])
    clean = learner.fit(Xs[train], y[train]).predict(Xs[test])
    assert np.all(clean[target] == y[test][target])
    _, X_p, y_p = _attack(mixture, alpha)
    poisoned = learner.fit(X_p, y_p).predict(Xs[test])
    assert np.all(poisoned[target] != y[test][target])


def test_below_alpha_1_local_majority_keeps_the_target(mixture):
    Xs, y, _, _, _, test, finder = mixture
    _, X_p, y_p = _attack(mixture, 0.5)
    learner = _features_only(LOCAL["local majority"]).fit(X_p, y_p)
    target = finder.membership(Xs[test])
    assert np.all(learner.predict(Xs[test])[target] == y[test][target])


def test_global_model_spreads_the_damage(mixture):
    # logistic regression keeps this target but its other predictions move
    Xs, y, _, train, _, test, finder = mixture
    learner = _features_only(LogisticRegression())
    clean = learner.fit(Xs[train], y[train]).predict(Xs[test])
    _, X_p, y_p = _attack(mixture, 3.0)
    poisoned = learner.fit(X_p, y_p).predict(Xs[test])
    rest = ~finder.membership(Xs[test])
    assert np.any(poisoned[rest] != clean[rest])


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_trim_removes_clean_target_rows_and_amplifies(mixture, alpha):
    Xs, y, sub, train, _, test, finder = mixture
    attack, X_p, y_p = _attack(mixture, alpha)
    target = finder.membership(Xs[test])
    learner = _features_only(KNeighborsClassifier(n_neighbors=5))
    undefended = learner.fit(X_p, y_p).predict(Xs[test])
    trim = TRIM(learner, n_remove=attack.n_poison_).fit(X_p, y_p)
    defended = trim.predict(Xs[test])
    clean_target_rows = np.flatnonzero(sub[train] == TARGET)
    # the defense drops the target's clean rows and keeps the poisons
    assert not trim.support_mask_[clean_target_rows].any()
    assert trim.support_mask_[attack.poison_mask_].all()
    # so the target is lost completely, more than without the defense
    assert np.all(defended[target] != y[test][target])
    assert np.mean(undefended[target] != y[test][target]) < 1
