"""Seeding nested estimators from one ``random_state``."""

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state


def seed_unseeded(estimator, random_state, *, copy=True):
    """Set every unset ``random_state`` of ``estimator``, nested ones included.

    Parameters
    ----------
    estimator : estimator
        Its parameters named ``random_state`` or ``<prefix>__random_state``
        that are ``None`` get an int drawn from ``random_state``, in sorted
        parameter order, so the same ``random_state`` gives the same seeds.
    random_state : int, RandomState instance or None
        ``None`` leaves the estimator unseeded.
    copy : bool, default=True
        Clone ``estimator`` first (the caller's object is never modified).

    Returns
    -------
    estimator : estimator
    """
    if copy:
        estimator = clone(estimator)
    if random_state is None:
        return estimator
    rng = check_random_state(random_state)
    params = estimator.get_params(deep=True)
    updates = {}
    for key in sorted(params):
        if (key == "random_state" or key.endswith("__random_state")) \
                and params[key] is None:
            updates[key] = int(rng.randint(np.iinfo(np.int32).max))
    if updates:
        estimator.set_params(**updates)
    return estimator
