"""DataFrames and arrays of rows: checking, matching, appending, restoring.

The container handling of the attacks (as imbalanced-learn keeps its own in
``imblearn/utils/_validation.py``): rows that are only copied may hold any
column type and missing values; the attacker's rows are matched to the
victim's columns by name; poison rows are appended in the received rows'
container and dtypes; labels come back in the caller's container.
"""

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from ._validation import is_dataframe, is_number_dtype

__all__ = ["append_rows", "as_frame_like", "check_aux_kinds", "check_rows",
           "float_features", "infinite_objects", "match_aux_columns", "restore_y",
           "take_rows"]


def float_features(X):
    """``X`` with integer (and boolean) features cast to float64; never in place."""
    if is_dataframe(X):
        cols = [c for c, dt in X.dtypes.items()
                if pd.api.types.is_integer_dtype(dt) or pd.api.types.is_bool_dtype(dt)]
        return X.astype({c: np.float64 for c in cols}) if cols else X
    if isinstance(X, np.ndarray) and X.dtype.kind in "iub":
        return X.astype(np.float64)
    return X


def infinite_objects(values):
    """Whether an object array holds a float infinity (not the text 'inf')."""
    return any(isinstance(v, (float, np.floating)) and math.isinf(v)
               for v in values.ravel())


def check_rows(X, input_name):
    """Validate rows that an attack only copies: any column type, missing
    values allowed, infinity refused.

    A DataFrame comes back as is (its columns keep their dtypes); anything
    else as a 2-D array of its own dtype (objects for mixed values).
    """
    if not is_dataframe(X):
        X = check_array(X, dtype=None, ensure_all_finite="allow-nan",
                        input_name=input_name)
        if X.dtype.kind == "O" and infinite_objects(X):
            raise ValueError(f"Input {input_name} contains infinity.")
        return X
    if any(isinstance(dt, pd.SparseDtype) for dt in X.dtypes):
        raise TypeError(
            f"Sparse data was passed for {input_name}, but dense data is required: "
            "attacks copy and append dense rows. Use X.sparse.to_dense()."
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
            f"is required ({input_name})."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            f"is required ({input_name})."
        )
    infinite = []
    for c, dtype in X.dtypes.items():
        if pd.api.types.is_float_dtype(dtype):
            values = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isinf(values).any():
                infinite.append(str(c))
        elif dtype == object and infinite_objects(X[c].to_numpy()):
            infinite.append(str(c))
    if infinite:
        raise ValueError(f"Input {input_name} contains infinity in columns {infinite}.")
    return X


def match_aux_columns(X, X_aux):
    """``X_aux`` with ``X``'s columns, matched by name when both have names."""
    if is_dataframe(X) and is_dataframe(X_aux):
        ours, theirs = list(X.columns), list(X_aux.columns)
        if ours == theirs:
            return X_aux
        missing = [c for c in ours if c not in theirs]
        extra = [c for c in theirs if c not in ours]
        if missing or extra:
            raise ValueError(
                "aux: the columns of X_aux do not match those of X (matched by "
                f"name): missing from X_aux {missing}, not in X {extra}. The "
                "attacker's rows must have the victim's columns."
            )
        if len(set(ours)) != len(ours) or len(set(theirs)) != len(theirs):
            raise ValueError(
                "aux: X and X_aux have duplicated column names in a different "
                "order; columns cannot be matched by name."
            )
        return X_aux[ours]  # a new frame in X's column order
    if is_dataframe(X) != is_dataframe(X_aux):
        named, other = ("X", "X_aux") if is_dataframe(X) else ("X_aux", "X")
        warnings.warn(
            f"aux: {named} is a DataFrame with column names but {other} is not: "
            f"the columns of X_aux are taken by position, in X's order. Pass "
            "both as DataFrames to match them by name.",
            UserWarning,
        )
    return X_aux


def check_aux_kinds(X, X_aux):
    """Numeric columns of ``X`` must be numeric in ``X_aux`` and the reverse."""
    if is_dataframe(X) and is_dataframe(X_aux):
        bad = [f"{c!s} ({X[c].dtype} in X, {X_aux[c].dtype} in X_aux)"
               for c in X.columns
               if is_number_dtype(X[c].dtype) != is_number_dtype(X_aux[c].dtype)]
        if bad:
            raise ValueError(
                "aux: columns that are numbers in one of X and X_aux but not in the "
                f"other: {', '.join(bad)}. Give the attacker's rows the victim's "
                "column types."
            )


def as_frame_like(X, rows):
    """``rows`` (a DataFrame or a 2-D array) with ``X``'s columns and, where it
    loses nothing, ``X``'s dtypes; ``X`` itself, with its categorical columns
    widened when ``rows`` brings new categories."""
    if not is_dataframe(rows):
        rows = pd.DataFrame(np.asarray(rows, dtype=object), columns=X.columns)
        rows = rows.infer_objects()
    else:
        rows = rows.set_axis(X.columns, axis=1)
    casts_X, casts_rows = {}, {}
    for j, c in enumerate(X.columns):
        target = X.dtypes.iloc[j]
        column = rows.iloc[:, j]
        if column.dtype == target:
            continue
        if isinstance(target, pd.CategoricalDtype):
            present = pd.unique(column.dropna())
            new = [v for v in present if v not in set(target.categories)]
            if new and target.ordered:
                raise ValueError(
                    f"aux: X_aux's column {c!s} holds categories {new[:5]} that are "
                    "not among the ordered categories of X's column; they cannot "
                    "be placed in its order."
                )
            if new:
                target = pd.CategoricalDtype(list(target.categories) + list(new))
                casts_X[j] = target
            casts_rows[j] = target
        elif pd.api.types.is_integer_dtype(target) and pd.api.types.is_float_dtype(
                column.dtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
                casts_rows[j] = target
    if casts_rows:
        rows = pd.concat(
            [rows.iloc[:, j].astype(casts_rows[j]) if j in casts_rows
             else rows.iloc[:, j] for j in range(rows.shape[1])], axis=1)
    if casts_X:
        X = pd.concat(
            [X.iloc[:, j].astype(casts_X[j]) if j in casts_X else X.iloc[:, j]
             for j in range(X.shape[1])], axis=1)
    return X, rows


def append_rows(X, rows):
    """The received rows, unchanged and in order, then ``rows``."""
    if not is_dataframe(X):
        return np.concatenate([X, np.asarray(rows).astype(X.dtype, copy=False)],
                              axis=0)
    X, rows = as_frame_like(X, rows)
    return pd.concat([X, rows], axis=0, ignore_index=True)


def restore_y(y_res, y_given, index):
    """``y_res`` in the container of ``y_given``, as imbalanced-learn returns it."""
    if isinstance(y_given, pd.Series):
        return pd.Series(y_res, dtype=y_given.dtype, name=y_given.name, index=index)
    if isinstance(y_given, pd.DataFrame):
        return pd.DataFrame(y_res, columns=y_given.columns, index=index).astype(
            y_given.dtypes)
    if isinstance(y_given, list):
        return y_res.tolist()
    return y_res


def take_rows(X, idx):
    """Rows ``idx`` of an array or a DataFrame (a copy)."""
    return X.iloc[idx].copy() if is_dataframe(X) else X[idx].copy()
