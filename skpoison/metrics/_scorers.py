"""Scorers that find the fitted attack in a model and score one subset."""

import warnings

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_consistent_length

from ..attacks import is_attack
from ..utils._labels import check_label_space
from ..utils._pipeline import find_step


def _is_fitted_attack(step):
    return is_attack(step) and hasattr(step, "subpopulation_")


def find_attack(estimator):
    """The fitted attack inside a model, and a function giving its input.

    Read more in the :ref:`User Guide <metrics>`.

    Looks through :class:`~skpoison.pipeline.Pipeline` steps (nested ones
    too), :class:`~skpoison.pipeline.PoisonedEstimator` (``attack_``) and
    fitted searches (``best_estimator_``). The returned function pushes rows
    through the fitted steps before the attack (a finder step bound to the
    attack passes them unchanged), so that the attack's finder sees the
    representation it was fitted on.

    Parameters
    ----------
    estimator : fitted estimator

    Returns
    -------
    attack : fitted attack
    to_attack_input : callable
        ``X -> X`` as the attack received it.

    Raises
    ------
    ValueError
        When no fitted attack is found.
    """
    attack, to_input = find_step(estimator, _is_fitted_attack)
    if attack is None:
        raise ValueError(
            f"No fitted attack found in {type(estimator).__name__}: subpopulation "
            "scorers need a fitted skpoison Pipeline or PoisonedEstimator "
            "containing an attack."
        )
    return attack, to_input


def find_defense(estimator):
    """The fitted defense (an estimator with ``support_mask_``) in a model.

    Read more in the :ref:`User Guide <metrics>`.

    Parameters
    ----------
    estimator : fitted estimator

    Returns
    -------
    defense : fitted estimator with ``support_mask_``, or None
    """
    return find_step(estimator, lambda step: hasattr(step, "support_mask_"))[0]


class _SubpopulationScorer:
    """Callable ``scorer(estimator, X, y)`` on the target or the other rows."""

    def __init__(self, score_func, subset, kwargs):
        self._score_func = score_func
        self._subset = subset
        self._kwargs = kwargs

    def __repr__(self):
        name = getattr(self._score_func, "__name__", repr(self._score_func))
        return f"make_subpopulation_scorer({name}, subset={self._subset!r})"

    def __call__(self, estimator, X, y, sample_weight=None):
        check_consistent_length(X, y)
        check_label_space(y, getattr(estimator, "classes_", []),
                          where=type(estimator).__name__)
        attack, to_input = find_attack(estimator)
        mask = np.asarray(attack.subpopulation_.membership(to_input(X)), dtype=bool)
        if self._subset == "rest":
            mask = ~mask
        if not mask.any():
            warnings.warn(
                f"The {self._subset!r} subset has no rows in this split; the score "
                "is NaN.", UserWarning,
            )
            return float("nan")
        idx = np.flatnonzero(mask)
        y = np.asarray(y)[idx]
        y_pred = np.asarray(estimator.predict(X))[idx]
        kwargs = dict(self._kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = np.asarray(sample_weight)[idx]
        return self._score_func(y, y_pred, **kwargs)


def make_subpopulation_scorer(score_func, *, subset="target", **kwargs):
    """Make a scorer that scores only the target subpopulation, or the rest.

    Read more in the :ref:`User Guide <metrics>`.

    The scorer finds the fitted attack in the model (a skpoison
    :class:`~skpoison.pipeline.Pipeline` step or a
    :class:`~skpoison.pipeline.PoisonedEstimator`), pushes the test rows
    through the fitted steps before it, asks its finder which rows belong to
    the target (``subpopulation_.membership``) and applies ``score_func`` to
    those rows (``subset="target"``) or to all others (``subset="rest"``).
    It returns NaN, with a warning, when the subset is empty in a split.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_pred, **kwargs)``, greater is better, e.g.
        :func:`sklearn.metrics.accuracy_score`.
    subset : {"target", "rest"}, default="target"
        Which rows to score.
    **kwargs : dict
        Passed to ``score_func``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, usable as ``scoring=`` in
        :class:`~sklearn.model_selection.GridSearchCV`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import accuracy_score
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skpoison.attacks import LabelFlip
    >>> from skpoison.metrics import make_subpopulation_scorer
    >>> from skpoison.pipeline import make_pipeline
    >>> from skpoison.subpopulations import ClusterMatch
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(3, 0.1, (10, 2))])
    >>> y = np.array([0] * 30 + [1] * 10)
    >>> model = make_pipeline(
    ...     LabelFlip(ClusterMatch(n_clusters=2, target="smallest"), alpha=2,
    ...               random_state=0),
    ...     KNeighborsClassifier(n_neighbors=21)).fit(X, y)
    >>> target = make_subpopulation_scorer(accuracy_score, subset="target")
    >>> rest = make_subpopulation_scorer(accuracy_score, subset="rest")
    >>> target(model, X, y), rest(model, X, y)
    (0.0, 1.0)
    """
    if subset not in ("target", "rest"):
        raise ValueError(f'subset must be "target" or "rest"; got {subset!r}.')
    if not callable(score_func):
        raise TypeError(f"score_func must be callable; got {type(score_func).__name__}.")
    return _SubpopulationScorer(score_func, subset, kwargs)


target_accuracy_scorer = make_subpopulation_scorer(accuracy_score, subset="target")
"""Accuracy on the target subpopulation (lower means a more successful attack)."""

collateral_accuracy_scorer = make_subpopulation_scorer(accuracy_score, subset="rest")
"""Accuracy on the rows outside the target subpopulation."""


def removal_fractions(poison_mask, support_mask):
    """The fractions of the poison rows and of the clean rows a defense removed.

    Read more in the :ref:`User Guide <metrics>`.

    ``poison_mask`` (the attack's ``poison_mask_``) and ``support_mask``
    (the defense's ``support_mask_``) cover the same training rows. Returns
    ``(poison_removed, clean_removed)``; the first is NaN without poison, the
    second NaN without clean rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.metrics import removal_fractions
    >>> poison = np.array([False, False, False, True, True])
    >>> support = np.array([True, False, True, False, True])
    >>> removal_fractions(poison, support)
    (0.5, 0.3333333333333333)
    """
    poison = np.asarray(poison_mask, dtype=bool)
    removed = ~np.asarray(support_mask, dtype=bool)
    poison_removed = float(np.mean(removed[poison])) if poison.any() else float("nan")
    clean_removed = float(np.mean(removed[~poison])) if (~poison).any() else float("nan")
    return poison_removed, clean_removed


def _poison_and_support(estimator):
    attack, _ = find_attack(estimator)
    defense = find_defense(estimator)
    if defense is None:
        raise ValueError(
            "No fitted defense (an estimator with support_mask_) found in "
            f"{type(estimator).__name__}."
        )
    poison = np.asarray(attack.poison_mask_, dtype=bool)
    support = np.asarray(defense.support_mask_, dtype=bool)
    if poison.shape != support.shape:
        raise ValueError(
            f"The attack's poison_mask_ covers {poison.shape[0]} rows but the "
            f"defense's support_mask_ covers {support.shape[0]}: the defense must be "
            "fitted on the attack's output."
        )
    return poison, support


def poison_removal_scorer(estimator, X=None, y=None):
    """Fraction of the poison rows that the defense removed (recall).

    Read more in the :ref:`User Guide <metrics>`.

    Needs a fitted model with an attack before a defense (an estimator with
    ``support_mask_``, such as :class:`~skpoison.defenses.TRIM`). ``X`` and
    ``y`` are ignored: the score is about the training rows. NaN when the
    attack added no poison.

    Parameters
    ----------
    estimator : fitted Pipeline or PoisonedEstimator
    X, y : ignored

    Returns
    -------
    score : float
    """
    return removal_fractions(*_poison_and_support(estimator))[0]


def clean_removal_scorer(estimator, X=None, y=None):
    """Fraction of the clean training rows that the defense removed.

    Read more in the :ref:`User Guide <metrics>`.

    The cost side of :func:`poison_removal_scorer`; ``X`` and ``y`` are ignored.

    Parameters
    ----------
    estimator : fitted Pipeline or PoisonedEstimator
    X, y : ignored

    Returns
    -------
    score : float
    """
    return removal_fractions(*_poison_and_support(estimator))[1]
