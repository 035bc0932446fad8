"""Shared machinery of the subpopulation finders.

A finder splits rows into subpopulations (``predict`` gives an id per row, -1
for none), keeps those whose size passes the filter, and names one of them the
*target* (``target_``). ``membership(X)`` is the paper's filter function
``F(x) = 1[x is in the target subpopulation]``.

Concrete finders implement ``_fit_ids(X)`` (learn the partition, return the raw
id of every training row) and ``_raw_ids(X)`` (assign raw ids to new rows,
-1 where none applies).
"""

import copy
from abc import abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import Interval, StrOptions

TARGET_RULES = ("largest", "smallest", "random")

_SHARED_PARAMS_DOC = """
    target : int, {"largest", "smallest", "random"} or None, default=None
        The subpopulation to attack. An int is a subpopulation id (one of
        ``subpopulations_`` after fitting); a rule picks one among the
        subpopulations that pass the size filter: the largest, the smallest, or
        one at random (seeded by ``random_state``). ``None`` means
        ``"largest"``. Ties are broken by the smallest id.

    min_size : int, default=None
        Keep only subpopulations with strictly more than ``min_size`` rows in
        the data the finder is fitted on. The paper's Adult filter is
        ``min_size=10, max_size=100``, counted on the attacker's auxiliary rows.

    max_size : int, default=None
        Keep only subpopulations with strictly fewer than ``max_size`` rows.
""".strip()


class BaseSubpopulationFinder(TransformerMixin, BaseEstimator):
    """Base class of subpopulation finders. Not for direct use."""

    _parameter_constraints = {
        "target": [Interval(Integral, None, None, closed="neither"),
                   StrOptions(set(TARGET_RULES)), None],
        "min_size": [Interval(Integral, 0, None, closed="left"), None],
        "max_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    # ------------------------------------------------------------------ API
    def _finish_fit(self, raw_ids, random_state=None):
        """Count, filter by size and resolve the target from fitted raw ids."""
        if (self.min_size is not None and self.max_size is not None
                and self.min_size >= self.max_size - 1):
            raise ValueError(
                f"min_size={self.min_size} and max_size={self.max_size} leave no "
                "admissible size: sizes must satisfy min_size < n < max_size."
            )
        ids, counts = np.unique(raw_ids[raw_ids >= 0], return_counts=True)
        keep = np.ones(ids.shape[0], dtype=bool)
        if self.min_size is not None:
            keep &= counts > self.min_size
        if self.max_size is not None:
            keep &= counts < self.max_size
        if not keep.any():
            raise ValueError(
                f"No subpopulation passes the size filter min_size={self.min_size}, "
                f"max_size={self.max_size}: sizes found range from "
                f"{counts.min() if counts.size else 0} to "
                f"{counts.max() if counts.size else 0}."
            )
        self.subpopulations_ = ids[keep]
        self.sizes_ = counts[keep]
        self._kept = set(self.subpopulations_.tolist())
        self.target_ = self._resolve_target(self.target, random_state)
        return self

    def _resolve_target(self, target, random_state=None):
        if target is None:
            target = "largest"
        if isinstance(target, str):
            if target == "largest":
                return int(self.subpopulations_[np.argmax(self.sizes_)])
            if target == "smallest":
                return int(self.subpopulations_[np.argmin(self.sizes_)])
            rng = check_random_state(random_state)
            return int(rng.choice(self.subpopulations_))
        target = int(target)
        if target not in self._kept:
            raise ValueError(
                f"target={target} is not a subpopulation that passed the size "
                f"filter; valid ids are {self.subpopulations_.tolist()[:20]}"
                f"{' ...' if len(self.subpopulations_) > 20 else ''}."
            )
        return target

    def predict(self, X):
        """Subpopulation id of each row, -1 for rows in none that was kept.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to assign.

        Returns
        -------
        ids : ndarray of shape (n_samples,)
            The id of each row's subpopulation among ``subpopulations_``, or
            -1 where the row falls in no kept subpopulation.
        """
        check_is_fitted(self, "subpopulations_")
        raw = self._raw_ids(X)
        kept = np.isin(raw, self.subpopulations_)
        return np.where(kept, raw, -1).astype(np.intp)

    def membership(self, X, target=None):
        """Mask of the rows in the target subpopulation: the filter ``F(x)``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to test.
        target : int, default=None
            A subpopulation id to test instead of ``target_``.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
        """
        check_is_fitted(self, "subpopulations_")
        target = self.target_ if target is None else self._resolve_target(target)
        return self._raw_ids(X) == target

    def transform(self, X):
        """Indicator of each kept subpopulation, one column per id.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        indicators : ndarray of shape (n_samples, n_subpopulations)
            ``indicators[i, j] = 1.0`` when row ``i`` is in subpopulation
            ``subpopulations_[j]``.
        """
        ids = self.predict(X)
        return (ids[:, None] == self.subpopulations_[None, :]).astype(np.float64)

    def get_feature_names_out(self, input_features=None):
        """Output names: ``"<classname>_<id>"`` per kept subpopulation."""
        check_is_fitted(self, "subpopulations_")
        prefix = self.__class__.__name__.lower()
        return np.asarray([f"{prefix}_{i}" for i in self.subpopulations_], dtype=object)

    def retarget(self, target):
        """A fitted copy of this finder that targets another subpopulation.

        Fitting is the expensive part of a finder (k-means, grouping); the
        target is a cheap choice made afterwards. An audit fits the finder once
        and takes one ``retarget`` per subpopulation, typically wrapped in
        :class:`sklearn.frozen.FrozenEstimator` so attacks use it as is.

        Parameters
        ----------
        target : int or {"largest", "smallest", "random"}
            The new target (see the ``target`` parameter).

        Returns
        -------
        finder : estimator
            A shallow copy, already fitted, with ``target`` and ``target_`` set.
        """
        check_is_fitted(self, "subpopulations_")
        new = copy.copy(self)
        new.target = target
        new.target_ = new._resolve_target(target, getattr(self, "random_state", None))
        return new

    def describe_text(self, subpopulation):
        """A subpopulation in words, for tables and reports.

        Parameters
        ----------
        subpopulation : int
            A raw subpopulation id.

        Returns
        -------
        text : str
            ``str(self.describe(subpopulation))`` for a finder with a
            ``describe`` method, ``"subpopulation <id>"`` otherwise.
        """
        check_is_fitted(self, "subpopulations_")
        if hasattr(self, "describe"):
            return str(self.describe(subpopulation))
        return f"subpopulation {self._check_id(subpopulation)}"

    def _n_raw_ids(self):
        """Number of raw ids: valid ids are ``0 .. _n_raw_ids() - 1``."""
        return int(np.max(self.subpopulations_)) + 1

    def _check_id(self, subpopulation):
        """``subpopulation`` as an int, or a clear error naming the valid ids."""
        n = self._n_raw_ids()
        valid = f"valid ids are 0 to {n - 1}" if n > 1 else "the valid id is 0"
        kept = self.subpopulations_.tolist()
        kept_text = (f"{kept[:20]}{' ...' if len(kept) > 20 else ''}")
        if isinstance(subpopulation, (bool, np.bool_)) or not isinstance(
                subpopulation, Integral):
            raise TypeError(
                f"subpopulation must be an integer id; got {subpopulation!r} "
                f"({type(subpopulation).__name__}); {valid} (those that passed "
                f"the size filter: {kept_text})."
            )
        if not 0 <= int(subpopulation) < n:
            raise ValueError(
                f"subpopulation={int(subpopulation)} is not a subpopulation id of "
                f"this {type(self).__name__}: {valid} (those that passed the "
                f"size filter: {kept_text})."
            )
        return int(subpopulation)

    @abstractmethod
    def _raw_ids(self, X):
        """Raw id of each row, before the size filter; -1 for none."""
