"""Confidence intervals for damage: paired proportions, and means over seeds.

A damage is a difference of two accuracies measured on the same test rows
(the clean and the poisoned model; a model without and with a defense), so
the two proportions are paired. The interval is Newcombe's hybrid score
interval for a difference of paired proportions (method 10 of R. G.
Newcombe, "Improved confidence intervals for the difference between binomial
proportions based on paired data", Statistics in Medicine 17, 1998): two
Wilson score intervals combined with the correlation of the pairs. It needs
only the four counts of the 2x2 table of right/wrong pairs, keeps to [-1, 1]
and covers close to its nominal level down to a handful of rows.

Several seeds (several trainings on the same rows) are combined by
:func:`seed_mean_interval`: the mean of the seeds' damages, with the rows'
uncertainty (the seeds' mean half-widths: the same rows measure every seed)
and the seeds' spread (Student's t on their standard error) added in
quadrature on each side, as in the MOVER method of G. Y. Zou and A. Donner,
"Construction of confidence limits about effect measures: a general
approach", Statistics in Medicine 27, 2008.
"""

from typing import NamedTuple

import numpy as np
from scipy import stats
from sklearn.utils.validation import check_consistent_length, column_or_1d


class Interval(NamedTuple):
    """An estimate with the ends of its confidence interval."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _z(confidence):
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    return stats.norm.ppf(0.5 + confidence / 2)


def _wilson(x, n, z):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        center = (x + z * z / 2) / (n + z * z)
        half = z * np.sqrt(x * (n - x) / n + z * z / 4) / (n + z * z)
    return p, center - half, center + half


def paired_counts_interval(both, first_only, second_only, neither, *,
                           confidence=0.95):
    """Interval on ``p1 - p2`` from the 2x2 table of paired outcomes.

    Read more in the :ref:`User Guide <metrics>`.

    ``p1`` is the share of rows where the first outcome holds (``both +
    first_only``), ``p2`` where the second does (``both + second_only``),
    over the same rows. Newcombe's hybrid score interval (method 10, see the
    module's references). Array arguments give one interval per entry; a
    table with no rows gives NaN.

    Parameters
    ----------
    both, first_only, second_only, neither : int or array-like of int
        The counts of rows where both outcomes hold, only the first, only
        the second, neither.
    confidence : float, default=0.95

    Returns
    -------
    interval : Interval
        ``estimate`` (``p1 - p2``), ``low`` and ``high``.

    Examples
    --------
    >>> from skpoison.metrics import paired_counts_interval
    >>> est, low, high = paired_counts_interval(10, 8, 1, 1)
    >>> round(float(est), 2), round(float(low), 3), round(float(high), 3)
    (0.35, 0.077, 0.568)
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (both, first_only,
                                                         second_only, neither))
    if min(v.min(initial=0) for v in (a, b, c, d)) < 0:
        raise ValueError("counts must be non-negative.")
    z, n = _z(confidence), a + b + c + d
    p1, l1, u1 = _wilson(a + b, n, z)
    p2, l2, u2 = _wilson(a + c, n, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        margins = (a + b) * (c + d) * (a + c) * (b + d)
        phi = np.where(margins > 0, (a * d - b * c) / np.sqrt(np.where(
            margins > 0, margins, 1)), 0.0)
        lower = np.sqrt(np.maximum((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                                   + (u2 - p2) ** 2, 0))
        upper = np.sqrt(np.maximum((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                                   + (p2 - l2) ** 2, 0))
    est = p1 - p2
    return Interval(est, np.clip(est - lower, -1, 1), np.clip(est + upper, -1, 1))


def paired_difference_interval(first, second, *, confidence=0.95):
    """Interval on ``mean(first) - mean(second)`` for paired boolean outcomes.

    Read more in the :ref:`User Guide <metrics>`.

    For example the target damage of a poisoning with its uncertainty:
    ``first`` is whether the clean model is right on each of the group's test
    rows, ``second`` whether the poisoned model is right on the same rows.
    See :func:`paired_counts_interval`.

    Parameters
    ----------
    first, second : array-like of bool, shape (n_rows,)
    confidence : float, default=0.95

    Returns
    -------
    interval : Interval
        ``estimate``, ``low`` and ``high`` (floats).

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.metrics import paired_difference_interval
    >>> clean = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    >>> poisoned = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0], bool)
    >>> est, low, high = paired_difference_interval(clean, poisoned)
    >>> round(est, 2), round(low, 3), round(high, 3)
    (0.5, 0.143, 0.724)
    """
    first, second = column_or_1d(first), column_or_1d(second)
    check_consistent_length(first, second)
    for name, v in (("first", first), ("second", second)):
        if v.dtype != bool:
            raise TypeError(f"{name} must be boolean; got dtype {v.dtype}.")
    counts = [np.sum(first & second), np.sum(first & ~second),
              np.sum(~first & second), np.sum(~first & ~second)]
    return Interval(*(float(v) for v in paired_counts_interval(
        *counts, confidence=confidence)))


def seed_mean_interval(estimates, lows, highs, *, confidence=0.95):
    """Interval on the mean over seeds of estimates measured on the same rows.

    Read more in the :ref:`User Guide <metrics>`.

    Each seed's interval accounts for the finite rows; the seeds' spread
    accounts for the training's randomness. The mean's interval adds, on each
    side, the seeds' mean half-width (the same rows measure every seed, so
    their errors are not averaged away) and Student's t times the standard
    error of the seeds' estimates, in quadrature (Zou and Donner's MOVER).
    With one seed it is that seed's interval.

    Parameters
    ----------
    estimates, lows, highs : array-like of shape (n_seeds,)
        Each seed's estimate and interval (e.g. from
        :func:`paired_counts_interval`).
    confidence : float, default=0.95

    Returns
    -------
    interval : Interval
        ``estimate`` (the mean), ``low`` and ``high`` (floats), within [-1, 1].

    Examples
    --------
    >>> from skpoison.metrics import seed_mean_interval
    >>> est, low, high = seed_mean_interval([0.4, 0.5], [0.2, 0.3], [0.6, 0.7])
    >>> round(est, 2), round(low, 3), round(high, 3)
    (0.45, -0.216, 1.0)
    """
    est, low, high = (np.asarray(v, dtype=float).ravel() for v in (estimates, lows,
                                                                     highs))
    check_consistent_length(est, low, high)
    if est.size == 0:
        raise ValueError("estimates must hold at least one seed's estimate.")
    mean = float(est.mean())
    if est.size == 1:
        return Interval(mean, float(low[0]), float(high[0]))
    spread = stats.t.ppf(0.5 + confidence / 2, est.size - 1) * est.std(ddof=1) \
        / np.sqrt(est.size)
    below = np.hypot(np.mean(est - low), spread)
    above = np.hypot(np.mean(high - est), spread)
    return Interval(mean, float(max(mean - below, -1.0)), float(min(mean + above, 1.0)))
