"""Probabilities of the true class, shared by defenses and finders."""

import numpy as np

from ._labels import encode_labels


def true_class_proba(estimator, X, y):
    """Probability each row's model gives to its own label (0 if unknown)."""
    proba = np.asarray(estimator.predict_proba(X))
    col, found = encode_labels(estimator.classes_, y, unknown="mask")
    p = proba[np.arange(proba.shape[0]), col]
    return np.where(found, p, 0.0)
