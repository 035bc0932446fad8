"""Tests for skpoison.datasets.load_fashion_mnist (on the real Debian files)."""

import gzip
import hashlib
import shutil
import socket
import struct
import subprocess

import numpy as np
import pandas as pd
import pytest

from skpoison.datasets import _fashion_mnist, load_fashion_mnist

from .conftest import NetworkAccessError

# md5 of the decompressed IDX files, which a recompression would not change,
# then of the .gz files of Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1.
CONTENT_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
DEBIAN_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "cf8536b0aa1a6ac5fa3f23001093305c",
    "train-labels-idx1-ubyte.gz": "10bea18fdb374794d4bb42e356e600c9",
    "t10k-images-idx3-ubyte.gz": "f78720b4224f21cce2f2ccf2d7a94c9a",
    "t10k-labels-idx1-ubyte.gz": "0d30e22e447f3c33dab9ed536400ac01",
}
# Derived subgroup counts (3 * garment group + ink bucket) on the full sets.
TRAIN_SUBGROUPS = [7998, 7939, 8063, 1995, 1944, 2061, 1992, 2002, 2006, 5972,
                   5996, 6032, 1996, 1996, 2008]  # fmt: skip
TEST_SUBGROUPS = [1320, 1309, 1371, 347, 311, 342, 331, 334, 335, 1001, 1002,
                  997, 339, 328, 333]  # fmt: skip


@pytest.fixture(scope="module")
def folder():
    return _fashion_mnist._fashion_mnist_dir(None, None, ["train", "test"])


@pytest.fixture(scope="module")
def train():
    return load_fashion_mnist(subset="train")


@pytest.fixture(scope="module")
def t10k():
    """The test subset (named after its files, not to look like a test)."""
    return load_fashion_mnist(subset="test")


def _write_idx(path, array, magic):
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    content = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if path.suffix == ".gz":
        content = gzip.compress(content)
    path.write_bytes(content)


def _write_fake_test_files(folder, n=3, gz=True):
    """Tiny IDX files for the test subset: image i is filled with value i."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    images = np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)
    labels = np.arange(n, dtype=np.uint8) % 10
    _write_idx(folder / f"t10k-images-idx3-ubyte{ext}", images, 2051)
    _write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", labels, 2049)
    return images, labels


# Source files -------------------------------------------------------------


@pytest.mark.parametrize("stem, md5", CONTENT_MD5.items())
def test_source_files_checksums(folder, stem, md5):
    with gzip.open(folder / f"{stem}.gz", "rb") as f:
        assert hashlib.md5(f.read()).hexdigest() == md5


def test_debian_archive_checksums(folder):
    if "fashion-mnist" not in str(folder):
        pytest.skip("not the Debian package's folder")
    for name, md5 in DEBIAN_GZ_MD5.items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == md5


def test_located_through_dpkg_not_a_hard_coded_prefix():
    dpkg = shutil.which("dpkg")
    installed = (
        dpkg is not None
        and subprocess.run(
            [dpkg, "-s", "dataset-fashion-mnist"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not installed:
        pytest.skip("dataset-fashion-mnist is not installed as a Debian package")
    folder = _fashion_mnist._dpkg_dir()
    assert folder.as_posix().endswith("usr/share/datasets/fashion-mnist")
    assert (folder / "train-images-idx3-ubyte.gz").is_file()


# The real data ------------------------------------------------------------------


def test_train_shapes_and_balance(train):
    assert train.images.shape == (60_000, 28, 28)
    assert train.images.dtype == np.uint8
    assert train.data.shape == (60_000, 784) and train.data.dtype == np.uint8
    assert np.shares_memory(train.data, train.images)
    assert train.target.dtype == np.int64
    assert np.bincount(train.target).tolist() == [6_000] * 10
    assert train.target[:5].tolist() == [9, 0, 0, 3, 0]
    assert int(train.images[0].sum()) == 76_247
    assert train.frame is None
    assert set(train.original_split) == {"train"}
    assert len(train.feature_names) == 784
    assert train.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert train.feature_names[-1] == "pixel_27_27"
    assert train.target_names[0] == "T-shirt/top"
    assert train.target_names[-1] == "Ankle boot"
    assert len(train.target_names) == 10


def test_test_shapes_and_balance(t10k):
    assert t10k.images.shape == (10_000, 28, 28)
    assert np.bincount(t10k.target).tolist() == [1_000] * 10
    assert t10k.target[:5].tolist() == [9, 2, 1, 1, 6]
    assert int(t10k.images.sum()) == 573_469_082
    # The arrays own their memory and can be written to.
    assert t10k.images.flags.writeable


def test_derived_annotation_is_consistent(t10k):
    ann = t10k.annotations
    assert list(ann.columns) == [
        "garment_group",
        "ink_pixels",
        "ink_bucket",
        "subgroup",
    ]
    assert t10k.annotation_columns == ["subgroup"]
    np.testing.assert_array_equal(ann.index, np.arange(10_000))
    groups = {
        "tops": [0, 2, 4, 6],
        "bottoms": [1],
        "dresses": [3],
        "footwear": [5, 7, 9],
        "bags": [8],
    }
    for group, classes in groups.items():
        np.testing.assert_array_equal(
            ann["garment_group"] == group, np.isin(t10k.target, classes)
        )
    np.testing.assert_array_equal(
        ann["ink_pixels"], (t10k.images >= 128).reshape(10_000, -1).sum(axis=1)
    )
    assert set(ann["ink_bucket"]) == {"low", "medium", "high"}
    group_id = ann["garment_group"].map({g: i for i, g in enumerate(groups)})
    bucket_id = ann["ink_bucket"].map({"low": 0, "medium": 1, "high": 2})
    np.testing.assert_array_equal(ann["subgroup"], 3 * group_id + bucket_id)
    # Spot check against the documented thresholds (footwear 118 / 213).
    footwear = ann[ann["garment_group"] == "footwear"]
    expected = np.where(
        footwear["ink_pixels"] < 118,
        "low",
        np.where(footwear["ink_pixels"] < 213, "medium", "high"),
    )
    np.testing.assert_array_equal(footwear["ink_bucket"], expected)
    assert np.bincount(ann["subgroup"]).tolist() == TEST_SUBGROUPS
    assert [t10k.subgroup_names[i] for i in (0, 5, 14)] == [
        "tops/low",
        "bottoms/high",
        "bags/high",
    ]


def test_ink_buckets_are_tertiles_of_the_training_set(train):
    counts = np.bincount(train.annotations["subgroup"]).tolist()
    assert counts == TRAIN_SUBGROUPS
    group_sizes = np.add.reduceat(np.asarray(counts), [0, 3, 6, 9, 12])
    for group, size in enumerate(group_sizes):
        thirds = np.asarray(counts[3 * group : 3 * group + 3]) / size
        np.testing.assert_allclose(thirds, 1 / 3, atol=0.015)


def test_descr_documents_source_licence_and_derived_annotation(t10k):
    descr = t10k.DESCR
    for text in ["MIT", "Zalando", "dataset-fashion-mnist", "arXiv:1708.07747"]:
        assert text in descr
    assert "Derived annotation (synthetic" in descr
    assert "tops 263 / 402" in descr and "footwear 118 / 213" in descr
    assert "3 * group + bucket" in descr
    assert "derived, synthetic" in load_fashion_mnist.__doc__


# Subsets, subsamples, frames ------------------------------------------------


def test_all_subset_stratified_subsample():
    fm = load_fashion_mnist(subset="all", n_samples=700, random_state=0)
    assert fm.images.shape == (700, 28, 28)
    assert np.bincount(fm.target).tolist() == [70] * 10
    index = fm.annotations.index.to_numpy()
    assert np.all(np.diff(index) > 0) and index.max() < 70_000
    np.testing.assert_array_equal(
        fm.original_split, np.where(index < 60_000, "train", "test")
    )
    same = load_fashion_mnist(subset="all", n_samples=700, random_state=0)
    np.testing.assert_array_equal(same.images, fm.images)
    other = load_fashion_mnist(subset="all", n_samples=700, random_state=1)
    assert not np.array_equal(other.annotations.index, index)


def test_subsample_matches_the_full_data(t10k):
    fm = load_fashion_mnist(subset="test", n_samples=50, random_state=3)
    rows = fm.annotations.index.to_numpy()
    np.testing.assert_array_equal(fm.images, t10k.images[rows])
    np.testing.assert_array_equal(fm.target, t10k.target[rows])
    pd.testing.assert_frame_equal(fm.annotations, t10k.annotations.loc[rows])


def test_as_frame_and_return_X_y():
    fm = load_fashion_mnist(subset="test", n_samples=20, random_state=0, as_frame=True)
    assert isinstance(fm.data, pd.DataFrame) and fm.data.shape == (20, 784)
    assert list(fm.data.columns) == fm.feature_names
    assert isinstance(fm.target, pd.Series) and fm.target.name == "class"
    assert fm.frame.shape == (20, 785)
    pd.testing.assert_index_equal(fm.data.index, fm.annotations.index)
    X, y = load_fashion_mnist(
        subset="test", n_samples=20, random_state=0, return_X_y=True
    )
    np.testing.assert_array_equal(X, fm.data.to_numpy())
    np.testing.assert_array_equal(y, fm.target.to_numpy())


# Where the files come from ----------------------------------------------------


def test_explicit_path_same_as_default(folder):
    a = load_fashion_mnist(subset="test", path=folder, n_samples=30, random_state=0)
    b = load_fashion_mnist(subset="test", n_samples=30, random_state=0)
    np.testing.assert_array_equal(a.images, b.images)


@pytest.mark.parametrize("gz", [True, False])
def test_explicit_path_reads_plain_and_gzipped_idx(tmp_path, gz):
    images, labels = _write_fake_test_files(tmp_path, n=3, gz=gz)
    fm = load_fashion_mnist(subset="test", path=str(tmp_path))
    np.testing.assert_array_equal(fm.images, images)
    np.testing.assert_array_equal(fm.target, labels)


def test_data_home_and_environment_variable(tmp_path, monkeypatch):
    sub = ("fashion-mnist-deb", "usr", "share", "datasets", "fashion-mnist")
    home = tmp_path / "home"
    images, _ = _write_fake_test_files(home.joinpath(*sub), n=4)
    fm = load_fashion_mnist(subset="test", data_home=home)
    np.testing.assert_array_equal(fm.images, images)
    env_home = tmp_path / "env"
    images, _ = _write_fake_test_files(env_home.joinpath(*sub), n=5)
    monkeypatch.setenv("SKPOISON_DATA", str(env_home))
    assert load_fashion_mnist(subset="test").images.shape == (5, 28, 28)


def test_clear_error_when_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr(_fashion_mnist, "_dpkg_dir", lambda: None)
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist(data_home=tmp_path)
    message = str(excinfo.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "tools/install_fashion_mnist.sh" in message
    assert "path=" in message
    with pytest.raises(FileNotFoundError, match="path="):
        load_fashion_mnist(path=tmp_path)


def test_corrupt_file(tmp_path):
    _write_fake_test_files(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), 2051)
    with pytest.raises(ValueError, match="not a Fashion-MNIST IDX file"):
        load_fashion_mnist(subset="test", path=tmp_path)


# Validation and network guard -------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"subset": "validation"}, "subset"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 1.5}, "n_samples"),
        ({"random_state": "seed"}, "random_state"),
        ({"path": 3}, "path"),
        ({"data_home": 3}, "data_home"),
        ({"as_frame": "yes"}, "as_frame"),
        ({"return_X_y": None}, "return_X_y"),
    ],
)
def test_invalid_parameters(kwargs, parameter):
    with pytest.raises(ValueError, match=f"'{parameter}' parameter"):
        load_fashion_mnist(**kwargs)


def test_too_many_samples():
    with pytest.raises(ValueError, match="n_samples=10001"):
        load_fashion_mnist(subset="test", n_samples=10_001)


def test_keyword_only():
    with pytest.raises(TypeError):
        load_fashion_mnist("test")


def test_network_guard_is_active():
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("example.org", 80), timeout=1)
    with socket.socket() as s, pytest.raises(NetworkAccessError):
        s.connect(("127.0.0.1", 9))
