"""One rule for "use this fitted model as is": wrap it in ``FrozenEstimator``.

scikit-learn 1.9 removed ``cv="prefit"`` in favour of
:class:`sklearn.frozen.FrozenEstimator`; skpoison follows it everywhere an
estimator parameter could be a fitted model (an attack's finder, the targets'
finder, a surrogate net): unfrozen means cloned and fitted, frozen means used
as is. A fitted estimator that is not frozen is still used as is where
earlier releases did so, with a ``FutureWarning``, for one release.
"""

import warnings

from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["prefit_estimator"]


def _fitted(estimator):
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def prefit_estimator(estimator, *, param, owner, legacy_fitted=False,
                     is_fitted=_fitted):
    """The fitted model to use as is, or None when it must be cloned and fitted.

    Parameters
    ----------
    estimator : estimator
    param : str
        The parameter's name, for the messages.
    owner : str
        The estimator or function taking it, for the messages.
    legacy_fitted : bool, default=False
        Earlier releases used this parameter as is when fitted: do so once
        more, with a ``FutureWarning``.
    is_fitted : callable, default=check_is_fitted
        Whether an unfrozen ``estimator`` is fitted (only with
        ``legacy_fitted``).

    Returns
    -------
    estimator or None
        The frozen model (unwrapped) or, during the deprecation, the fitted
        unfrozen one; None otherwise.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        For a ``FrozenEstimator`` around an unfitted model.
    """
    if isinstance(estimator, FrozenEstimator):
        inner = estimator.estimator
        if not is_fitted(inner):
            raise NotFittedError(
                f"{owner}: {param} is a FrozenEstimator around a "
                f"{type(inner).__name__} that is not fitted; freeze a fitted "
                "model, or pass the model unfrozen to have it cloned and fitted."
            )
        return inner
    if legacy_fitted and is_fitted(estimator):
        warnings.warn(
            f"{owner}: the fitted {param} ({type(estimator).__name__}) is used as "
            "is because it is fitted. From skpoison 0.2 an unfrozen estimator is "
            "always cloned and fitted; wrap it in sklearn.frozen.FrozenEstimator "
            "to keep using it as is.", FutureWarning,
        )
        return estimator
    return None
