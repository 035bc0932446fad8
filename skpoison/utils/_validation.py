"""Input checks shared by several families."""

import numpy as np

__all__ = ["check_bounds"]


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
