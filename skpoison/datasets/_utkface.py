"""Loader for a user's copy of the UTKFace face images.

UTKFace cannot be installed from any package archive; this loader reads a
folder the user already has. Age, gender and race come from the file names,
``<age>_<gender>_<race>_<date&time>.jpg`` (``.jpg.chip.jpg`` for the aligned
and cropped faces). Images are read with Pillow.
"""

import os
import re
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._compat import Interval, validate_params
from ._base import _stratified_indices, load_descr

__all__ = ["load_utkface"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
NAME_PATTERN = re.compile(
    r"^(?P<age>\d{1,3})_(?P<gender>[01])_(?P<race>[0-4])_(?P<date>\d+)\.", re.ASCII
)
GENDER_NAMES = ["male", "female"]
RACE_NAMES = ["White", "Black", "Asian", "Indian", "Others"]
# The paper's age buckets: #{b in (30, 45, 60) : age >= b}.
AGE_CUTS = np.array([30, 45, 60])
AGE_BUCKETS = ["<30", "30-44", "45-59", "60+"]
SUBGROUP_NAMES = [f"{race}/{age}" for race in RACE_NAMES for age in AGE_BUCKETS]
MAX_LISTED = 5



def _scan(folder):
    """Parsed metadata of the image files in ``folder``, and the bad names."""
    rows, malformed = [], []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or not file.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        match = NAME_PATTERN.match(file.name)
        if match is None:
            malformed.append(file.name)
            continue
        rows.append(
            {
                "file": file.name,
                "age": int(match["age"]),
                "gender": int(match["gender"]),
                "race": int(match["race"]),
                "date": match["date"],
            }
        )
    return rows, malformed


def _check_image_size(image_size):
    """``(height, width)`` from an int or a pair, or None."""
    if image_size is None:
        return None
    if isinstance(image_size, Integral):
        image_size = (image_size, image_size)
    if len(image_size) != 2 or not all(
        isinstance(s, Integral) and s >= 1 for s in image_size
    ):
        raise ValueError(
            "image_size must be None, a positive int or a pair of positive ints "
            f"(height, width), got {image_size!r}."
        )
    return int(image_size[0]), int(image_size[1])


def _read_image(path, size):
    """One image as an (height, width, 3) uint8 array, resized if asked."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "min_age": [Interval(Integral, 0, None, closed="left"), None],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_utkface(
    path,
    *,
    image_size=None,
    min_age=None,
    n_samples=None,
    random_state=None,
    return_X_y=False,
):
    """Load UTKFace face images from a folder, with age, gender and race.

    Read more in the :ref:`User Guide <datasets_models>`.

    UTKFace cannot be installed offline, so this reads the folder where the
    user unpacked it (for instance ``UTKFace/`` of the "Aligned & Cropped
    Faces" archive). Age, gender and race are parsed from the file names;
    files with malformed names are skipped with a warning. Images are read
    with Pillow. Read more in the ``DESCR`` of the returned Bunch.

    Parameters
    ----------
    path : str or path-like
        The folder holding the images (``.jpg``, ``.jpeg`` or ``.png``; other
        files are ignored; subfolders are not searched).
    image_size : int or (int, int), default=None
        Resize every image to this ``(height, width)`` (an int for a
        square) with bilinear interpolation; the paper uses 100. When None
        the images are kept at their size, which must then be the same for
        all.
    min_age : int, default=None
        Keep only faces at least this old; the paper uses 15. None keeps
        all.
    n_samples : int, default=None
        Keep a random subsample of this many faces (after ``min_age``),
        stratified by gender and in file-name order. Only those images are
        read. None keeps all.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample (used only with ``n_samples``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_samples, height * width * 3), dtype uint8
            The flattened images (a view of ``images``).
        images : ndarray of shape (n_samples, height, width, 3), dtype uint8
            The RGB images.
        target : ndarray of shape (n_samples,), dtype int64
            The gender, 0 for male and 1 for female.
        frame : None
            The pixels are not put in a DataFrame; the per-image metadata is
            in ``annotations``.
        annotations : DataFrame of shape (n_samples, 8)
            ``file``, ``age``, ``gender``, ``race`` (0 to 4), ``race_name``,
            ``date``, ``age_bucket`` (0 to 3) and ``subgroup``
            (``race * 4 + age_bucket``, 0 to 19).
        annotation_columns : list of str
            ``["subgroup"]``, the paper's FeatureMatch column.
        subgroup_names : list of str
            The name of each ``subgroup`` id, ``"White/<30"`` to
            ``"Others/60+"``.
        filenames : ndarray of shape (n_samples,)
            The full path of each image.
        target_names : list of str
            ``["male", "female"]``.
        DESCR : str
            Description of the dataset: source, licence (non-commercial
            research only), file-name format and annotations.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a folder.
    ValueError
        When no file name parses, or the images differ in size and
        ``image_size`` is None.

    References
    ----------
    .. [1] Zhang, Z., Song, Y. & Qi, H. (2017). Age progression/regression by
       conditional adversarial autoencoder. In Proceedings of CVPR 2017.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from skpoison.datasets import load_utkface
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ["25_0_1_20170116174525125.jpg.chip.jpg",
    ...              "47_1_3_20170109142408075.jpg.chip.jpg"]:
    ...     Image.new("RGB", (40, 40), "gray").save(folder / name)
    >>> faces = load_utkface(folder, image_size=20)
    >>> faces.images.shape, faces.target.tolist()
    ((2, 20, 20, 3), [0, 1])
    >>> faces.annotations[["age", "race_name", "age_bucket", "subgroup"]]
       age race_name  age_bucket  subgroup
    0   25     Black           0         4
    1   47    Indian           2        14
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"path={str(path)!r} is not a folder.")
    size = _check_image_size(image_size)

    rows, malformed = _scan(folder)
    if malformed:
        listed = ", ".join(malformed[:MAX_LISTED])
        more = (
            f" and {len(malformed) - MAX_LISTED} more"
            if len(malformed) > MAX_LISTED
            else ""
        )
        warnings.warn(
            f"Skipped {len(malformed)} image file(s) of {folder} whose name is "
            f"not <age>_<gender 0|1>_<race 0-4>_<date>.jpg: {listed}{more}.",
            UserWarning,
            stacklevel=2,
        )
    meta = pd.DataFrame(rows, columns=["file", "age", "gender", "race", "date"]).astype(
        {
            "file": object,
            "age": np.int64,
            "gender": np.int64,
            "race": np.int64,
            "date": object,
        }
    )
    if min_age is not None:
        meta = meta[meta["age"] >= min_age].reset_index(drop=True)
    if meta.empty:
        raise ValueError(
            f"No UTKFace image in path={str(path)!r}"
            + (f" with age >= min_age={min_age}" if min_age is not None else "")
            + ": names must look like <age>_<gender>_<race>_<date>.jpg."
        )
    keep = _stratified_indices(meta["gender"].to_numpy(), n_samples, random_state)
    meta = meta.iloc[keep].reset_index(drop=True)

    filenames = np.array([str(folder / name) for name in meta["file"]], dtype=object)
    images = [_read_image(file, size) for file in filenames]
    shapes = sorted({image.shape for image in images})
    if len(shapes) > 1:
        raise ValueError(
            f"The images have different sizes {shapes[:MAX_LISTED]}; pass "
            "image_size to resize them to one size."
        )
    images = np.stack(images)

    age_bucket = np.searchsorted(AGE_CUTS, meta["age"].to_numpy(), side="right")
    meta.insert(4, "race_name", np.asarray(RACE_NAMES, dtype=object)[meta["race"]])
    meta["age_bucket"] = age_bucket.astype(np.int64)
    meta["subgroup"] = (4 * meta["race"] + meta["age_bucket"]).astype(np.int64)

    bunch = Bunch(
        data=images.reshape(len(images), -1),
        images=images,
        target=meta["gender"].to_numpy(dtype=np.int64),
        frame=None,
        annotations=meta,
        annotation_columns=["subgroup"],
        subgroup_names=list(SUBGROUP_NAMES),
        filenames=filenames,
        target_names=list(GENDER_NAMES),
        DESCR=load_descr("utkface"),
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
