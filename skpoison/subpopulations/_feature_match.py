"""FeatureMatch: subpopulations defined by annotated feature values."""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ..utils._compat import _fit_context
from ._base import _SHARED_PARAMS_DOC, BaseSubpopulationFinder


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


class FeatureMatch(BaseSubpopulationFinder):
    __doc__ = """Subpopulations as combinations of values of annotated columns.

    A subpopulation is one combination of values of ``columns`` seen in the
    data the finder is fitted on (the paper's FeatureMatch: an exact match on
    annotated, e.g. demographic, features). On the paper's Adult encoding the
    columns are the one-hot education, race and sex indicators, so each
    subpopulation is one (education level, race, sex) combination.

    Parameters
    ----------
    columns : str, int or list of str or int
        The annotated columns: names when ``X`` is a DataFrame, positions
        otherwise. Values may be numbers or strings.
    """ + _SHARED_PARAMS_DOC + """
    random_state : int, RandomState instance or None, default=None
        Seeds the ``"random"`` target rule.

    Attributes
    ----------
    combinations_ : list of tuple
        The value combination of each raw id, in sorted order; the id of a
        subpopulation is its position in this list.
    subpopulations_ : ndarray of int
        Ids of the subpopulations that pass the size filter.
    sizes_ : ndarray of int
        Number of fitted rows in each of ``subpopulations_``.
    target_ : int
        Id of the target subpopulation.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it is a DataFrame with string names.

    See Also
    --------
    ClusterMatch : Subpopulations as k-means clusters of a representation.

    Examples
    --------
    >>> import pandas as pd
    >>> from skpoison.subpopulations import FeatureMatch
    >>> X = pd.DataFrame({"race": ["a", "a", "b", "b", "b"],
    ...                   "sex": ["m", "f", "m", "m", "f"],
    ...                   "age": [30, 40, 50, 60, 70]})
    >>> finder = FeatureMatch(["race", "sex"], target="largest").fit(X)
    >>> finder.combinations_
    [('a', 'f'), ('a', 'm'), ('b', 'f'), ('b', 'm')]
    >>> finder.target_
    3
    >>> finder.membership(X)
    array([False, False,  True,  True, False])
    >>> finder.describe(finder.target_)
    {'race': 'b', 'sex': 'm'}
    """

    _parameter_constraints = {
        **BaseSubpopulationFinder._parameter_constraints,
        "columns": [str, Integral, list, tuple, np.ndarray],
        "random_state": ["random_state"],
    }

    def __init__(self, columns, *, target=None, min_size=None, max_size=None,
                 random_state=None):
        self.columns = columns
        self.target = target
        self.min_size = min_size
        self.max_size = max_size
        self.random_state = random_state

    def _column_list(self):
        cols = self.columns
        if isinstance(cols, (str, Integral)):
            return [cols]
        cols = list(cols)
        if not cols:
            raise ValueError("columns must name at least one column.")
        return cols

    def _select(self, X, reset):
        """Validated annotation values, an object or numeric 2-D array."""
        cols = self._column_list()
        if _is_dataframe(X):
            if reset:
                self.n_features_in_ = X.shape[1]
                names = np.asarray(X.columns, dtype=object)
                if all(isinstance(c, str) for c in names):
                    self.feature_names_in_ = names
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
            if all(isinstance(c, str) for c in cols):
                missing = [c for c in cols if c not in X.columns]
                if missing:
                    raise ValueError(f"columns {missing} are not columns of X.")
                values = X[cols]
            else:
                values = X.iloc[:, self._check_positions(cols, X.shape[1])]
            if values.isna().to_numpy().any():  # also None and pd.NA
                raise ValueError(
                    "Input X contains NaN (a missing value) in the annotated "
                    "columns; FeatureMatch needs every annotated value."
                )
            return check_array(values, dtype=None, ensure_all_finite=True,
                               input_name="X")
        if any(isinstance(c, str) for c in cols):
            raise ValueError(
                f"columns={cols!r} are names, but X is not a DataFrame; pass "
                "a DataFrame or give column positions."
            )
        X = check_array(X, dtype=None, ensure_all_finite=True, input_name="X")
        if X.dtype.kind not in "biufUSO":
            raise ValueError(f"Unsupported dtype {X.dtype} for X.")
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return X[:, self._check_positions(cols, X.shape[1])]

    @staticmethod
    def _check_positions(cols, n_features):
        bad = [c for c in cols if not (-n_features <= int(c) < n_features)]
        if bad:
            raise ValueError(
                f"columns {bad} are out of range for X with {n_features} features."
            )
        return [int(c) for c in cols]

    @staticmethod
    def _as_tuples(values):
        rows = [tuple(v.item() if hasattr(v, "item") else v for v in row)
                for row in values]
        if values.dtype == object:
            for row in rows:
                for v in row:
                    # check_array's NaN test misses these missing values
                    if v is None or type(v).__name__ in ("NAType", "NaTType"):
                        raise ValueError(
                            "Input X contains NaN: a missing annotation value "
                            f"({v!r}); FeatureMatch needs every annotated value."
                        )
                    if not isinstance(v, (str, bytes, int, float, bool)):
                        raise TypeError(
                            "FeatureMatch: annotation values must be strings or "
                            "numbers (argument must be a string or a number); got "
                            f"{type(v).__name__}."
                        )
        return rows

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the value combinations of ``columns`` and resolve the target.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows carrying the annotations (the attacker's auxiliary data).
        y : None
            Ignored.

        Returns
        -------
        self : FeatureMatch
        """
        rows = self._as_tuples(self._select(X, reset=True))
        try:
            combos = sorted(set(rows))
        except TypeError:  # mixed, unorderable values: keep first-seen order
            combos = list(dict.fromkeys(rows))
        self.combinations_ = combos
        self._lookup = {c: i for i, c in enumerate(combos)}
        raw = np.fromiter((self._lookup[r] for r in rows), dtype=np.intp,
                          count=len(rows))
        return self._finish_fit(raw, self.random_state)

    def _raw_ids(self, X):
        rows = self._as_tuples(self._select(X, reset=False))
        return np.fromiter((self._lookup.get(r, -1) for r in rows), dtype=np.intp,
                           count=len(rows))

    def describe(self, subpopulation):
        """The column values that define a subpopulation.

        Parameters
        ----------
        subpopulation : int
            A raw subpopulation id.

        Returns
        -------
        values : dict
            Column name (or position) to value.
        """
        check_is_fitted(self, "combinations_")
        return dict(zip(self._column_list(), self.combinations_[int(subpopulation)]))
