"""Target selection for targeted attacks: one subpopulation, or at random."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, column_or_1d

from ..subpopulations import ClusterMatch
from ..utils._compat import HasMethods, Interval, StrOptions, validate_params
from ..utils._frozen import prefit_estimator
from ..utils._seeding import seed_unseeded

__all__ = ["select_targets"]


def _fitted_finder(subpopulation, X_class, n, rng):
    if subpopulation is None:
        n_clusters = max(1, min(10, X_class.shape[0] // n))
        subpopulation = ClusterMatch(n_clusters=n_clusters, target="random",
                                     min_size=n - 1)
    prefit = prefit_estimator(
        subpopulation, param="subpopulation", owner="select_targets",
        legacy_fitted=True, is_fitted=lambda f: hasattr(f, "subpopulations_"))
    if prefit is not None:
        return prefit  # fitted by the caller, e.g. on all classes
    return seed_unseeded(subpopulation, rng).fit(X_class)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "n": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions({"subpopulation", "random"})],
        "subpopulation": [HasMethods(["fit", "predict"]), None],
        "target_class": "no_validation",
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def select_targets(X, y, *, n=30, mode="subpopulation", subpopulation=None,
                   target_class=None, random_state=None):
    """Choose ``n`` targets of one class for a targeted attack.

    Read more in the :ref:`User Guide <attacks>`.

    The paper's Sec. 6 (Table 9) compares two ways of choosing
    the 30 targets of Witches' Brew, all of one class: **within one
    ClusterMatch subpopulation**, built per class on a clean model's
    representation (``mode="subpopulation"``), or **at random** from the
    class (``mode="random"``). Subpopulation targets are much easier to
    attack jointly (Table 9: 2.35x on the 10 most effective attacks). Any
    targeted attack can use the result, e.g.
    :class:`~skpoison.attacks.WitchesBrew`'s ``targets``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The candidate rows in the representation the finder clusters, e.g.
        the penultimate-layer activations of a clean model on a test set
        (the paper's choice) or raw features.

    y : array-like of shape (n_samples,)
        Their true labels.

    n : int, default=30
        Number of targets.

    mode : {"subpopulation", "random"}, default="subpopulation"
        ``"subpopulation"``: all targets from one subpopulation of
        ``subpopulation`` within ``target_class``; ``"random"``: targets
        drawn uniformly from ``target_class``.

    subpopulation : finder, default=None
        Used with ``mode="subpopulation"``. An unfitted finder is cloned,
        seeded from ``random_state`` when unseeded, and fitted on the rows
        of ``target_class`` (per-class subpopulations, as in the paper); a
        finder wrapped in :class:`sklearn.frozen.FrozenEstimator` is used as
        is (a fitted finder that is not frozen too, with a
        ``FutureWarning``, until skpoison 0.2). The targets
        come from its ``target_``, which must hold at least ``n`` rows of
        the class: give ClusterMatch ``min_size=n - 1`` and a target rule.
        ``None`` uses ``ClusterMatch(n_clusters=min(10, n_class // n),
        target="random", min_size=n - 1)``.

    target_class : label, default=None
        The class of the targets. ``None`` draws one at random among the
        classes with at least ``n`` rows.

    random_state : int, RandomState instance or None, default=None
        Seeds the class, the finder (when unseeded) and the draw of rows.

    Returns
    -------
    indices : ndarray of int, shape (n,)
        Sorted row indices into ``X`` of the targets.

    Raises
    ------
    ValueError
        When ``target_class`` is not a label of ``y`` or has fewer than
        ``n`` rows, or when the finder's target subpopulation has fewer than
        ``n`` rows of the class.

    See Also
    --------
    skpoison.subpopulations.ClusterMatch : The paper's finder.
    skpoison.attacks.WitchesBrew : A targeted attack that uses them.
    skpoison.attacks.InfluencePoison : With ``targets=(X[idx], y[idx])``, the
        influence attack aimed at the selected rows (the targeted variant),
        its poisons seeded from the targets' cluster.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.attacks import select_targets
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (40, 2)), rng.normal(3, 0.1, (40, 2))])
    >>> y = np.array([0] * 60 + [1] * 20)
    >>> idx = select_targets(X, y, n=5, target_class=0, random_state=0,
    ...                      subpopulation=ClusterMatch(2, target="smallest"))
    >>> idx.shape, bool(np.all(y[idx] == 0)), bool(np.all(X[idx, 0] > 1.5))
    ((5,), True, True)
    >>> select_targets(X, y, n=3, mode="random", target_class=1, random_state=0)
    array([61, 78, 79])
    """
    X_arr = check_array(X, dtype=None, input_name="X")
    y = column_or_1d(np.asarray(y))
    if y.shape[0] != X_arr.shape[0]:
        raise ValueError(f"X has {X_arr.shape[0]} rows but y has {y.shape[0]} labels.")
    rng = check_random_state(random_state)
    classes, counts = np.unique(y, return_counts=True)
    if target_class is None:
        eligible = classes[counts >= n]
        if eligible.size == 0:
            raise ValueError(
                f"No class has n={n} rows (largest: {counts.max()}); lower n."
            )
        target_class = eligible[rng.randint(eligible.size)]
    elif target_class not in set(classes.tolist()):
        raise ValueError(
            f"target_class={target_class!r} is not a label of y; labels are "
            f"{classes.tolist()}."
        )
    rows = np.flatnonzero(y == target_class)
    if rows.size < n:
        raise ValueError(
            f"target_class={target_class!r} has {rows.size} rows, fewer than n={n}."
        )
    if mode == "subpopulation":
        X_class = X.iloc[rows] if hasattr(X, "iloc") else X_arr[rows]
        finder = _fitted_finder(subpopulation, X_class, n, rng)
        member = np.asarray(finder.membership(X_class), dtype=bool)
        if member.sum() < n:
            raise ValueError(
                f"The finder's target subpopulation (target_={finder.target_}) "
                f"holds {int(member.sum())} rows of class {target_class!r}, fewer "
                f"than n={n}: set its min_size={n - 1} and a target rule, or "
                "lower n."
            )
        rows = rows[member]
    chosen = rng.choice(rows, size=n, replace=False)
    return np.sort(chosen).astype(np.intp)
