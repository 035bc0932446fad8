"""The bad-input sweep: every public estimator, a table of bad inputs.

Each estimator from ``tests/test_common.py::ESTIMATORS`` (which a discovery test
there keeps complete) is fed every input of ``BAD_INPUTS``. The outcome must be
either a clear error -- a ``ValueError`` or ``TypeError`` whose message says
what is wrong -- or a correct result. An ``IndexError``, ``KeyError``,
``AttributeError``, ``ZeroDivisionError`` or a crash deep inside numpy is a bug:
the user cannot tell what to fix.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier

from tests.test_common import ESTIMATORS, _data, _ids

CLEAR_ERRORS = (ValueError, TypeError)


def _run(estimator, X, y):
    """Fit (or fit_resample) and return what the estimator produces."""
    out = {}
    if hasattr(estimator, "fit_resample"):
        X_res, y_res = estimator.fit_resample(X, y)
        out["X_res"], out["y_res"] = X_res, np.asarray(y_res)
    else:
        estimator.fit(X, y)
    if hasattr(estimator, "predict"):
        out["pred"] = np.asarray(estimator.predict(X))
    if hasattr(estimator, "predict_proba"):
        out["proba"] = np.asarray(estimator.predict_proba(X))
    return out


def _base():
    X, y = _data()
    return X, y


def _nan():
    X, y = _base()
    X = X.copy()
    X[3, 1] = np.nan
    return X, y


def _inf():
    X, y = _base()
    X = X.copy()
    X[3, 1] = np.inf
    return X, y


def _empty():
    X, y = _base()
    return X[:0], y[:0]


def _one_row():
    X, y = _base()
    return X[:1], y[:1]


def _x_1d():
    X, y = _base()
    return X[:, 1], y


def _x_3d():
    X, y = _base()
    return X[:, :, None], y


def _mismatched():
    X, y = _base()
    return X, y[:-1]


def _string_labels():
    X, y = _base()
    return X, np.where(y == 1, "yes", "no")


def _mixed_frame():
    X, y = _base()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["a"] = frame["a"].map({0.0: "red", 1.0: "green", 2.0: "blue"})
    return frame, y


def _sparse():
    X, y = _base()
    return sp.csr_matrix(X), y


# name -> (make data, must it raise?)  None: an error or a correct result.
BAD_INPUTS = {
    "nan": (_nan, None),
    "inf": (_inf, None),
    "empty": (_empty, True),
    # one row is one class: an error for most classifiers, while a finder or a
    # net that predicts the only class it saw is a correct result
    "one_row": (_one_row, None),
    "X_1d": (_x_1d, True),
    "X_3d": (_x_3d, True),
    "mismatched_lengths": (_mismatched, True),
    "string_labels": (_string_labels, False),
    "mixed_dtype_frame": (_mixed_frame, None),
    "sparse": (_sparse, None),
}

# Estimators whose result on an input may legitimately differ from "error":
# a finder is unsupervised and ignores y, and FeatureMatch's annotation columns
# may be strings (that is what annotations are).
UNSUPERVISED = {"FeatureMatch", "ClusterMatch", "ImageEmbedder"}
# Image estimators take (n, H, W) arrays as grey images by design.
IMAGE_INPUT = {"SeededImageClassifier", "ImageEmbedder"}


def _check_result(name, estimator, out, X, y):
    """A result, when one comes back, must be correct, not merely returned."""
    n = X.shape[0]
    labels = set(np.unique(y).tolist())
    if "y_res" in out:
        assert out["X_res"].shape[0] == out["y_res"].shape[0] >= n
        assert set(np.unique(out["y_res"]).tolist()) <= labels
        # originals come back unchanged and in order
        np.testing.assert_array_equal(out["y_res"][:n], y)
    if "pred" in out and is_classifier(estimator):
        assert out["pred"].shape == (n,)
        assert set(np.unique(out["pred"]).tolist()) <= labels
    if "proba" in out:
        assert np.all(np.isfinite(out["proba"]))
        np.testing.assert_allclose(out["proba"].sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_bad_input_gives_clear_error_or_correct_result(estimator, case):
    make, must_raise = BAD_INPUTS[case]
    name = type(estimator).__name__
    X, y = make()
    if name in UNSUPERVISED and case in ("mismatched_lengths", "string_labels"):
        must_raise = None  # y is ignored
    if name in IMAGE_INPUT and case == "X_3d":
        must_raise = False  # a stack of 3x1 grey images is valid input
    estimator = clone(estimator)
    try:
        out = _run(estimator, X, y)
    except CLEAR_ERRORS as exc:
        assert must_raise is not False, (
            f"{name} rejected valid input {case!r}: {exc}")
        message = str(exc)
        assert len(message) >= 15, f"{name} on {case!r}: unclear message {message!r}"
        return
    assert must_raise is not True, f"{name} accepted bad input {case!r} silently"
    _check_result(name, estimator, out, X if hasattr(X, "shape") else np.asarray(X),
                  np.asarray(y))
