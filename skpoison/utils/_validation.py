"""Input checks shared by several families."""

import numpy as np

__all__ = ["check_bounds", "check_numeric_frame", "is_dataframe", "is_number_dtype"]


def check_bounds(bounds, n_features, *, param="bounds", allow_infinite=True):
    """``(low, high)`` as two float64 arrays of shape (n_features,).

    Each of ``low`` and ``high`` is a scalar or an array-like of shape
    (n_features,). NaN, a wrong shape, a non-numeric value or ``low > high``
    raises a ValueError naming ``param``. Infinite values mean "unbounded on
    that side" (``allow_infinite=False`` rejects them).
    """
    try:
        n_items = len(bounds)
    except TypeError:
        n_items = None
    if n_items != 2:
        raise ValueError(
            f"{param} must be a tuple (low, high) of scalars or arrays of shape "
            f"({n_features},); got {bounds!r}."
        )
    out = []
    for side, value in zip(("low", "high"), bounds):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{param}: {side} must be numeric; got {value!r}.") from None
        if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_features):
            raise ValueError(
                f"{param}: {side} must be a scalar or have shape ({n_features},) "
                f"(one value per feature); got shape {arr.shape}."
            )
        if np.isnan(arr).any():
            raise ValueError(f"{param}: {side} contains NaN.")
        if not allow_infinite and np.isinf(arr).any():
            raise ValueError(f"{param}: {side} must be finite.")
        out.append(np.array(np.broadcast_to(arr, (n_features,))))
    low, high = out
    if np.any(low > high):
        j = int(np.flatnonzero(low > high)[0])
        raise ValueError(
            f"{param}: low must not exceed high; feature {j} has low={low[j]} > "
            f"high={high[j]}."
        )
    return low, high


def is_dataframe(X):
    """Whether ``X`` is a DataFrame (duck-typed: pandas is not imported)."""
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "dtypes")


def is_number_dtype(dtype):
    """Numbers and booleans; not strings, objects or pandas categories."""
    import pandas as pd

    return (pd.api.types.is_numeric_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))


def check_numeric_frame(X, input_name, estimator_name, *, advice=None):
    """A clear error naming the columns an estimator on feature values cannot use.

    A DataFrame with non-numeric columns (strings, categories, dates) or
    missing values is refused with the offending columns named, before a
    numpy conversion fails obscurely ("could not convert string to float").
    Anything but a DataFrame passes through.
    """
    if not is_dataframe(X):
        return
    advice = advice or ("Encode them first, for example with a "
                        "ColumnTransformer in a pipeline.")
    other = [(str(c), str(dt)) for c, dt in X.dtypes.items()
             if not is_number_dtype(dt)]
    if other:
        names = [c for c, _ in other]
        kinds = sorted({dt for _, dt in other})
        raise ValueError(
            f"{estimator_name} computes on the feature values and needs numeric "
            f"columns, but {input_name} has non-numeric columns {names} "
            f"(dtypes {kinds}). {advice}"
        )
    missing = [str(c) for c in X.columns[np.asarray(X.isna().any(axis=0))]]
    if missing:
        raise ValueError(
            f"Input {input_name} contains NaN (missing values) in columns "
            f"{missing}; {estimator_name} computes on the feature values and "
            "needs every one. Impute them first."
        )
