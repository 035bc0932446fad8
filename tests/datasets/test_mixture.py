"""Tests of make_subpopulation_mixture."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.spatial.distance import cdist

from skpoison.datasets import make_subpopulation_mixture


def _zipf(k, s):
    w = np.arange(1, k + 1, dtype=float) ** -s
    return w / w.sum()


@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_supports_are_disjoint_and_separated(n_features):
    radius = 0.2
    X, _, sub = make_subpopulation_mixture(
        800, n_subpopulations=20, n_features=n_features, radius=radius,
        random_state=0)
    assert X.shape == (800, n_features)
    ids = np.unique(sub)
    within = max(cdist(X[sub == i], X[sub == i]).max() for i in ids)
    between = min(cdist(X[sub == i], X[sub == j]).min()
                  for i in ids for j in ids if i < j)
    # every point of a support is closer to its own support than to any other
    assert within <= 2 * radius
    assert between >= 1 - 2 * radius > within
    # the balls' centres: every point lies within `radius` of its centre
    for i in ids:
        centre = np.round(X[sub == i].mean(axis=0))
        assert np.linalg.norm(X[sub == i] - centre, axis=1).max() <= radius


def test_long_tail_weights_are_zipf_1():
    _, _, sub = make_subpopulation_mixture(10_000, n_subpopulations=10,
                                           random_state=0)
    counts = np.bincount(sub, minlength=10)
    assert counts.sum() == 10_000
    assert np.abs(counts - 10_000 * _zipf(10, 1.0)).max() < 1  # exact rounding
    assert np.all(np.diff(counts) <= 0)


@pytest.mark.parametrize("weights", [0.0, 0.5, 2.0])
def test_zipf_exponent(weights):
    _, _, sub = make_subpopulation_mixture(1000, n_subpopulations=7,
                                           weights=weights, random_state=1)
    expected = 1000 * _zipf(7, weights)
    assert np.abs(np.bincount(sub, minlength=7) - expected).max() < 1


def test_explicit_weights_and_iid_sampling():
    w = np.array([5.0, 1.0, 0.0, 4.0])
    _, _, sub = make_subpopulation_mixture(1000, n_subpopulations=4, weights=w,
                                           random_state=0)
    assert_array_equal(np.bincount(sub, minlength=4), [500, 100, 0, 400])
    # iid: a multinomial draw, so only close to the weights
    _, _, sub = make_subpopulation_mixture(20_000, n_subpopulations=4, weights=w,
                                           sampling="iid", random_state=0)
    freq = np.bincount(sub, minlength=4) / 20_000
    assert np.abs(freq - w / w.sum()).max() < 0.015
    assert freq[2] == 0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_label_per_subpopulation(n_classes):
    _, y, sub = make_subpopulation_mixture(600, n_subpopulations=9,
                                           n_classes=n_classes, random_state=0)
    labels = [np.unique(y[sub == i]) for i in range(9)]
    assert all(lab.size == 1 for lab in labels)
    # labels spread evenly over subpopulations: every class is used
    per_sub = np.array([lab[0] for lab in labels])
    assert_array_equal(np.bincount(per_sub), np.bincount(np.arange(9) % n_classes))


def test_deterministic_and_shuffle():
    a = make_subpopulation_mixture(300, n_subpopulations=5, random_state=3)
    b = make_subpopulation_mixture(300, n_subpopulations=5, random_state=3)
    for u, v in zip(a, b):
        assert_array_equal(u, v)
    c = make_subpopulation_mixture(300, n_subpopulations=5, random_state=4)
    assert not np.array_equal(a[0], c[0])
    _, _, sub = make_subpopulation_mixture(300, n_subpopulations=5, shuffle=False,
                                           random_state=3)
    assert np.all(np.diff(sub) >= 0)
    assert not np.all(np.diff(a[2]) >= 0)


def test_high_dimension_many_subpopulations():
    X, _, sub = make_subpopulation_mixture(200, n_subpopulations=100,
                                           n_features=30, random_state=0)
    centres = np.array([np.round(X[sub == i].mean(axis=0))
                        for i in np.unique(sub)])
    assert np.unique(centres, axis=0).shape[0] == centres.shape[0]


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": [1.0, 2.0]}, "one weight per subpopulation"),
    ({"weights": [1.0, -1.0, 1.0]}, "non-negative"),
    ({"weights": -1.0}, "weights"),
    ({"radius": 0.5}, "radius"),
    ({"n_classes": 1}, "n_classes"),
    ({"sampling": "poisson"}, "sampling"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_subpopulation_mixture(100, n_subpopulations=3, **kwargs)
