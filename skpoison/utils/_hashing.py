"""Stable hashes of configurations: estimators, arrays and frames by content.

The hash of a configuration is equal for equal configurations across
processes and sessions (unlike ``hash`` or ``repr``), so a result computed
once can be found again by it.
"""

import functools
import hashlib
import inspect
import json
import math

import joblib
import numpy as np
import pandas as pd


def _qualname(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def canonical(obj):
    """A JSON-ready description of ``obj`` that is equal for equal configurations.

    Estimators become their class name and their (recursively canonical)
    ``get_params(deep=False)``; arrays, DataFrames and Series a content hash
    (:func:`joblib.hash` of their values, column names, dtypes and index);
    classes and functions their qualified name; other objects (a torch module
    instance, say) a :func:`joblib.hash` of their pickled state. Unlike
    ``repr``, nothing is abbreviated.

    Parameters
    ----------
    obj : object

    Returns
    -------
    canonical : JSON-serialisable object

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.utils._hashing import canonical
    >>> canonical(LogisticRegression(C=2.0))["class"]
    'sklearn.linear_model._logistic.LogisticRegression'
    >>> canonical(LogisticRegression(C=2.0))["params"]["C"]
    2.0
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else repr(obj)
    if isinstance(obj, np.generic):
        return canonical(obj.item())
    if isinstance(obj, pd.DataFrame):
        return {"dataframe": joblib.hash([
            [str(c) for c in obj.columns], [str(t) for t in obj.dtypes],
            np.asarray(obj.index), [obj[c].to_numpy() for c in obj.columns]])}
    if isinstance(obj, pd.Series):
        return {"series": joblib.hash([str(obj.name), str(obj.dtype),
                                       np.asarray(obj.index), obj.to_numpy()])}
    if isinstance(obj, np.ndarray) or hasattr(obj, "tocsr"):
        return {"array": joblib.hash(obj)}
    if isinstance(obj, type) or inspect.isroutine(obj):
        return {"callable": _qualname(obj)}
    if isinstance(obj, functools.partial):
        return {"partial": canonical(obj.func), "args": canonical(list(obj.args)),
                "keywords": canonical(obj.keywords)}
    if hasattr(obj, "get_params"):
        params = obj.get_params(deep=False)
        return {"class": _qualname(type(obj)),
                "params": {str(k): canonical(v) for k, v in sorted(params.items())}}
    if isinstance(obj, dict):
        return {"dict": [[canonical(k), canonical(v)]
                         for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))]}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    try:
        return {"object": _qualname(type(obj)), "hash": joblib.hash(obj)}
    except (TypeError, AttributeError, ValueError, RuntimeError):  # pragma: no cover
        # unpicklable exotic objects
        return {"object": _qualname(type(obj)), "repr": repr(obj)}


def config_hash(obj):
    """The configuration hash: a stable 32-hex-digit hash of :func:`canonical` ``(obj)``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.utils._hashing import config_hash
    >>> config_hash(LogisticRegression()) == config_hash(LogisticRegression())
    True
    >>> config_hash(LogisticRegression()) == config_hash(LogisticRegression(C=2))
    False
    """
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot store a value of type {type(value).__name__}.")


def normalize_row(row):
    """The row as the store gives it back (a JSON round trip).

    Fresh and stored rows go through the same conversion, so a resumed audit
    returns exactly the values of an uninterrupted one.
    """
    return json.loads(json.dumps(row, default=_json_default))
