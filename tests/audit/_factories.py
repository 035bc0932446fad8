"""Victim factories for ``skpoison audit --estimator tests.audit._factories:NAME``."""

from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def make_model():
    """A user's own pipeline: its own encoding of the table's columns."""
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categories = make_pipeline(SimpleImputer(strategy="constant", fill_value="?"),
                               OneHotEncoder(handle_unknown="ignore"))
    return make_pipeline(
        make_column_transformer(
            (numbers, make_column_selector(dtype_include="number")),
            (categories, make_column_selector(dtype_exclude="number"))),
        LogisticRegression(C=0.5, max_iter=500))


def not_an_estimator():
    return "a string"


def broken():
    raise RuntimeError("the factory fails")


class SlowLogisticRegression(LogisticRegression):
    """LogisticRegression whose fit sleeps ``$SKPOISON_TEST_SLEEP`` seconds first."""

    def fit(self, X, y, sample_weight=None):
        import os
        import time

        time.sleep(float(os.environ.get("SKPOISON_TEST_SLEEP", "0.5")))
        return super().fit(X, y, sample_weight=sample_weight)


def slow_model():
    """A victim slow enough to be interrupted mid-audit (numbers only)."""
    return make_pipeline(StandardScaler(), SlowLogisticRegression())
