"""Damage intervals: known answers, brute force and simulated coverage."""

import numpy as np
import pytest

from skpoison.metrics import (
    paired_counts_interval,
    paired_difference_interval,
    seed_mean_interval,
)


def _draw(rng, n, p10, p01, p11):
    """n paired rows: (clean right, poisoned right) with probabilities
    p11 both, p10 clean only, p01 poisoned only; true damage p10 - p01."""
    cells = rng.choice(4, size=n, p=[p11, p10, p01, 1 - p11 - p10 - p01])
    return np.isin(cells, [0, 1]), np.isin(cells, [0, 2])


@pytest.mark.parametrize("n, p10, p01, p11", [
    (5, 0.4, 0.0, 0.5),     # the smallest groups
    (12, 0.25, 0.05, 0.6),
    (40, 0.1, 0.1, 0.7),    # no damage
    (80, 0.5, 0.02, 0.4),
])
def test_paired_interval_covers_the_true_damage(n, p10, p01, p11):
    rng = np.random.RandomState(0)
    truth, hits, widths = p10 - p01, 0, []
    for _ in range(300):
        est, low, high = paired_difference_interval(*_draw(rng, n, p10, p01, p11))
        hits += low <= truth <= high
        widths.append(high - low)
        assert -1 <= low <= est <= high <= 1
    assert hits / 300 >= 0.90
    # not wider than needed: within 1.6 times the Wald width of the same design
    se = np.sqrt((p10 + p01 - (p10 - p01) ** 2) / n)
    assert np.mean(widths) <= max(1.6 * 2 * 1.96 * se, 0.6 if n <= 12 else 0)


def test_seed_mean_interval_covers_the_mean_over_seeds():
    # per seed the training draws its own damage around 0.2 (spread 0.05);
    # the target is the expected damage over seeds and rows
    rng = np.random.RandomState(1)
    hits, widths = 0, []
    for _ in range(250):
        per_seed = []
        for _ in range(3):
            p10 = 0.25 + rng.normal(0, 0.05)
            per_seed.append(paired_difference_interval(*_draw(rng, 30, p10, 0.05, 0.5)))
        est, low, high = seed_mean_interval(*zip(*per_seed))
        hits += low <= 0.2 <= high
        widths.append(high - low)
    assert hits / 250 >= 0.90
    assert np.mean(widths) < 0.8


def test_known_answers_and_edges():
    # the 2x2 table written out by hand: 10 rows, 5 lost, none gained
    first = np.array([1] * 9 + [0], bool)
    second = np.array([0] * 5 + [1] * 4 + [0], bool)
    est, low, high = paired_difference_interval(first, second)
    assert est == 0.5 and 0 < low < 0.5 < high < 1
    counts = paired_counts_interval([9, 0], [0, 0], [0, 0], [1, 0])  # vectorised
    assert counts.estimate[0] == 0 and np.isnan(counts.estimate[1])
    assert seed_mean_interval([0.3], [0.1], [0.5]) == (0.3, 0.1, 0.5)
    est, low, high = seed_mean_interval([0.3, 0.3], [0.1, 0.1], [0.5, 0.5])
    assert (est, low, high) == pytest.approx((0.3, 0.1, 0.5))  # no spread, same rows
    with pytest.raises(ValueError, match="confidence"):
        paired_counts_interval(1, 1, 1, 1, confidence=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        paired_counts_interval(1, -1, 1, 1)
    with pytest.raises(TypeError, match="first must be boolean"):
        paired_difference_interval(np.array([1, 0]), np.array([True, False]))
