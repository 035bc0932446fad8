"""Readable, complete descriptions of estimators and their parameters.

Pipelines read as their steps joined by arrows, a ColumnTransformer as each
part with the columns it takes (any column specification), an estimator as
its class name and the parameters that differ from their defaults. Nothing is
abbreviated and no memory address is shown.
"""

import functools
import inspect
from collections.abc import Mapping
from numbers import Integral

import numpy as np

from ._annotations import ANNOTATION_PREFIX


def _short(column):
    return str(column).removeprefix(ANNOTATION_PREFIX)


def _name(obj):
    return getattr(obj, "__name__", None) or type(obj).__name__


def _same(a, b):
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        same = a == b
        return bool(same) if not isinstance(same, np.ndarray) else bool(same.all())
    except Exception:  # noqa: BLE001 - objects that refuse comparison differ
        return False


def _changed_params(estimator):
    """``get_params(deep=False)`` without defaults, nor the ``None`` that the
    audit fills in (a template's finder or estimator)."""
    params = estimator.get_params(deep=False)
    try:
        signature = inspect.signature(type(estimator).__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        signature = {}
    out = {}
    for key, value in params.items():
        spec = signature.get(key)
        if spec is not None and spec.default is not inspect.Parameter.empty:
            if _same(value, spec.default):
                continue
        elif value is None:  # a required slot left for the audit
            continue
        out[key] = value
    return out


def _columns_text(columns):
    """Any ColumnTransformer column specification in words: names or
    indices, a slice, a boolean mask, a ``make_column_selector``, a callable;
    anything else as its ``repr``."""
    if isinstance(columns, (str, Integral)):
        columns = [columns]
    elif isinstance(columns, slice):
        return f"columns {columns.start}:{columns.stop}" + (
            f":{columns.step}" if columns.step is not None else "")
    elif callable(columns):
        rules = {k: v for k, v in vars(columns).items() if v is not None} if hasattr(
            columns, "__dict__") and not inspect.isroutine(columns) else {}
        return (f"{_name(columns)}({', '.join(f'{k}={v!r}' for k, v in rules.items())})"
                if rules else _name(columns))
    try:
        values = np.asarray(columns)
        if values.dtype == bool:
            columns = np.flatnonzero(values).tolist()
        return ", ".join(_short(c) for c in list(columns))
    except (TypeError, ValueError):
        return repr(columns)


def readable(obj):
    """A short, complete, readable description of a part of the audit.

    Pipelines read as their steps joined by arrows; a ColumnTransformer as
    each part with the columns it takes; an estimator as its class name and
    the parameters that differ from their defaults; functions and classes by
    name. Nothing is abbreviated and no memory address is shown.

    Parameters
    ----------
    obj : estimator, function, value or None

    Returns
    -------
    text : str

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skpoison.utils._readable import readable
    >>> readable(make_pipeline(StandardScaler(), LogisticRegression(C=0.5)))
    'StandardScaler → LogisticRegression(C=0.5)'
    """
    if obj is None:
        return "none"
    if isinstance(obj, bool):
        return str(obj)
    if isinstance(obj, (float, np.floating)):
        return f"{float(obj):g}"
    if isinstance(obj, (int, np.integer, str)):
        return str(obj)
    if isinstance(obj, functools.partial):
        return readable(obj.func)
    if isinstance(obj, type) or inspect.isroutine(obj):
        return _name(obj)
    if isinstance(obj, Mapping):
        return ", ".join(f"{k}: {readable(v)}" for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        inner = ", ".join(readable(v) for v in obj)
        return f"({inner})" if isinstance(obj, tuple) else f"[{inner}]"
    if isinstance(obj, np.ndarray):
        return f"array of shape {obj.shape}"
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and hasattr(obj, "get_params"):  # Pipeline
        return " → ".join(readable(step) for _, step in steps
                          if step is not None and step != "passthrough")
    transformers = getattr(obj, "transformers", None)
    if isinstance(transformers, list) and hasattr(obj, "get_params"):
        parts = [f"{name}: {readable(t)} on [{_columns_text(cols)}]"
                 for name, t, cols in transformers]
        return f"{type(obj).__name__}({'; '.join(parts)})"
    name = type(obj).__name__
    if name == "FunctionTransformer":
        func = obj.get_params(deep=False).get("func")
        kw = obj.get_params(deep=False).get("kw_args") or {}
        args = ", ".join(f"{k}={readable(v)}" for k, v in kw.items())
        if func is None:
            return "identity"
        fname = readable(func).lstrip("_")
        return f"{fname}({args})" if args else fname
    if name == "FrozenEstimator":
        return f"frozen {readable(obj.estimator)}"
    if hasattr(obj, "get_params"):
        params = _changed_params(obj)
        if not params:
            return name
        args = ", ".join(f"{k}={readable(v)}" for k, v in params.items())
        return f"{name}({args})"
    return name
