"""Certified measurements: how much of a subpopulation a certificate protects.

``certified_fraction`` (one group, one or several budgets, pointwise),
``certified_radius_vs_poison`` (every group of a finder, several alphas) and
``certified_damage`` (one group as a whole: the collective certificate).
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils._compat import _safe_indexing
from ..utils._labels import check_label_space, check_prediction_labels
from ..utils._pipeline import final_step, is_pipeline
from ._damage import check_target_mask


def _certifier_and_input(model, X):
    """The step with ``certify`` in ``model`` and ``X`` as that step sees it.

    Looks through fitted searches (``best_estimator_``), pipelines and
    meta-estimators, a search inside a pipeline and a pipeline inside a
    search included: the steps before the certifying one transform ``X``
    (samplers skipped; see :func:`~skpoison.utils._pipeline.find_step`, the
    one step walker).
    """
    from ..utils._pipeline import find_step

    certifier, to_input = find_step(model, lambda step: hasattr(step, "certify"))
    if certifier is None:
        raise TypeError(
            f"model must be a fitted certified defense with a certify method "
            f"(e.g. PartitionAggregation, LabelFlipCertifier), a pipeline ending "
            f"in one, or a (y_pred, radius) pair; got {type(model).__name__}."
        )
    return certifier, to_input(X)


def _check_radius(radius):
    """Radii as int64: whole numbers, at least -1 (-1: not even certified
    without an attack, as :class:`~skpoison.defenses.LabelFlipCertifier`
    reports)."""
    radius = np.asarray(radius)
    if radius.dtype.kind not in "biuf" or (
            radius.dtype.kind == "f" and not np.all(np.isfinite(radius)
                                                    & (radius == np.round(radius)))):
        raise ValueError(f"radius must hold whole numbers; got dtype {radius.dtype}.")
    if radius.size and radius.min() < -1:
        raise ValueError(
            f"radius must be >= -1 (a number of rows; -1: not certified even "
            f"without an attack); got {radius.min()!r}.")
    return radius.astype(np.int64)


def certified_fraction(model, X, y, mask, n_insertions):
    """Fraction of a subpopulation's test rows certified against ``n`` added rows.

    Read more in the :ref:`User Guide <metrics>`.

    A subpopulation attack at rate ``alpha`` adds ``n = int(alpha * n_sub)``
    rows (``n_sub``: the target subpopulation's training size; a fitted
    attack's ``n_poison_``). A test row is certified when its certified radius
    (:meth:`PartitionAggregation.certify
    <skpoison.defenses.PartitionAggregation.certify>`: rows added, removed or
    relabelled; :meth:`LabelFlipCertifier.certify
    <skpoison.defenses.LabelFlipCertifier.certify>`: labels flipped) is at
    least ``n``: no attack of that size, whatever rows it adds, can change
    its prediction. The fraction certified *and* correct is a lower bound on
    the subpopulation's accuracy under any such attack, to set beside the
    damage measured for one attack (:func:`subpopulation_damage`).
    Rows of a pipeline's certifying step are certified on the output of the
    steps before it: the certificate covers rows added to that step's
    training data, so the steps before it must not be fitted on the
    training rows (put scaling inside the defense's estimator).

    Parameters
    ----------
    model : fitted estimator or tuple of (y_pred, radius)
        A fitted certified defense (an estimator with ``certify(X)``
        returning predictions and radii, such as
        :class:`~skpoison.defenses.PartitionAggregation`), a pipeline or
        fitted search ending in one, or its ``certify`` output on ``X``.
        Fitted on the clean training data, a certified row's prediction
        cannot be changed by any attack of ``n_insertions`` rows (the
        certificate's promise; ``certified_accuracy`` is then a lower bound on
        the subpopulation's accuracy under any such attack). Fitted on the
        poisoned data, as a defender has it, a certified row's prediction is
        the one the model would make without up to ``n_insertions`` of its
        training rows, the poisons among them.
    X : array-like of shape (n_samples, n_features) or None
        Test rows (None when ``model`` is a ``(y_pred, radius)`` pair). Only
        the rows in ``mask`` are certified.
    y : array-like of shape (n_samples,)
        Their true labels.
    mask : array-like of bool, shape (n_samples,)
        Membership of each test row in the target subpopulation.
    n_insertions : int or array-like of int
        The attack's number of added rows; an array gives one result per
        budget (arrays in the result).

    Returns
    -------
    result : Bunch
        ``certified_fraction`` (radius >= ``n_insertions``),
        ``certified_accuracy`` (certified and correct), ``accuracy`` (of the
        predictions, certified or not), ``median_radius``, ``n_target`` (test
        rows in ``mask``) and ``n_insertions``.

    Raises
    ------
    ValueError
        When ``mask`` selects no row, ``n_insertions`` is negative, or a
        given radius is below -1 or not a whole number.

    See Also
    --------
    certified_radius_vs_poison : The same per subpopulation of a fitted
        finder, for several alphas.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.metrics import certified_fraction
    >>> y = np.array([0, 0, 1, 1, 1])
    >>> y_pred = np.array([0, 1, 1, 1, 0])
    >>> radius = np.array([4, 9, 1, 2, 0])
    >>> mask = np.array([True, True, True, True, False])
    >>> r = certified_fraction((y_pred, radius), None, y, mask, n_insertions=2)
    >>> r.certified_fraction, r.certified_accuracy, r.median_radius
    (0.75, 0.5, 3.0)
    """
    y = column_or_1d(np.asarray(y))
    mask = check_target_mask(y, mask, "certified fraction")
    budgets = np.asarray(n_insertions)
    if not (np.issubdtype(budgets.dtype, np.integer)
            or (budgets.dtype == object and all(isinstance(b, Integral)
                                                for b in budgets.ravel()))):
        raise TypeError(f"n_insertions must be an int or ints; got {n_insertions!r}.")
    if budgets.ndim > 1:
        raise ValueError("n_insertions must be an int or a 1-D array of ints.")
    budgets = budgets.astype(np.int64)
    if np.any(budgets < 0):
        raise ValueError(f"n_insertions must be non-negative; got {n_insertions!r}.")
    rows = np.flatnonzero(mask)
    if isinstance(model, tuple):
        if len(model) != 2:
            raise TypeError("model given as a tuple must be (y_pred, radius).")
        y_pred, radius = (column_or_1d(np.asarray(a)) for a in model)
        check_consistent_length(y, y_pred, radius)
        check_prediction_labels(y, y_pred, where="the certified predictions")
        y_pred, radius = y_pred[rows], radius[rows]
    else:
        if X is None:
            raise ValueError("X is None: a fitted model needs the test rows X.")
        check_consistent_length(X, y)
        certifier, X_in = _certifier_and_input(model, _safe_indexing(X, rows))
        y_pred, radius = certifier.certify(X_in)
        y_pred, radius = np.asarray(y_pred), np.asarray(radius)
        classes = getattr(certifier, "classes_", None)
        if classes is None:
            check_prediction_labels(y[rows], y_pred, where="the certified predictions")
        else:
            check_label_space(y, classes, where="the certified model")
    radius = _check_radius(radius)
    y_target = y[rows]
    certified = radius[:, None] >= budgets.reshape(-1)[None, :]
    correct = (y_pred == y_target)[:, None]
    frac = certified.mean(axis=0)
    acc = (certified & correct).mean(axis=0)
    scalar = budgets.ndim == 0
    return Bunch(
        certified_fraction=float(frac[0]) if scalar else frac,
        certified_accuracy=float(acc[0]) if scalar else acc,
        accuracy=float(correct.mean()),
        median_radius=float(np.median(radius)),
        n_target=int(rows.size),
        n_insertions=int(budgets) if scalar else budgets,
    )


def certified_radius_vs_poison(certifier, X, subpopulations, *, alpha=(0.5, 1.0, 2.0),
                               sizes=None, y=None):
    """Per subpopulation, how many test rows are certified against the attack.

    Read more in the :ref:`User Guide <metrics>`.

    A subpopulation attack at rate ``alpha`` adds ``m = int(alpha * n_sub)``
    poisoned rows. A row's prediction is certified against it
    when its certified radius is at least ``m`` (in the certificate's own
    threat model: label flips for the label-flip certificate, any added or
    removed rows for partition aggregation).

    Parameters
    ----------
    certifier : fitted certified defense or array-like of int
        A fitted estimator with ``certify(X)`` (such as
        :class:`~skpoison.defenses.LabelFlipCertifier`, whose radius counts
        label flips, or :class:`~skpoison.defenses.PartitionAggregation`,
        whose radius counts added, removed or relabelled rows), a pipeline or
        fitted search ending in one, or precomputed radii, one per row of
        ``X``.
    X : array-like of shape (n_samples, n_features)
        Test rows (ignored when radii are given, except for their number).
    subpopulations : fitted finder or array-like of shape (n_samples,)
        A fitted :class:`~skpoison.subpopulations.FeatureMatch` /
        :class:`~skpoison.subpopulations.ClusterMatch` (its ``predict`` gives
        the rows' subpopulations and ``sizes_`` their training sizes), or the
        subpopulation id of each row (-1 for none).
    alpha : float or sequence of float, default=(0.5, 1.0, 2.0)
        Poisoning rates.
    sizes : dict or None, default=None
        ``{subpopulation id: n_sub}``, the training-set size behind ``m``.
        Default: the finder's ``sizes_``, or else the number of rows of ``X``
        in each subpopulation.
    y : array-like of shape (n_samples,) or None
        True labels; adds ``certified_accuracy`` (correct and certified).

    Returns
    -------
    report : pandas.DataFrame
        One row per subpopulation and alpha: ``subpopulation``, ``alpha``,
        ``n_sub``, ``n_poison``, ``n_test``, ``median_radius``,
        ``certified_fraction`` and, with ``y``, ``certified_accuracy``.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.metrics import certified_radius_vs_poison
    >>> radii = np.array([0, 3, 10, 40, 5, 5])
    >>> ids = np.array([0, 0, 0, 0, 1, 1])
    >>> report = certified_radius_vs_poison(radii, np.zeros((6, 1)), ids,
    ...                                     alpha=1.0, sizes={0: 8, 1: 20})
    >>> report[["subpopulation", "n_poison", "certified_fraction"]]
       subpopulation  n_poison  certified_fraction
    0              0         8                 0.5
    1              1        20                 0.0
    """
    if isinstance(certifier, BaseEstimator):
        try:
            model, X_in = _certifier_and_input(certifier, X)
        except TypeError:
            raise TypeError(
                "certifier must be a fitted certified defense (e.g. "
                "LabelFlipCertifier, PartitionAggregation) or an array of radii; "
                f"got {type(certifier).__name__}, which has no certify method."
            ) from None
        y_pred, radius = model.certify(X_in)
        y_pred, radius = np.asarray(y_pred), _check_radius(radius)
    else:
        radius = np.asarray(certifier)
        y_pred = None
        if radius.ndim != 1 or not np.issubdtype(radius.dtype, np.integer):
            raise ValueError("certifier given as radii must be a 1-D array of ints.")
        radius = _check_radius(radius)
    n_rows = radius.shape[0]
    if hasattr(subpopulations, "predict") and hasattr(subpopulations, "sizes_"):
        finder = subpopulations
        ids = np.asarray(finder.predict(X))
        if sizes is None:
            sizes = dict(zip(np.asarray(finder.subpopulations_).tolist(),
                             np.asarray(finder.sizes_).tolist()))
    else:
        ids = np.asarray(subpopulations)
    if ids.shape != (n_rows,):
        raise ValueError(
            f"subpopulations has {ids.shape[0] if ids.ndim else 0} ids for "
            f"{n_rows} rows."
        )
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    if np.any(alphas < 0) or not np.all(np.isfinite(alphas)):
        raise ValueError(f"alpha must be finite and non-negative, got {alpha!r}.")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (n_rows,):
            raise ValueError(f"y has {y.shape[0]} labels for {n_rows} rows.")
        if y_pred is None:
            raise ValueError("y needs a certifier (predictions), not bare radii.")
    records = []
    for sub in np.unique(ids[ids != -1]):
        rows = ids == sub
        n_sub = int(sizes[sub.item()]) if sizes is not None and sub.item() in sizes \
            else int(rows.sum())
        for a in alphas:
            m = int(a * n_sub)
            certified = radius[rows] >= m
            rec = {"subpopulation": sub.item(), "alpha": float(a), "n_sub": n_sub,
                   "n_poison": m, "n_test": int(rows.sum()),
                   "median_radius": float(np.median(radius[rows])),
                   "certified_fraction": float(certified.mean())}
            if y is not None:
                rec["certified_accuracy"] = float(
                    np.mean(certified & (y_pred[rows] == y[rows])))
            records.append(rec)
    columns = ["subpopulation", "alpha", "n_sub", "n_poison", "n_test",
               "median_radius", "certified_fraction"]
    if y is not None:
        columns.append("certified_accuracy")
    return pd.DataFrame.from_records(records, columns=columns)


def certified_damage(model, X_group, y_group, n_added, *, time_limit=10.0):
    """Certified largest target damage of an attack of ``n_added`` rows.

    Read more in the :ref:`User Guide <metrics>`.

    A subpopulation attack must get many rows of one group wrong with one
    set of poisons. Against partition aggregation those ``n_added`` rows land
    in at most ``n_added`` partitions (``n_added * n_shares`` base models for
    Finite Aggregation), and the same corrupted base models must change
    every row. The largest number of the group's correct predictions they
    can change at once is the collective certificate of Chen, Li, Li, Wu and
    Yan (ICML 2022) applied to partition aggregation, solved as a
    mixed-integer program with scipy's HiGHS (see
    :meth:`PartitionAggregation.certify_group
    <skpoison.defenses.PartitionAggregation.certify_group>`). Fitted on the
    clean training rows, the model's accuracy on the group cannot drop by
    more than ``damage`` under any attack that adds, removes or relabels
    ``n_added`` training rows: a certified upper bound on the paper's target
    damage, to set beside the damage an attack measures
    (:func:`subpopulation_damage`). It never exceeds ``pointwise_damage``,
    the share of correct rows whose own certified radius is below
    ``n_added``, and is usually below it.

    Parameters
    ----------
    model : fitted estimator
        A fitted :class:`~skpoison.defenses.PartitionAggregation` (either
        aggregation), or a pipeline or fitted search ending in one (the
        steps before it transform ``X_group``).
    X_group : array-like of shape (n_samples, n_features)
        The target group's test rows.
    y_group : array-like of shape (n_samples,)
        Their true labels.
    n_added : int
        The attack's number of added (or removed, or relabelled) rows, e.g.
        ``int(alpha * n_sub)``.
    time_limit : float, default=10.0
        Seconds for the solver. If it runs out, the solver's relaxation bound
        is reported (never below the optimum: still a certified upper bound)
        and ``optimal`` is False.

    Returns
    -------
    result : Bunch
        ``damage`` (certified largest target damage, ``n_flippable /
        n_target``), ``n_flippable``, ``optimal``, ``pointwise_damage`` and
        ``n_pointwise`` (the pointwise count, for comparison), ``n_found``
        (the largest change the solver found an attack for; None if none),
        ``accuracy`` (the model's accuracy on the group), ``n_correct``,
        ``n_target``, ``n_changed`` (``n_added``) and ``seconds``.

    Raises
    ------
    TypeError
        When ``model`` has no collective certificate.
    ValueError
        When ``n_added`` is negative or ``X_group`` is empty.

    See Also
    --------
    certified_fraction : The pointwise certificate's share of a group.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.defenses import PartitionAggregation
    >>> from skpoison.metrics import certified_damage
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-1, 1.5, (300, 2)), rng.normal(1, 1.5, (300, 2))])
    >>> y = np.repeat([0, 1], 300)
    >>> dpa = PartitionAggregation(LogisticRegression(), n_partitions=20).fit(X, y)
    >>> group = X[:, 0] > 0.5
    >>> result = certified_damage(dpa, X[group], y[group], n_added=4)
    >>> bool(result.optimal), bool(result.damage <= result.pointwise_damage)
    (True, True)
    """
    if not isinstance(n_added, Integral) or isinstance(n_added, bool):
        raise TypeError(f"n_added must be an int; got {n_added!r}.")
    if n_added < 0:
        raise ValueError(f"n_added must be non-negative; got {n_added!r}.")
    y_group = column_or_1d(np.asarray(y_group))
    check_consistent_length(X_group, y_group)
    if y_group.shape[0] == 0:
        raise ValueError("X_group is empty: the group has no test rows, so its "
                         "damage is undefined.")
    certifier, X_in = _certifier_and_input(model, X_group)
    if not hasattr(certifier, "certify_group"):
        raise TypeError(
            f"model must be a fitted PartitionAggregation (or a pipeline ending in "
            f"one) for a collective certificate; {type(certifier).__name__} has no "
            "certify_group method. certified_fraction gives its pointwise "
            "certificate.")
    classes = getattr(certifier, "classes_", None)
    if classes is not None:
        check_label_space(y_group, classes, name="y_group", where="the certified model")
    return certifier.certify_group(X_in, y_group, int(n_added), time_limit=time_limit)
