"""Tests for skpoison.datasets.load_utkface, on generated files."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skpoison.datasets import _utkface, load_utkface

# (age, gender, race): ages either side of the paper's bucket edges 30/45/60,
# in the order of their file names (the loader's order).
FACES = [
    (116, 1, 4),
    (14, 0, 0),
    (29, 1, 0),
    (30, 0, 1),
    (44, 1, 2),
    (45, 0, 3),
    (59, 1, 4),
    (60, 0, 2),
]
EXPECTED_BUCKET = [3, 0, 0, 1, 1, 2, 2, 3]


def _name(i, age, gender, race):
    return f"{age}_{gender}_{race}_2017011617452{i:04d}.jpg.chip.jpg"


def _colour(i):
    return (10 * i, 255 - 10 * i, 7 * i)


@pytest.fixture
def folder(tmp_path):
    """Eight valid 24 x 20 faces (PNG content, so pixels are exact), one
    malformed name, a non-image file and a subfolder."""
    for i, face in enumerate(FACES):
        # PIL picks the format from the extension: use PNG bytes under the
        # .jpg name for exact pixel checks, except the last one, a real JPEG.
        fmt = "JPEG" if i == len(FACES) - 1 else "PNG"
        Image.new("RGB", (20, 24), _colour(i)).save(tmp_path / _name(i, *face), fmt)
    # Malformed names of the kind found in the public release.
    Image.new("RGB", (20, 24)).save(
        tmp_path / "39_1_20170116174525125.jpg.chip.jpg", "PNG"
    )
    Image.new("RGB", (20, 24)).save(tmp_path / "61_3_0_20170109150557335.jpg", "PNG")
    (tmp_path / "README.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (20, 24)).save(tmp_path / "sub" / "20_0_0_1.jpg", "PNG")
    return tmp_path


def test_parses_names_and_loads_images(folder):
    with pytest.warns(UserWarning, match="Skipped 2 image file") as record:
        faces = load_utkface(folder)
    message = str(record[0].message)
    assert "39_1_20170116174525125.jpg.chip.jpg" in message
    assert "61_3_0_20170109150557335.jpg" in message
    n = len(FACES)
    assert faces.images.shape == (n, 24, 20, 3) and faces.images.dtype == np.uint8
    assert faces.data.shape == (n, 24 * 20 * 3)
    assert np.shares_memory(faces.data, faces.images)
    ann = faces.annotations
    assert ann["age"].tolist() == [age for age, _, _ in FACES]
    assert ann["gender"].tolist() == [gender for _, gender, _ in FACES]
    assert ann["race"].tolist() == [race for _, _, race in FACES]
    np.testing.assert_array_equal(faces.target, ann["gender"])
    assert faces.target.dtype == np.int64
    assert faces.target_names == ["male", "female"]
    assert ann["race_name"].tolist() == [
        "Others",
        "White",
        "White",
        "Black",
        "Asian",
        "Indian",
        "Others",
        "Asian",
    ]
    assert ann["date"].iloc[0] == "20170116174520000"
    assert ann["file"].iloc[0] == _name(0, *FACES[0])
    assert faces.filenames[0] == str(folder / _name(0, *FACES[0]))
    assert faces.frame is None
    # Pixels: exact for the PNG-encoded files, close for the JPEG.
    for i in range(n - 1):
        assert (faces.images[i] == _colour(i)).all()
    np.testing.assert_allclose(
        faces.images[-1].mean(axis=(0, 1)), _colour(n - 1), atol=3
    )


def test_paper_subgroup_column(folder):
    with pytest.warns(UserWarning):
        ann = load_utkface(folder).annotations
    assert ann["age_bucket"].tolist() == EXPECTED_BUCKET
    expected = [
        4 * race + bucket for (_, _, race), bucket in zip(FACES, EXPECTED_BUCKET)
    ]
    assert ann["subgroup"].tolist() == expected
    assert list(ann.columns) == [
        "file",
        "age",
        "gender",
        "race",
        "race_name",
        "date",
        "age_bucket",
        "subgroup",
    ]


def test_subgroup_names_and_descr(folder):
    with pytest.warns(UserWarning):
        faces = load_utkface(folder)
    assert faces.annotation_columns == ["subgroup"]
    assert len(faces.subgroup_names) == 20
    assert faces.subgroup_names[4 * 1 + 2] == "Black/45-59"
    assert faces.subgroup_names[19] == "Others/60+"
    assert "non-commercial" in faces.DESCR
    assert "race * 4 + age_bucket" in faces.DESCR


def test_image_size_resizes(folder):
    with pytest.warns(UserWarning):
        square = load_utkface(folder, image_size=8)
    with pytest.warns(UserWarning):
        rect = load_utkface(folder, image_size=(10, 12))
    assert square.images.shape == (len(FACES), 8, 8, 3)
    assert rect.images.shape == (len(FACES), 10, 12, 3)
    # A uniform image stays uniform when resized.
    assert (rect.images[1] == _colour(1)).all()


def test_different_sizes_need_image_size(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "20_0_0_1.png")
    Image.new("RGB", (12, 10)).save(tmp_path / "21_1_0_2.png")
    with pytest.raises(ValueError, match="image_size"):
        load_utkface(tmp_path)
    assert load_utkface(tmp_path, image_size=6).images.shape == (2, 6, 6, 3)


def test_grey_images_become_rgb(tmp_path):
    Image.new("L", (6, 6), 77).save(tmp_path / "20_0_0_1.png")
    faces = load_utkface(tmp_path)
    assert faces.images.shape == (1, 6, 6, 3)
    assert (faces.images == 77).all()


def test_min_age(folder):
    with pytest.warns(UserWarning):
        faces = load_utkface(folder, min_age=15)
    kept = [FACES[0], *FACES[2:]]
    assert faces.annotations["age"].tolist() == [age for age, _, _ in kept]
    pd.testing.assert_index_equal(
        faces.annotations.index, pd.RangeIndex(len(FACES) - 1)
    )


def test_n_samples_is_stratified_and_reads_only_kept_files(folder, monkeypatch):
    read = []
    original = _utkface._read_image

    def counting(path, size):
        read.append(path)
        return original(path, size)

    monkeypatch.setattr(_utkface, "_read_image", counting)
    with pytest.warns(UserWarning):
        faces = load_utkface(folder, n_samples=4, random_state=0)
    assert len(read) == 4
    assert faces.images.shape[0] == 4
    assert np.bincount(faces.target).tolist() == [2, 2]
    with pytest.warns(UserWarning):
        again = load_utkface(folder, n_samples=4, random_state=0)
    np.testing.assert_array_equal(again.filenames, faces.filenames)


def test_return_X_y(folder):
    with pytest.warns(UserWarning):
        X, y = load_utkface(folder, return_X_y=True)
    assert X.shape == (len(FACES), 24 * 20 * 3)
    assert y.tolist() == [gender for _, gender, _ in FACES]


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="path="):
        load_utkface(tmp_path / "nope")
    with pytest.raises(ValueError, match="No UTKFace image"):
        load_utkface(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "10_0_0_1.png")
    with pytest.raises(ValueError, match="min_age=15"):
        load_utkface(tmp_path, min_age=15)


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"image_size": 0}, "image_size"),
        ({"image_size": (4, 4, 4)}, "image_size"),
        ({"image_size": (4, 0)}, "image_size"),
        ({"image_size": "big"}, "image_size"),
        ({"min_age": -1}, "min_age"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 100}, "n_samples"),
        ({"random_state": "seed"}, "random_state"),
        ({"return_X_y": 2}, "return_X_y"),
    ],
)
@pytest.mark.filterwarnings("ignore:Skipped 2 image file")
def test_invalid_parameters(folder, kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        load_utkface(folder, **kwargs)


def test_invalid_path_type():
    with pytest.raises(ValueError, match="'path' parameter"):
        load_utkface(3)
