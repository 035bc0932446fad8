"""Unwrapping pipelines: the final step and the rows it sees.

One helper for every family that needs "the model at the end of a
(possibly nested) scikit-learn or imbalanced-learn pipeline": the
representation defenses, SEVER's gradients, fine-pruning and the audit.
Samplers (steps with ``fit_resample``) only act at fit time, so they are
skipped when rows are pushed through a fitted pipeline, as imbalanced-learn
does at predict time.
"""

__all__ = ["final_step", "is_pipeline"]


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
