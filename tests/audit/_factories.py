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
