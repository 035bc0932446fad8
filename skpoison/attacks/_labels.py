"""How poison rows are labelled: the rules shared by every row-adding attack.

The paper's label-flipping attack gives each drawn row of the target
subpopulation a wrong label. The rules below are the ways its authors chose
that label (a flip on binary Adult, the least frequent class of the
subpopulation for images, the class the attacker's model finds least likely
for text), plus ``"auto"`` that works on any task.
"""

import numpy as np
import pandas as pd

from ..utils._frozen import prefit_estimator
from ..utils._seeding import seed_unseeded

__all__ = ["LABEL_RULES", "poison_labels"]

LABEL_RULES = ("auto", "flip", "least_frequent", "least_confident")


def poison_labels(label, y_seed, candidates, X_src, y_src, classes, *, estimator,
                  rng, owner, feature_names=None):
    """The labels of the poison rows.

    Parameters
    ----------
    label : {"auto", "flip", "least_frequent", "least_confident"} or a label
        The rule (see :class:`~skpoison.attacks.LabelFlip`).
    y_seed : ndarray of shape (n_poison,)
        True labels of the drawn rows.
    candidates : ndarray of int
        Positions of the attacker's rows of the target subpopulation in
        ``X_src``.
    X_src, y_src : the attacker's rows (as given) and their labels.
    classes : ndarray
        The sorted class labels of the task.
    estimator : classifier or None
        The attacker's model, for ``"least_confident"``.
    rng : RandomState
        Seeds an unseeded ``estimator``.
    owner : str
        The attack's name, for the messages.
    feature_names : array-like of str or None
        The column names of ``X``, given back to a model fitted on a DataFrame
        when ``X_src`` is an array.

    Returns
    -------
    y_poison : ndarray of shape (n_poison,)
    """
    y_sub = y_src[candidates]
    if isinstance(label, str) and label == "auto":
        label = "flip" if classes.shape[0] == 2 else "least_frequent"
    if isinstance(label, str) and label == "flip":
        if classes.shape[0] != 2:
            raise ValueError(
                f'label="flip" needs a binary target; y has {classes.shape[0]} '
                f"classes {classes.tolist()}. Use label=\"auto\", \"least_frequent\", "
                '"least_confident" or a class label for multiclass tasks.'
            )
        return np.where(y_seed == classes[0], classes[1], classes[0])
    if isinstance(label, str) and label == "least_frequent":
        counts = np.array([(y_sub == c).sum() for c in classes])
        return np.full(y_seed.shape[0], classes[np.argmin(counts)])
    if isinstance(label, str) and label == "least_confident":
        if estimator is None:
            raise ValueError(
                'label="least_confident" needs an estimator: pass the '
                "attacker's classifier as estimator=..."
            )
        least = _least_confident(estimator, candidates, X_src, y_src, rng, owner,
                                 feature_names)
        return np.full(y_seed.shape[0], least)
    if label not in set(classes.tolist()):
        raise ValueError(
            f"label={label!r} is neither a rule {list(LABEL_RULES)} nor one of "
            f"the classes {classes.tolist()}."
        )
    return np.full(y_seed.shape[0], label)


def _least_confident(estimator, candidates, X_src, y_src, rng, owner,
                     feature_names):
    """The class ``estimator`` finds least likely over the subpopulation."""
    model = prefit_estimator(estimator, param="estimator", owner=owner,
                             legacy_fitted=True)
    if model is None:
        # seeded from the attack's random_state: the chosen label is reproducible
        model = seed_unseeded(estimator, rng).fit(X_src, y_src)
    if isinstance(X_src, pd.DataFrame):  # the rows as given, any column type
        X_sub = X_src.iloc[candidates]
    else:
        X_sub = X_src[candidates]
        if hasattr(model, "feature_names_in_") and feature_names is not None:
            # a model fitted on DataFrames gets its named columns back
            X_sub = pd.DataFrame(X_sub, columns=feature_names)
    proba = np.asarray(model.predict_proba(X_sub)).sum(axis=0)
    return model.classes_[int(np.argmin(proba))]
