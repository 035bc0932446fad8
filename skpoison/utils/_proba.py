"""Probabilities of the true class, shared by defenses and finders."""

import numpy as np


def true_class_proba(estimator, X, y):
    """Probability each row's model gives to its own label (0 if unknown)."""
    proba = np.asarray(estimator.predict_proba(X))
    classes = np.asarray(estimator.classes_)
    order = np.argsort(classes)
    pos = np.searchsorted(classes[order], y)
    pos = np.clip(pos, 0, classes.shape[0] - 1)
    found = classes[order][pos] == y
    col = order[pos]
    p = proba[np.arange(proba.shape[0]), col]
    return np.where(found, p, 0.0)
