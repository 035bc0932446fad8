"""Tests for skpoison.metrics.subpopulation_damage."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from skpoison.metrics import subpopulation_damage

Y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
MASK = np.array([True, True, True, True, False, False, False, False, False, False])
# clean: 4/4 on target, 5/6 on rest; poisoned: 1/4 on target, 4/6 on rest
CLEAN = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
POISONED = np.array([1, 1, 0, 1, 1, 1, 1, 1, 0, 0])


def test_hand_computed_predictions():
    r = subpopulation_damage(CLEAN, POISONED, None, Y, MASK)
    assert r.clean_target_accuracy == 1.0
    assert r.poisoned_target_accuracy == 0.25
    assert r.clean_collateral_accuracy == pytest.approx(5 / 6)
    assert r.poisoned_collateral_accuracy == pytest.approx(4 / 6)
    assert r.target_damage == pytest.approx(0.75)
    assert r.collateral_damage == pytest.approx(1 / 6)
    assert r.n_target == 4
    assert r.n_collateral == 6


def test_sign_convention_positive_is_damage():
    r = subpopulation_damage(CLEAN, POISONED, None, Y, MASK)
    assert r.target_damage > 0 and r.collateral_damage > 0
    # swapping the models flips the sign: the "poisoned" one is now better
    swapped = subpopulation_damage(POISONED, CLEAN, None, Y, MASK)
    assert swapped.target_damage == pytest.approx(-0.75)
    assert swapped.collateral_damage == pytest.approx(-1 / 6)
    same = subpopulation_damage(CLEAN, CLEAN, None, Y, MASK)
    assert same.target_damage == 0 and same.collateral_damage == 0


def test_list_inputs():
    r = subpopulation_damage(CLEAN.tolist(), POISONED.tolist(), None, Y.tolist(),
                             MASK.tolist())
    assert r.target_damage == pytest.approx(0.75)


def test_fitted_estimators():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    mask = np.array([True] * 4 + [False] * 6)
    clean = LogisticRegression().fit(X, y)  # perfect on this split
    np.testing.assert_array_equal(clean.predict(X), y)
    poisoned = DummyClassifier(strategy="constant", constant=1).fit(X, y)
    r = subpopulation_damage(clean, poisoned, X, y, mask)
    assert r.clean_target_accuracy == 1.0
    assert r.poisoned_target_accuracy == 0.0
    assert r.target_damage == 1.0
    assert r.clean_collateral_accuracy == 1.0
    assert r.poisoned_collateral_accuracy == 1.0
    assert r.collateral_damage == 0.0
    # a model and an array of predictions mix
    r2 = subpopulation_damage(clean.predict(X), poisoned, X, y, mask)
    assert r2 == r


def test_string_labels_and_series():
    y = pd.Series(["a", "a", "b", "b"])
    clean = np.array(["a", "a", "b", "b"])
    poisoned = np.array(["b", "a", "b", "a"])
    mask = pd.Series([True, True, False, False])
    r = subpopulation_damage(clean, poisoned, None, y, mask)
    assert r.target_damage == 0.5
    assert r.collateral_damage == 0.5


def test_empty_mask_raises():
    with pytest.raises(ValueError, match="mask"):
        subpopulation_damage(CLEAN, POISONED, None, Y, np.zeros(10, dtype=bool))


@pytest.mark.parametrize("mask", [MASK.astype(int), MASK.astype(float),
                                  np.where(MASK, "y", "n")])
def test_non_boolean_mask_raises(mask):
    with pytest.raises(TypeError, match="mask"):
        subpopulation_damage(CLEAN, POISONED, None, Y, mask)


@pytest.mark.parametrize("which", ["clean", "poisoned", "y", "mask"])
def test_mismatched_lengths_raise(which):
    args = dict(clean=CLEAN, poisoned=POISONED, y=Y, mask=MASK)
    args[which] = args[which][:-1]
    with pytest.raises(ValueError):
        subpopulation_damage(args["clean"], args["poisoned"], None, args["y"],
                             args["mask"])


def test_mask_covers_all_rows_collateral_nan():
    r = subpopulation_damage(CLEAN, POISONED, None, Y, np.ones(10, dtype=bool))
    assert r.n_collateral == 0
    assert r.n_target == 10
    assert math.isnan(r.clean_collateral_accuracy)
    assert math.isnan(r.poisoned_collateral_accuracy)
    assert math.isnan(r.collateral_damage)
    assert r.clean_target_accuracy == pytest.approx(9 / 10)
    assert r.poisoned_target_accuracy == pytest.approx(5 / 10)
    assert r.target_damage == pytest.approx(0.4)


def test_inputs_unchanged():
    args = [a.copy() for a in (CLEAN, POISONED, Y, MASK)]
    subpopulation_damage(args[0], args[1], None, args[2], args[3])
    for a, b in zip(args, (CLEAN, POISONED, Y, MASK)):
        np.testing.assert_array_equal(a, b)


def test_predictions_of_one_class_are_neither_warned_about_nor_refused():
    import warnings

    y = np.array([0, 1, 0, 1])
    mask = np.array([True, True, False, False])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = subpopulation_damage(np.zeros(4, int), np.zeros(4, int), None, y, mask)
        assert (r.target_damage, r.clean_target_accuracy) == (0.0, 0.5)
        # every prediction wrong, of a label the test rows lack: damage, not error
        ones = np.ones(4, int)
        r = subpopulation_damage(np.array([1, 1, 0, 0]), 1 - ones, None, ones,
                                 mask)
        assert (r.target_damage, r.poisoned_target_accuracy) == (1.0, 0.0)


def test_predictions_that_cannot_be_compared_are_refused():
    y = np.array([0, 1, 0, 1])
    mask = np.array([True, True, False, False])
    with pytest.raises(ValueError, match="shares no label"):
        subpopulation_damage(y, np.array(["0", "1", "0", "1"]), None, y, mask)
    with pytest.raises(ValueError, match="shares no label"):
        subpopulation_damage(np.array([">50K.", "<=50K."] * 2), np.array(["a"] * 4),
                             None, np.array([">50K", "<=50K"] * 2), mask)
