"""Target and collateral damage, as the subpopulation paper defines them."""

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils._labels import check_label_space, check_prediction_labels


def _predictions(model, X):
    """Predictions of a fitted model, or the given array of predictions."""
    if hasattr(model, "predict"):
        return np.asarray(model.predict(X))
    return column_or_1d(np.asarray(model))


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred)) if y_true.shape[0] else float("nan")


def check_target_mask(y, mask, what):
    """``mask`` as a boolean array with one entry per label of ``y``, selecting
    at least one row (else ``what``, e.g. the damage, is undefined)."""
    mask = column_or_1d(np.asarray(mask))
    if mask.dtype != bool:
        raise TypeError(f"mask must be boolean; got dtype {mask.dtype}.")
    if mask.shape[0] != y.shape[0]:
        raise ValueError(
            f"mask has {mask.shape[0]} entries but y has {y.shape[0]} labels: "
            "mask must select among the rows of X and y."
        )
    if not mask.any():
        raise ValueError(
            "mask selects no row: the target subpopulation has no test rows, so "
            f"its {what} is undefined."
        )
    return mask


def subpopulation_damage(clean, poisoned, X, y, mask):
    """Target and collateral damage of a poisoned model, as in the paper.

    Read more in the :ref:`User Guide <metrics>`.

    Target damage is the clean model's accuracy on the target subpopulation
    minus the poisoned model's; collateral damage is the same difference on
    the rest of the test rows. Positive values mean damage.

    Parameters
    ----------
    clean : fitted classifier or array-like of shape (n_samples,)
        The model trained without poison, or its predictions on ``X``.
    poisoned : fitted classifier or array-like of shape (n_samples,)
        The model trained with poison (possibly behind a defense), or its
        predictions on ``X``.
    X : array-like of shape (n_samples, n_features) or None
        Test rows; may be ``None`` when both models are given as predictions.
    y : array-like of shape (n_samples,)
        True labels of the test rows.
    mask : array-like of bool, shape (n_samples,)
        Membership of each test row in the target subpopulation, e.g.
        ``attack.subpopulation_.membership(X)``.

    Returns
    -------
    result : Bunch
        ``target_damage``, ``collateral_damage``, ``clean_target_accuracy``,
        ``poisoned_target_accuracy``, ``clean_collateral_accuracy``,
        ``poisoned_collateral_accuracy``, ``n_target``, ``n_collateral``.
        Collateral values are NaN when the target covers every row.

    Raises
    ------
    ValueError
        When ``mask`` selects no row: target damage is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.metrics import subpopulation_damage
    >>> y = np.array([0, 0, 1, 1, 1])
    >>> mask = np.array([True, True, False, False, False])
    >>> clean = np.array([0, 0, 1, 1, 0])      # predictions of the clean model
    >>> poisoned = np.array([1, 0, 1, 1, 0])
    >>> result = subpopulation_damage(clean, poisoned, None, y, mask)
    >>> result.target_damage, result.collateral_damage
    (0.5, 0.0)
    """
    y = column_or_1d(np.asarray(y))
    mask = check_target_mask(y, mask, "damage")
    y_clean = _predictions(clean, X)
    y_poisoned = _predictions(poisoned, X)
    check_consistent_length(y, mask, y_clean, y_poisoned)
    for model, pred, which in ((clean, y_clean, "the clean model"),
                               (poisoned, y_poisoned, "the poisoned model")):
        classes = getattr(model, "classes_", None)
        if classes is None:  # predictions: a model may predict one class only
            check_prediction_labels(y, pred, where=f"the predictions of {which}")
        else:
            check_label_space(y, classes, where=which)
    rest = ~mask
    result = Bunch(
        clean_target_accuracy=_accuracy(y[mask], y_clean[mask]),
        poisoned_target_accuracy=_accuracy(y[mask], y_poisoned[mask]),
        clean_collateral_accuracy=_accuracy(y[rest], y_clean[rest]),
        poisoned_collateral_accuracy=_accuracy(y[rest], y_poisoned[rest]),
        n_target=int(mask.sum()),
        n_collateral=int(rest.sum()),
    )
    result.target_damage = (result.clean_target_accuracy
                            - result.poisoned_target_accuracy)
    result.collateral_damage = (result.clean_collateral_accuracy
                                - result.poisoned_collateral_accuracy)
    return result

