"""Unwrapping pipelines: the steps, the rows each one sees, and finding one.

One place for every family that looks inside a (possibly nested, possibly
fitted and searched) model: the representation defenses, SEVER's gradients,
fine-pruning, the scorers (the fitted attack, the defense), the certified
measurements (the certifying step) and the audit.

Samplers (steps with ``fit_resample``) only act at fit time, so they are
skipped when rows are pushed through a fitted pipeline, as imbalanced-learn
does at predict time; so are ``None``/``"passthrough"`` steps and the steps a
pipeline declares as passing rows through unchanged (skpoison's
``Pipeline._passthrough_steps``: a finder step bound to the attack after it).
"""

from sklearn.base import clone

__all__ = ["final_step", "find_step", "fit_transform_to_final", "is_pipeline",
           "skipped_step", "transforming_steps"]


def is_pipeline(estimator):
    """Whether ``estimator`` is a pipeline (has ``steps``)."""
    return hasattr(estimator, "steps")


def skipped_step(step):
    """Whether rows pass ``step`` unchanged at predict time (samplers,
    ``None`` and ``"passthrough"``)."""
    return step is None or (isinstance(step, str) and step == "passthrough") \
        or hasattr(step, "fit_resample")


def _steps(pipeline):
    """``(step, skipped)`` for each step of ``pipeline``, in order."""
    declared = getattr(pipeline, "_passthrough_steps", None)
    passthrough = declared() if callable(declared) else set()
    return [(step, skipped_step(step) or i in passthrough)
            for i, (_, step) in enumerate(pipeline.steps)]


def transforming_steps(pipeline):
    """``(name, step)`` of the steps before the last that change the rows
    (neither samplers, ``None``/``"passthrough"`` nor bound finder steps)."""
    return [(name, step) for (name, step), (_, skipped)
            in zip(pipeline.steps[:-1], _steps(pipeline)[:-1]) if not skipped]


# meta-estimators whose fitted inner estimator sees the rows they receive
_INNER = ("attack_", "estimator_")


def _walk(node, match, chain):
    if match(node):
        return node, chain
    if hasattr(node, "best_estimator_"):  # a fitted search
        found = _walk(node.best_estimator_, match, chain)
        if found is not None:
            return found
    if is_pipeline(node):
        before = list(chain)
        for step, skipped in _steps(node):
            found = _walk(step, match, before)
            if found is not None:
                return found
            if not skipped:
                before = [*before, step]
        return None
    for attr in _INNER:
        inner = getattr(node, attr, None)
        if inner is not None and inner is not node:
            found = _walk(inner, match, chain)
            if found is not None:
                return found
    return None


def find_step(estimator, match):
    """The first step of a fitted model that ``match`` accepts, and its input.

    Depth first through fitted searches (``best_estimator_``), pipelines
    (scikit-learn's and imbalanced-learn's, nested or not; each step in
    order) and meta-estimators that pass their rows on (``attack_``,
    ``estimator_``: :class:`~skpoison.pipeline.PoisonedEstimator`, the
    defenses). ``estimator`` itself is tried first.

    Parameters
    ----------
    estimator : fitted estimator
    match : callable
        ``match(step) -> bool``.

    Returns
    -------
    step : estimator or None
        ``None`` when nothing matches.
    to_input : callable or None
        ``X -> X`` as ``step`` receives it: through every fitted step before
        it (samplers, ``"passthrough"`` and bound finder steps skipped).
    """
    found = _walk(estimator, match, [])
    if found is None:
        return None, None
    step, chain = found

    def to_input(X):
        for before in chain:
            X = before.transform(X)
        return X

    return step, to_input


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
        steps = _steps(estimator)
        if X is not None:
            for step, skipped in steps[:-1]:
                if not skipped:
                    X = step.transform(X)
        estimator = steps[-1][0]
    return estimator, X


def _fit_transform_step(step, X, y, skipped=False):
    """``X`` after a clone of ``step`` fitted on ``(X, y)`` (skipped steps: as is)."""
    if skipped or skipped_step(step):
        return X
    if is_pipeline(step):  # descend: a nested pipeline may hold a sampler
        for sub, sub_skipped in _steps(step):
            X = _fit_transform_step(sub, X, y, sub_skipped)
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
        steps = _steps(estimator)
        for step, skipped in steps[:-1]:
            X = _fit_transform_step(step, X, y, skipped)
        estimator = steps[-1][0]
    return X
