"""Shared machinery of the defenses: meta-estimators around any classifier.

Modelled on :class:`sklearn.linear_model.RANSACRegressor`: the defense fits
clones of ``estimator`` on subsets of the rows it receives, keeps the final one
as ``estimator_`` and marks the rows it was trained on in ``support_mask_``.
Prediction methods delegate to ``estimator_``.

:class:`BaseDefense` owns what the filtering defenses share: the rounds of
"fit on the kept rows, score every row, drop the highest scores"
(:meth:`~BaseDefense._score_and_trim`, TRIM and SEVER's norm filter), the
guard against dropping a whole class, and the closing refit
(:meth:`~BaseDefense._finish`).
"""

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.ensemble import (
    BaseEnsemble,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from ..utils._compat import HasMethods, _safe_indexing
from ..utils._delegation import DelegatingClassifierMixin
from ..utils._seeding import seed_unseeded

# warm_start=True on these grows the ensemble instead of refitting it: a warm
# fit with unchanged n_estimators/max_iter is a no-op, so estimator_ would not
# be trained on support_mask_.
_GROWING_ENSEMBLES = (BaseEnsemble, HistGradientBoostingClassifier,
                      HistGradientBoostingRegressor)


def check_training_labels(name, X, y):
    """``y`` as a 1-D array of at least two classes, one label per row of ``X``.

    The errors name ``name`` (the defense): a missing ``y``, a length that
    differs from ``X``, no rows at all, a continuous target, one class.
    """
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    y = column_or_1d(np.asarray(y), warn=True)
    check_consistent_length(X, y)
    if y.shape[0] == 0:
        raise ValueError(
            f"{name} got empty input: X and y have 0 rows; fitting needs rows of "
            "at least two classes."
        )
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.shape[0] < 2:
        raise ValueError(
            f"{name} needs at least two classes in y; got 1 class: "
            f"{classes.tolist()}."
        )
    return y


def inherit_input_tags(tags, estimator):
    """``tags`` with the input tags a wrapper takes from its ``estimator``:
    what it accepts (sparse, NaN, strings, categories) is what the model does."""
    inner = get_tags(estimator)
    tags.input_tags.sparse = inner.input_tags.sparse
    tags.input_tags.allow_nan = inner.input_tags.allow_nan
    tags.input_tags.string = inner.input_tags.string
    tags.input_tags.categorical = inner.input_tags.categorical
    return tags


class BaseDefense(DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin,
                  BaseEstimator):
    """Base class of the defenses. Not for direct use."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "random_state": ["random_state"],
    }

    def _validate_training_data(self, X, y):
        """Record input metadata, check y; X goes to the estimator as given.

        Only what row selection (``_rows``) cannot index is converted: sparse
        formats other than CSR/CSC (COO, DIA, BSR, ...) to CSR, and
        array-likes without ``__getitem__`` to ndarrays. Returns ``X, y``.
        """
        validate_data(self, X, skip_check_array=True)
        if sp.issparse(X):
            if X.format not in ("csr", "csc"):
                X = X.tocsr()
        elif not hasattr(X, "__getitem__"):
            X = np.asarray(X)
        return X, check_training_labels(type(self).__name__, X, y)

    def _resolve_n_remove(self, n_samples):
        """``n_remove`` (a count, or a fraction of ``n_samples``) as a count."""
        if isinstance(self.n_remove, Integral) and not isinstance(self.n_remove, bool):
            n_remove = int(self.n_remove)
        else:
            n_remove = int(self.n_remove * n_samples)
        if n_remove >= n_samples - 1:
            raise ValueError(
                f"n_remove={self.n_remove} removes {n_remove} of {n_samples} rows; "
                "at least two rows must remain."
            )
        return n_remove

    def _can_warm_start(self, estimator):
        """Whether refits of ``estimator`` may warm-start from the last round."""
        return (getattr(self, "warm_start", False)
                and "warm_start" in estimator.get_params(deep=False)
                and not isinstance(estimator, _GROWING_ENSEMBLES))

    def _make_estimator(self):
        """A clone of ``estimator`` whose unset random states, nested ones
        included, are seeded from ``random_state``."""
        return seed_unseeded(self.estimator, self.random_state)

    @staticmethod
    def _rows(X, mask):
        return _safe_indexing(X, np.flatnonzero(mask))

    # ------------------------------------------------------------ rounds
    def _fit_round(self, estimator, X, y, keep, can_warm):
        """Fit ``estimator`` on the kept rows (one round).

        Returns ``(fitted_on, X_kept)``: a copy of ``keep`` and the rows of
        ``X`` it was fitted on.
        """
        X_kept = self._rows(X, keep)
        estimator.fit(X_kept, y[keep])
        self.n_iter_ += 1
        if can_warm:
            estimator.set_params(warm_start=True)
        return keep.copy(), X_kept

    def _wipes_a_class(self, y, new_keep, n_remove, n_classes):
        """Warn and return True when ``new_keep`` loses every row of a class
        (``n_classes``: the classes of ``y``, counted once per fit)."""
        if np.unique(y[new_keep]).shape[0] < n_classes:
            warnings.warn(
                f"{type(self).__name__}: removing the n_remove={n_remove} "
                f"highest-scoring rows in round {self.n_iter_} would drop every row "
                "of a class; filtering stopped with the previous kept set.",
                UserWarning,
            )
            return True
        return False

    def _score_and_trim(self, estimator, X, y, n_remove, score):
        """Rounds of: fit on the kept rows, score all rows, drop the ``n_remove`` highest.

        Stops when the kept set no longer changes (converged), after
        ``max_iter`` rounds, or before a round that would drop a whole class.
        ``score(estimator)`` returns one score per row of ``X`` (higher: more
        suspicious; ties broken by row order).

        Returns
        -------
        keep : ndarray of bool
        fitted_on : ndarray of bool
            The rows ``estimator`` was last fitted on.
        converged : bool
        """
        n_samples = y.shape[0]
        can_warm = self._can_warm_start(estimator)
        n_classes = np.unique(y).shape[0]
        keep = np.ones(n_samples, dtype=bool)
        for _ in range(self.max_iter):
            fitted_on, _ = self._fit_round(estimator, X, y, keep, can_warm)
            scores = score(estimator)
            new_keep = np.ones(n_samples, dtype=bool)
            if n_remove:
                new_keep[np.argsort(-scores, kind="stable")[:n_remove]] = False
            if np.array_equal(new_keep, keep):
                return keep, fitted_on, True
            if self._wipes_a_class(y, new_keep, n_remove, n_classes):
                break
            keep = new_keep
        return keep, fitted_on, False

    def _finish(self, estimator, X, y, keep, fitted_on=None):
        """Refit on the kept rows unless ``estimator`` was last fitted on exactly
        them (``fitted_on``); set ``estimator_`` and ``support_mask_``."""
        if fitted_on is None or not np.array_equal(fitted_on, keep):
            estimator.fit(self._rows(X, keep), y[keep])
        self.estimator_ = estimator
        self.support_mask_ = keep
        return self

    def __sklearn_tags__(self):
        return inherit_input_tags(super().__sklearn_tags__(), self.estimator)
