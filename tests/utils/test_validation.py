"""Shared input checks."""

import numpy as np
import pytest

from skpoison.attacks import GradientPoison, WitchesBrew
from skpoison.nets import make_mlp_classifier
from skpoison.subpopulations import ClusterMatch
from skpoison.utils._validation import check_bounds

from ..attacks._problems import problem


def test_check_bounds_broadcasts_scalars_and_keeps_infinity():
    low, high = check_bounds((0, [1.0, np.inf, 2.0]), 3)
    np.testing.assert_array_equal(low, [0, 0, 0])
    np.testing.assert_array_equal(high, [1, np.inf, 2])
    low[0] = 5  # a writable copy, not a view of the broadcast
    assert check_bounds((0, 1), 3)[0][0] == 0


@pytest.mark.parametrize("bounds, match", [
    ((np.nan, np.nan), "low contains NaN"),
    ((0, [1, np.nan, 1]), "high contains NaN"),
    ((0, [1, 2]), r"high must be a scalar or have shape \(3,\).*got shape \(2,\)"),
    (([[0, 0, 0]], 1), r"low must be a scalar or have shape \(3,\)"),
    ((0, 1, 2), r"must be a tuple \(low, high\)"),
    ((0, "x"), "high must be numeric"),
    (([0, 5, 0], 1), "feature 1 has low=5.0 > high=1.0"),
])
def test_check_bounds_errors_name_the_parameter(bounds, match):
    with pytest.raises(ValueError, match=match):
        check_bounds(bounds, 3)
    with pytest.raises(ValueError, match="^bounds"):
        check_bounds(bounds, 3)


@pytest.mark.parametrize("bounds", [(np.nan, np.nan), (0, [1, 2])])
def test_attacks_reject_bad_bounds_before_writing_poisons(bounds):
    X, y = problem()
    with pytest.raises(ValueError, match="^bounds"):
        GradientPoison(ClusterMatch(4, random_state=0), bounds=bounds, n_iter=2,
                       random_state=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="^bounds"):
        WitchesBrew(estimator=make_mlp_classifier((4,), max_epochs=1),
                    bounds=bounds, n_targets=3, n_iter=1, restarts=1,
                    budget=0.05, random_state=0).fit_resample(X, y)


def test_gradient_poison_stays_in_bounds():
    X, y = problem()
    attack = GradientPoison(ClusterMatch(4, random_state=0), bounds=(-1, 1),
                            eps=5.0, n_iter=5, random_state=0)
    X_res, _ = attack.fit_resample(X, y)
    poisons = X_res[attack.poison_mask_]
    moved = attack.feature_mask_
    assert np.all(poisons[:, moved] >= -1) and np.all(poisons[:, moved] <= 1)
