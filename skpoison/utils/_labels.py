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
