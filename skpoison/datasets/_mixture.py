"""Synthetic k-subpopulation mixture for the impossibility result (Sec. 7)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._compat import Interval, StrOptions, validate_params

__all__ = ["make_subpopulation_mixture"]

# Grid sizes up to this many cells are sampled without replacement directly;
# larger (high-dimensional) grids by rejection of repeated cells.
_MAX_DENSE_GRID = 1_000_000


def _mixture_weights(weights, n_subpopulations):
    if isinstance(weights, str):  # "long-tail": Zipf with exponent 1
        weights = 1.0
    if isinstance(weights, Real) and not isinstance(weights, bool):
        if not np.isfinite(weights) or weights < 0:
            raise ValueError(
                f"weights={weights!r}: a Zipf exponent must be a finite number >= 0."
            )
        w = np.arange(1, n_subpopulations + 1, dtype=float) ** -float(weights)
        return w / w.sum()
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.shape[0] != n_subpopulations:
        raise ValueError(
            f"weights has shape {w.shape}; expected ({n_subpopulations},), one "
            "weight per subpopulation."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            "weights must be finite, non-negative and not all zero."
        )
    return w / w.sum()


def _proportional_counts(n_samples, p):
    """Largest-remainder rounding of ``n_samples * p`` (sums to n_samples)."""
    exact = n_samples * p
    counts = np.floor(exact).astype(np.intp)
    short = n_samples - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _grid_cells(n_cells, n_per_axis, n_features, rng):
    """``n_cells`` distinct integer points of the grid {0..n_per_axis-1}^d."""
    if n_per_axis ** n_features <= _MAX_DENSE_GRID:
        flat = rng.choice(n_per_axis ** n_features, size=n_cells, replace=False)
        return np.stack(np.unravel_index(flat, (n_per_axis,) * n_features), axis=1)
    cells = np.empty((0, n_features), dtype=np.intp)
    while cells.shape[0] < n_cells:
        draw = rng.randint(n_per_axis, size=(2 * n_cells, n_features))
        cells = np.unique(np.concatenate([cells, draw]), axis=0)
    return cells[rng.permutation(cells.shape[0])[:n_cells]]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_subpopulations": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions({"long-tail"}), Interval(Real, 0, None, closed="left"),
                    "array-like"],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "radius": [Interval(Real, 0, 0.5, closed="neither")],
        "sampling": [StrOptions({"proportional", "iid"})],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_subpopulation_mixture(n_samples=1000, *, n_subpopulations=50, n_features=2,
                               weights="long-tail", n_classes=2, radius=0.2,
                               sampling="proportional", shuffle=True,
                               random_state=None):
    """Generate a k-subpopulation mixture with disjoint supports and long-tailed weights.

    Read more in the :ref:`User Guide <datasets_models>`.

    The data model of the paper's impossibility result (Theorem 7.1, after
    Feldman's long-tail model; the paper's Sec. 7 and Appendix A): ``n_subpopulations``
    subpopulations with **disjoint supports**, mixing weights that decay like
    a Zipf law, and **one label per subpopulation**. Subpopulation ``i`` is
    uniform in the ball of radius ``radius`` around a centre on the integer
    grid; distinct centres are at least 1 apart, so two supports are at least
    ``1 - 2 * radius`` apart, farther than any two points of one support
    (``2 * radius``) when ``radius < 0.25``. Labels are spread evenly over
    the subpopulations (``i % n_classes``, then shuffled), so every class
    labels some subpopulation when ``n_subpopulations >= n_classes``.

    Read more in the gallery example
    ``examples/impossibility/plot_impossibility.py``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_subpopulations : int, default=50
        Number of subpopulations ``k``.

    n_features : int, default=2
        Dimension of the feature space.

    weights : "long-tail", float or array-like of shape (n_subpopulations,), \
default="long-tail"
        Mixing weights. A float ``s >= 0`` is a Zipf exponent: subpopulation
        ``i`` (counted from 0) has weight proportional to ``(i + 1) ** -s``,
        so subpopulation 0 is the most frequent; ``"long-tail"`` is ``s = 1``
        and ``s = 0`` gives equal weights. An array gives the weights
        directly (normalised to sum to 1).

    n_classes : int, default=2
        Number of class labels; labels are ``0 .. n_classes - 1``.

    radius : float in (0, 0.5), default=0.2
        Radius of each subpopulation's ball, in units of the grid spacing.

    sampling : {"proportional", "iid"}, default="proportional"
        How rows are shared out: ``"proportional"`` gives subpopulation ``i``
        exactly ``n_samples * weights[i]`` rows, rounded by largest
        remainder (as :func:`sklearn.datasets.make_blobs` does for its
        centres); ``"iid"`` draws each row's subpopulation independently
        (a multinomial draw, the theorem's sampling model), so rare
        subpopulations may get no row at all.

    shuffle : bool, default=True
        Shuffle the rows; otherwise they are grouped by subpopulation.

    random_state : int, RandomState instance or None, default=None
        Seeds the centres, the labels, the rows and the shuffle.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The rows.

    y : ndarray of int, shape (n_samples,)
        The label of each row: the label of its subpopulation.

    subpopulation : ndarray of int, shape (n_samples,)
        The subpopulation id (``0 .. n_subpopulations - 1``) of each row;
        id ``i`` has weight ``weights[i]``.

    See Also
    --------
    sklearn.datasets.make_blobs : Gaussian blobs (overlapping supports).
    skpoison.subpopulations.ClusterMatch : Recovers the subpopulations from X.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.datasets import make_subpopulation_mixture
    >>> X, y, sub = make_subpopulation_mixture(
    ...     100, n_subpopulations=4, weights=1.0, random_state=0)
    >>> X.shape
    (100, 2)
    >>> np.bincount(sub)  # Zipf weights 1, 1/2, 1/3, 1/4 (normalised)
    array([48, 24, 16, 12])
    >>> all(np.unique(y[sub == i]).size == 1 for i in range(4))
    True
    """
    rng = check_random_state(random_state)
    k = int(n_subpopulations)
    p = _mixture_weights(weights, k)

    n_per_axis = max(2, int(np.ceil(k ** (1.0 / n_features) - 1e-9)))
    while n_per_axis ** n_features < k:  # guard against rounding
        n_per_axis += 1
    centers = _grid_cells(k, n_per_axis, n_features, rng).astype(float)
    labels = rng.permutation(np.arange(k) % n_classes)

    if sampling == "proportional":
        counts = _proportional_counts(n_samples, p)
    else:
        counts = rng.multinomial(n_samples, p)
    subpopulation = np.repeat(np.arange(k), counts)

    # uniform in a ball: a uniform direction times radius * U^(1/d)
    direction = rng.normal(size=(n_samples, n_features))
    norms = np.linalg.norm(direction, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    length = radius * rng.uniform(size=(n_samples, 1)) ** (1.0 / n_features)
    X = centers[subpopulation] + direction / norms * length
    y = labels[subpopulation]

    if shuffle:
        order = rng.permutation(n_samples)
        X, y, subpopulation = X[order], y[order], subpopulation[order]
    return X, y.astype(np.intp), subpopulation.astype(np.intp)
