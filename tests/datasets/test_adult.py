"""Tests for skpoison.datasets.load_adult."""

import gzip
import hashlib
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from skpoison.datasets import load_adult

N_TRAIN_FILE, N_TEST_FILE = 32_561, 16_281
N_RAW = N_TRAIN_FILE + N_TEST_FILE
N_POS_TRAIN_FILE, N_POS_TEST_FILE = 7_841, 3_846
N_PAPER_FEATURES = 57

ORIGINAL_MD5 = {
    "adult.data.gz": "5d7c39d7b8804f071cdd1f2a7c460872",
    "adult.test.gz": "35238206dfdf7f1fe215bbb874adecdc",
}


@pytest.fixture(scope="module")
def raw():
    return load_adult()


@pytest.fixture(scope="module")
def paper():
    return load_adult(form="paper", random_state=0)


@pytest.fixture(scope="module")
def paper_full():
    return load_adult(form="paper", split=False)


@pytest.mark.parametrize("file_name, md5", ORIGINAL_MD5.items())
def test_bundled_files_match_the_originals(file_name, md5):
    path = resources.files("skpoison.datasets").joinpath("data", file_name)
    with path.open("rb") as f:
        content = gzip.decompress(f.read())
    assert hashlib.md5(content).hexdigest() == md5


def test_readme_lists_source_licence_and_checksums():
    path = resources.files("skpoison.datasets").joinpath("data", "README.txt")
    text = path.read_text(encoding="utf-8")
    assert "CC BY 4.0" in text
    assert "10.24432/C5XW20" in text
    for md5 in ORIGINAL_MD5.values():
        assert md5 in text


# form="frame" ---------------------------------------------------------------


def test_frame_shapes_and_names(raw):
    assert raw.frame.shape == (N_RAW, 15)
    assert raw.data.shape == (N_RAW, 14)
    assert raw.target.shape == (N_RAW,)
    assert raw.feature_names == list(raw.data.columns)
    assert "income" not in raw.feature_names
    assert list(raw.frame.columns) == raw.feature_names + ["income"]
    assert raw.target_names == ["<=50K", ">50K"]
    assert raw.target.name == "income"
    pd.testing.assert_index_equal(raw.frame.index, pd.RangeIndex(N_RAW))


def test_frame_labels(raw):
    assert set(raw.frame["income"]) == {"<=50K", ">50K"}
    assert raw.target.dtype == np.int64
    assert raw.target.sum() == N_POS_TRAIN_FILE + N_POS_TEST_FILE == 11_687
    np.testing.assert_array_equal(raw.target, raw.frame["income"] == ">50K")


def test_frame_original_split(raw):
    split = raw.original_split
    assert split.value_counts().to_dict() == {
        "train": N_TRAIN_FILE,
        "test": N_TEST_FILE,
    }
    # adult.data comes first, then adult.test.
    assert (split.iloc[:N_TRAIN_FILE] == "train").all()
    assert raw.target[split == "train"].sum() == N_POS_TRAIN_FILE
    assert raw.target[split == "test"].sum() == N_POS_TEST_FILE
    # First rows of both files.
    assert raw.frame.loc[0, "fnlwgt"] == 77516
    assert raw.frame.loc[N_TRAIN_FILE, "fnlwgt"] == 226802


def test_frame_missing_values_are_nan(raw):
    missing = raw.frame.isna().sum()
    assert missing[["workclass", "occupation", "native_country"]].gt(0).all()
    assert missing.drop(["workclass", "occupation", "native_country"]).eq(0).all()
    assert not (raw.frame == "?").any().any()


def test_frame_without_split_and_as_numpy():
    bunch = load_adult(split=False, as_frame=False)
    assert "original_split" not in bunch
    assert bunch.frame is None
    assert isinstance(bunch.data, np.ndarray) and bunch.data.shape == (N_RAW, 14)
    assert isinstance(bunch.target, np.ndarray) and bunch.target.dtype == np.int64


# form="paper" ---------------------------------------------------------------


def test_paper_split_shapes(paper):
    assert paper.X_train.shape == (7_841, N_PAPER_FEATURES)
    assert paper.X_aux.shape == (7_841, N_PAPER_FEATURES)
    assert paper.X_test.shape == (7_692, N_PAPER_FEATURES)
    for name in ["train", "aux", "test"]:
        X, y = paper[f"X_{name}"], paper[f"y_{name}"]
        assert len(y) == len(X)
        pd.testing.assert_index_equal(X.index, y.index)
        assert list(X.columns) == paper.feature_names
        assert (X.dtypes == np.float64).all()
        assert y.dtype == np.int64
    assert paper.data.shape == (7_841 + 7_841 + 7_692, N_PAPER_FEATURES)
    assert paper.frame.shape == (len(paper.data), N_PAPER_FEATURES + 1)


def test_paper_feature_names(paper_full):
    names = paper_full.feature_names
    assert len(names) == N_PAPER_FEATURES
    assert names[:4] == ["age", "capital_gain", "capital_loss", "hours_per_week"]
    # Dropped: education, native_country, fnlwgt (and the label, income).
    encoded = [
        "workclass",
        "education_num",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
    ]
    for name in names[4:]:
        assert any(name.startswith(f"{column}_") for column in encoded), name
    assert len({name.rsplit("_", 1)[0] for name in names[4:]}) == len(encoded)
    # drop_first removes the base level of each variable; for workclass and
    # occupation the base is the unknown value '?'.
    for base in [
        "education_num_1",
        "race_Amer-Indian-Eskimo",
        "sex_Female",
        "marital_status_Divorced",
        "relationship_Husband",
        "workclass_?",
        "occupation_?",
    ]:
        assert base not in names
    for kept in [
        "workclass_Private",
        "workclass_Federal-gov",
        "occupation_Adm-clerical",
    ]:
        assert kept in names
    assert all(" " not in name for name in names)


def test_paper_unsplit(paper_full, raw):
    assert paper_full.data.shape == (N_RAW, N_PAPER_FEATURES)
    assert "X_train" not in paper_full
    np.testing.assert_array_equal(paper_full.target, raw.target)
    np.testing.assert_array_equal(paper_full.data["age"], raw.frame["age"])
    # One-hot columns reproduce the raw categories.
    np.testing.assert_array_equal(
        paper_full.data["sex_Male"], raw.frame["sex"] == "Male"
    )
    np.testing.assert_array_equal(
        paper_full.data["education_num_13"], raw.frame["education_num"] == 13
    )
    # Unknown workclass is the base level: all of its indicators are zero.
    workclass = paper_full.data.filter(like="workclass_")
    unknown = raw.frame["workclass"].isna()
    assert unknown.sum() > 0
    assert (workclass[unknown] == 0).all().all()
    assert (workclass[~unknown].sum(axis=1) == 1).all()


def test_paper_class_balance(paper):
    assert paper.y_test.sum() == N_POS_TEST_FILE
    assert len(paper.y_test) == 2 * N_POS_TEST_FILE
    y_train_aux = pd.concat([paper.y_train, paper.y_aux])
    assert y_train_aux.sum() == N_POS_TRAIN_FILE
    assert len(y_train_aux) == 2 * N_POS_TRAIN_FILE
    # D and D_aux are halves of a shuffle, so each is only about balanced.
    for y in [paper.y_train, paper.y_aux]:
        assert abs(y.mean() - 0.5) < 0.02


def test_paper_splits_are_disjoint_and_from_the_right_file(paper, raw):
    train, aux, test = (
        set(paper[f"X_{name}"].index) for name in ["train", "aux", "test"]
    )
    assert not train & aux
    assert not (train | aux) & test
    assert len(train) == len(paper.X_train)
    split = raw.original_split
    assert (split[sorted(train | aux)] == "train").all()
    assert (split[sorted(test)] == "test").all()
    # All positives of each file are kept.
    positive = raw.target == 1
    assert train | aux >= set(raw.target.index[positive & (split == "train")])
    assert test >= set(raw.target.index[positive & (split == "test")])


def test_paper_labels_and_features_match_raw(paper, raw):
    for name in ["train", "aux", "test"]:
        X, y = paper[f"X_{name}"], paper[f"y_{name}"]
        np.testing.assert_array_equal(y, raw.target.loc[y.index])
        np.testing.assert_array_equal(X["age"], raw.frame.loc[X.index, "age"])
        np.testing.assert_array_equal(
            X["hours_per_week"], raw.frame.loc[X.index, "hours_per_week"]
        )


def test_paper_annotation_columns(paper):
    columns = paper.annotation_columns
    education = [f"education_num_{level}" for level in range(2, 17)]
    race = ["race_Asian-Pac-Islander", "race_Black", "race_Other", "race_White"]
    assert columns == education + race + ["sex_Male"]
    assert len(columns) == 20
    X = paper.data
    assert set(columns) <= set(X.columns)
    assert X[columns].isin([0.0, 1.0]).all().all()
    assert X[education].sum(axis=1).le(1).all()
    assert X[race].sum(axis=1).le(1).all()


def test_paper_determinism_and_random_state():
    first = load_adult(form="paper", random_state=0)
    second = load_adult(form="paper", random_state=0)
    other = load_adult(form="paper", random_state=1)
    for name in ["train", "aux", "test"]:
        pd.testing.assert_frame_equal(first[f"X_{name}"], second[f"X_{name}"])
        pd.testing.assert_series_equal(first[f"y_{name}"], second[f"y_{name}"])
        assert not first[f"X_{name}"].index.equals(other[f"X_{name}"].index)
    assert set(first.X_train.index) != set(other.X_train.index)

    rng_state = load_adult(form="paper", random_state=np.random.RandomState(0))
    pd.testing.assert_index_equal(rng_state.X_train.index, first.X_train.index)


def test_paper_as_numpy(paper):
    bunch = load_adult(form="paper", as_frame=False)
    assert bunch.frame is None
    for name in ["train", "aux", "test"]:
        X, y = bunch[f"X_{name}"], bunch[f"y_{name}"]
        assert isinstance(X, np.ndarray) and X.dtype == np.float64
        assert isinstance(y, np.ndarray) and y.dtype == np.int64
        np.testing.assert_array_equal(X, paper[f"X_{name}"].to_numpy())
        np.testing.assert_array_equal(y, paper[f"y_{name}"].to_numpy())
    assert bunch.feature_names == paper.feature_names


@pytest.mark.parametrize(
    "kwargs, n_samples, n_features",
    [
        ({}, N_RAW, 14),
        ({"form": "paper", "split": False}, N_RAW, N_PAPER_FEATURES),
        ({"form": "paper"}, 7_841 + 7_841 + 7_692, N_PAPER_FEATURES),
    ],
)
def test_return_X_y(kwargs, n_samples, n_features):
    bunch = load_adult(**kwargs)
    X, y = load_adult(return_X_y=True, **kwargs)
    assert X.shape == (n_samples, n_features)
    assert y.shape == (n_samples,)
    pd.testing.assert_frame_equal(X, bunch.data)
    pd.testing.assert_series_equal(y, bunch.target)


# Description and validation -------------------------------------------------


@pytest.mark.parametrize("form", ["frame", "paper"])
def test_descr(form):
    descr = load_adult(form=form, split=False).DESCR
    assert "CC BY 4.0" in descr
    assert "Becker" in descr and "Kohavi" in descr
    assert "https://doi.org/10.24432/C5XW20" in descr
    assert "get_dummies" in descr


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"form": "raw"}, "form"),
        ({"form": None}, "form"),
        ({"split": "yes"}, "split"),
        ({"random_state": "seed"}, "random_state"),
        ({"return_X_y": 1.5}, "return_X_y"),
        ({"as_frame": "no"}, "as_frame"),
    ],
)
def test_invalid_parameters(kwargs, parameter):
    with pytest.raises(ValueError, match=f"'{parameter}' parameter"):
        load_adult(**kwargs)


def test_keyword_only():
    with pytest.raises(TypeError):
        load_adult("paper")
