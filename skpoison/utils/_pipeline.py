"""Unwrapping pipelines: the final step and the rows it sees.

One helper for every family that needs "the model at the end of a
(possibly nested) scikit-learn or imbalanced-learn pipeline": the
representation defenses, SEVER's gradients, fine-pruning and the audit.
Samplers (steps with ``fit_resample``) only act at fit time, so they are
skipped when rows are pushed through a fitted pipeline, as imbalanced-learn
does at predict time.
"""

from sklearn.base import clone

__all__ = ["final_step", "fit_transform_to_final", "is_pipeline"]


def is_pipeline(estimator):
    """Whether ``estimator`` is a pipeline (has ``steps``)."""
    return hasattr(estimator, "steps")


def _skipped(step):
    return step is None or (isinstance(step, str) and step == "passthrough") \
        or hasattr(step, "fit_resample")


def final_step(estimator, X=None):
    """The last step of a (nested) pipeline, and ``X`` transformed up to it.

    Parameters
    ----------
    estimator : estimator
        A pipeline (scikit-learn's or imbalanced-learn's, nested or not) or
        any other estimator (returned as is).
    X : array-like, default=None
        Rows in the pipeline's input space. ``None``: only the final step is
        looked up; no step needs to be fitted.

    Returns
    -------
    final : estimator
    X : array-like or None
        ``X`` after every fitted step before ``final`` (samplers and
        ``"passthrough"`` skipped).
    """
    while is_pipeline(estimator):
        steps = [step for _, step in estimator.steps]
        if X is not None:
            for step in steps[:-1]:
                if not _skipped(step):
                    X = step.transform(X)
        estimator = steps[-1]
    return estimator, X



def _fit_transform_step(step, X, y):
    """``X`` after a clone of ``step`` fitted on ``(X, y)`` (skipped steps: as is)."""
    if _skipped(step):
        return X
    if is_pipeline(step):  # descend: a nested pipeline may hold a sampler
        for _, sub in step.steps:
            X = _fit_transform_step(sub, X, y)
        return X
    step = clone(step)
    if hasattr(step, "fit_transform"):
        return step.fit_transform(X, y)
    return step.fit(X, y).transform(X)


def fit_transform_to_final(estimator, X, y=None):
    """``X`` as the final step of an unfitted (nested) pipeline would see it.

    Clones of every step before the final model are fitted on all of
    ``(X, y)`` and transform it in turn; nested pipelines are descended (the
    steps of the outer and inner pipelines all count); samplers and
    ``"passthrough"``/``None`` steps are skipped, as by :func:`final_step`,
    so every row of ``X`` keeps its place. ``estimator`` itself is not
    fitted. Not a pipeline: ``X`` as given.

    Parameters
    ----------
    estimator : estimator
        A pipeline (scikit-learn's or imbalanced-learn's, nested or not) or
        any other estimator.
    X : array-like
        Rows in the pipeline's input space.
    y : array-like, default=None
        Their labels, for supervised preprocessing.

    Returns
    -------
    X : array-like
        One row per row of ``X``, in the final step's input space.
    """
    while is_pipeline(estimator):
        steps = [step for _, step in estimator.steps]
        for step in steps[:-1]:
            X = _fit_transform_step(step, X, y)
        estimator = steps[-1]
    return X
