"""Labels to class indices: the one encoder shared by every family."""

import numpy as np

__all__ = ["encode_labels"]


def encode_labels(classes, y, *, unknown="raise", name="y"):
    """Positions of the labels ``y`` in ``classes`` (in any order).

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The known labels, e.g. a fitted model's ``classes_`` (need not be
        sorted).
    y : array-like of shape (n_samples,)
    unknown : {"raise", "mask"}, default="raise"
        ``"raise"``: a ValueError naming ``name``, the unknown labels and
        ``classes``. ``"mask"``: return ``(codes, found)`` where unknown rows
        have an arbitrary code and ``found`` is False.
    name : str, default="y"
        The parameter named in the error.

    Returns
    -------
    codes : ndarray of int64 of shape (n_samples,)
    found : ndarray of bool, only with ``unknown="mask"``
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    if classes.shape[0] == 0:
        raise ValueError("classes is empty: the model knows no label.")
    order = np.argsort(classes, kind="stable")
    try:
        pos = np.searchsorted(classes[order], y)
    except TypeError:  # e.g. str labels against int classes
        pos = np.zeros(y.shape, dtype=np.intp)
    codes = order[np.clip(pos, 0, classes.shape[0] - 1)].astype(np.int64)
    found = np.asarray(classes[codes] == y, dtype=bool).reshape(y.shape)
    if unknown == "mask":
        return codes, found
    if not found.all():
        raise ValueError(
            f"{name} contains labels the model was not fitted on: "
            f"{np.unique(y[~found]).tolist()!r} (not in classes_ "
            f"{classes.tolist()!r})."
        )
    return codes


def check_label_space(y, classes, *, name="y", where="the model"):
    """Refuse labels that cannot be compared with ``classes``.

    A silent wrong result otherwise: string test labels against integer
    predictions, or NaN labels, make every row "wrong" and every damage 0.

    Raises a ValueError naming ``name`` when ``y`` holds a missing value or
    shares no label with ``classes``; warns when only some labels of ``y``
    are unknown to ``where`` (a class absent from its training rows).

    Returns
    -------
    y : ndarray
    """
    import warnings

    import pandas as pd

    y = np.asarray(y)
    if y.size and pd.isna(y).any():
        raise ValueError(
            f"{name} contains missing values (NaN or None); every row needs a "
            "label."
        )
    classes = np.asarray(classes)
    if y.size == 0 or classes.size == 0:
        return y
    _, found = encode_labels(classes, y, unknown="mask")
    if not found.any():
        raise ValueError(
            f"{name} shares no label with the classes of {where}: {name} has "
            f"{np.unique(y)[:10].tolist()!r}, {where} {classes[:10].tolist()!r} "
            "(for instance string labels against integer predictions)."
        )
    if not found.all():
        warnings.warn(
            f"{name} contains labels that {where} does not know: "
            f"{np.unique(y[~found])[:10].tolist()!r}; their rows count as "
            "misclassified.", UserWarning,
        )
    return y


def check_prediction_labels(y, y_pred, *, name="y", where="the predictions"):
    """Refuse predictions given as labels that cannot be compared with ``y``.

    Precomputed predictions say nothing of the model's classes: a model may
    predict a single class, or a class absent from the test rows, and every
    row may be wrong. What is refused is what cannot be a comparison: a
    missing value in ``y``, numbers against strings, and predictions sharing
    no label with a ``y`` of two or more labels (for instance ``">50K."``
    against ``">50K"``). Nothing is warned about.

    Returns
    -------
    y : ndarray
    """
    import pandas as pd

    y = np.asarray(y)
    y_pred = np.asarray(y_pred)
    if y.size and pd.isna(y).any():
        raise ValueError(
            f"{name} contains missing values (NaN or None); every row needs a "
            "label."
        )
    if y.size == 0 or y_pred.size == 0:
        return y
    y_labels, pred_labels = np.unique(y), np.unique(y_pred)

    def numeric(labels):
        return labels.dtype.kind in "biuf" or all(
            isinstance(v, (int, float, np.number, bool)) for v in labels.tolist())

    shared = np.isin(pred_labels, y_labels) if numeric(y_labels) == numeric(
        pred_labels) else np.zeros(pred_labels.shape, dtype=bool)
    if numeric(y_labels) != numeric(pred_labels) or (
            not shared.any() and y_labels.shape[0] >= 2):
        raise ValueError(
            f"{name} shares no label with {where}: {name} has "
            f"{y_labels[:10].tolist()!r}, {where} {pred_labels[:10].tolist()!r} "
            "(for instance string labels against integer predictions)."
        )
    return y
