"""FeatureMatch: subpopulations defined by annotated feature values."""

from numbers import Integral

import numpy as np
import pandas as pd
from imblearn.utils import Substitution
from sklearn.utils.validation import check_array, check_is_fitted

from ..utils._compat import _fit_context
from ..utils._validation import is_dataframe
from ._base import _SHARED_PARAMS_DOC, BaseSubpopulationFinder
from ._describe import format_category


@Substitution(shared_params=_SHARED_PARAMS_DOC)
class FeatureMatch(BaseSubpopulationFinder):
    """Subpopulations as combinations of values of annotated columns.

    Read more in the :ref:`User Guide <finders>`.

    A subpopulation is one combination of values of ``columns`` seen in the
    data the finder is fitted on (the paper's FeatureMatch: an exact match on
    annotated, e.g. demographic, features). On the paper's Adult encoding the
    columns are the one-hot education, race and sex indicators, so each
    subpopulation is one (education level, race, sex) combination.

    Parameters
    ----------
    columns : str, int or list of str or int
        The annotated columns: names when ``X`` is a DataFrame, positions
        otherwise. Values may be numbers, strings, booleans or categories
        (a categorical column is matched on its values). A **missing value**
        (NaN, None, ``pd.NA``, NaT) is a value of its own, as
        :class:`~sklearn.preprocessing.OneHotEncoder` treats it: the rows
        whose annotation is missing form their own subpopulations, written
        ``None`` in ``combinations_`` and :meth:`describe` and ``missing`` in
        :meth:`describe_text`. Other columns of ``X`` are not read and may
        hold anything.

    {shared_params}

    random_state : int, RandomState instance or None, default=None
        Seeds the ``"random"`` target rule.

    Attributes
    ----------
    combinations_ : list of tuple
        The value combination of each raw id, in sorted order (a missing
        value, ``None``, after the others); the id of a subpopulation is its
        position in this list. Combinations not seen in ``fit`` get id -1
        from :meth:`predict`.
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

    References
    ----------
    .. [1] M. Jagielski, G. Severi, N. Pousette Harger and A. Oprea,
       "Subpopulation Data Poisoning Attacks", ACM CCS 2021 (FeatureMatch).
       Reference code: the authors' UCI Adult notebook, linked from their
       repository's README (the education, race and sex indicators), and
       ``basic_training.py`` (UTKFace annotations),
       https://github.com/jagielski/subpopulation-data-poisoning-attacks

    Examples
    --------
    >>> import pandas as pd
    >>> from skpoison.subpopulations import FeatureMatch
    >>> X = pd.DataFrame({{"race": ["a", "a", "b", "b", "b"],
    ...                   "sex": ["m", "f", "m", "m", "f"],
    ...                   "age": [30, 40, 50, 60, 70]}})
    >>> finder = FeatureMatch(["race", "sex"], target="largest").fit(X)
    >>> finder.combinations_
    [('a', 'f'), ('a', 'm'), ('b', 'f'), ('b', 'm')]
    >>> finder.target_
    3
    >>> finder.membership(X)
    array([False, False,  True,  True, False])
    >>> finder.describe(finder.target_)
    {{'race': 'b', 'sex': 'm'}}

    A missing value is a group of its own:

    >>> X.loc[4, "sex"] = None
    >>> finder = FeatureMatch(["race", "sex"]).fit(X)
    >>> finder.combinations_
    [('a', 'f'), ('a', 'm'), ('b', 'm'), ('b', None)]
    >>> finder.describe(3)
    {{'race': 'b', 'sex': None}}
    >>> finder.describe_text(3)
    'race=b, sex is missing'
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
        """The annotation values, an object 2-D array with None where missing."""
        cols = self._column_list()
        if is_dataframe(X):
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
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a "
                    f"minimum of 1 is required by {type(self).__name__}."
                )
            if all(isinstance(c, str) for c in cols):
                missing = [c for c in cols if c not in X.columns]
                if missing:
                    raise ValueError(f"columns {missing} are not columns of X.")
                positions = [X.columns.get_loc(c) for c in cols]
                if not all(isinstance(p, Integral) for p in positions):
                    raise ValueError(
                        f"columns {cols} name duplicated columns of X; give each "
                        "annotated column a unique name."
                    )
            else:
                positions = self._check_positions(cols, X.shape[1])
            return np.column_stack(
                [_frame_values(X.iloc[:, p], X.columns[p]) for p in positions])
        if any(isinstance(c, str) for c in cols):
            raise ValueError(
                f"columns={cols!r} are names, but X is not a DataFrame; pass "
                "a DataFrame or give column positions."
            )
        X = check_array(X, dtype=None, ensure_all_finite="allow-nan",
                        input_name="X")
        if X.dtype.kind not in "biufUSO":
            raise ValueError(f"Unsupported dtype {X.dtype} for X.")
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        values = X[:, self._check_positions(cols, X.shape[1])].astype(object)
        values[_missing_mask(values)] = None
        return values

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
        """Rows of annotation values as tuples; None is the missing value."""
        rows = [tuple(v.item() if hasattr(v, "item") else v for v in row)
                for row in values]
        for row in rows:
            for v in row:
                if v is not None and not isinstance(v, (str, bytes, int, float, bool)):
                    raise TypeError(
                        "FeatureMatch: annotation values must be strings or "
                        "numbers (argument must be a string or a number); got "
                        f"{type(v).__name__}."
                    )
        return rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value is a category
        return tags

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
        try:  # sorted, a missing value after the others
            combos = sorted(set(rows), key=lambda row: tuple(
                (v is None, 0 if v is None else v) for v in row))
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

    def _n_raw_ids(self):
        return len(self.combinations_)

    def describe(self, subpopulation):
        """The column values that define a subpopulation.

        Parameters
        ----------
        subpopulation : int
            A raw subpopulation id: a position in ``combinations_``, from 0 to
            ``len(combinations_) - 1`` (also one that did not pass the size
            filter).

        Returns
        -------
        values : dict
            Column name (or position) to value; ``None`` where the value is
            missing (NaN, None or ``pd.NA`` in the data).

        Raises
        ------
        ValueError
            When ``subpopulation`` is not such an id; the message gives the
            valid ids.
        """
        check_is_fitted(self, "combinations_")
        subpopulation = self._check_id(subpopulation)
        return dict(zip(self._column_list(), self.combinations_[subpopulation]))

    def describe_text(self, subpopulation):
        """A subpopulation in words: ``column=value`` pairs.

        A missing value reads ``column is missing``; numbers are written as
        people write them (``2.0`` as ``2``), without thousands separators
        (``year=2008``, ``gain=15024``), and a value holding a comma is quoted,
        so that no value reads as two.

        Parameters
        ----------
        subpopulation : int
            A raw subpopulation id, as for :meth:`describe`.

        Returns
        -------
        text : str
            For example ``"race=Black, sex=Female"`` or
            ``"workclass is missing, sex=Male"``.
        """
        return ", ".join(
            f"{column} is missing" if value is None
            else f"{column}={format_category(value)}"
            for column, value in self.describe(subpopulation).items())


def _missing_mask(values):
    """Where an object array holds a missing value (None, NaN, pd.NA, NaT)."""
    return np.asarray(pd.isna(values), dtype=bool)


def _frame_values(column, name):
    """One annotated DataFrame column as objects, None where missing."""
    if pd.api.types.is_float_dtype(column.dtype):
        finite = column.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(finite).any():
            raise ValueError(
                f"Input X contains infinity in the annotated column {name!r}."
            )
    values = column.to_numpy(dtype=object, copy=True)  # never a view of X
    values[np.asarray(pd.isna(column))] = None
    return values
