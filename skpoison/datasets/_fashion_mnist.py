"""Loader for Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package.

The four original IDX files are read from an explicit folder, from the data
home where ``tools/install_fashion_mnist.sh`` unpacks the package without
root, or from the Debian package's own file list (``dpkg -L``). Nothing is
downloaded and nothing is written.
"""

import gzip
import os
import shutil
import struct
import subprocess
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._compat import Interval, StrOptions, validate_params
from ._base import (
    _check_n_samples,
    _stratified_indices,
    get_data_home,
    load_descr,
)

__all__ = ["load_fashion_mnist"]

DEB_PACKAGE = "dataset-fashion-mnist"
# Where the package puts its files, relative to the root it is unpacked in.
DEB_SUBDIR = Path("usr", "share", "datasets", "fashion-mnist")
# Where tools/install_fashion_mnist.sh unpacks the .deb inside the data home.
DATA_HOME_SUBDIR = Path("fashion-mnist-deb") / DEB_SUBDIR

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_SHAPE = (28, 28)
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049

TARGET_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

# The derived annotation is the garment group of each class ...
GARMENT_GROUPS = ["tops", "bottoms", "dresses", "footwear", "bags"]
CLASS_TO_GROUP = np.array([0, 1, 0, 2, 0, 3, 0, 3, 4, 3])
# ... times an ink-coverage bucket: the number of pixels >= INK_THRESHOLD,
# cut at the tertiles of that count within the garment group over the 60,000
# training images (fixed numbers, so an image's bucket never depends on which
# other images are loaded).
INK_THRESHOLD = 128
INK_BUCKETS = ["low", "medium", "high"]
INK_CUTS = np.array(
    [
        [263, 402],  # tops
        [183, 214],  # bottoms
        [193, 274],  # dresses
        [118, 213],  # footwear
        [279, 381],  # bags
    ]
)
SUBGROUP_NAMES = [f"{group}/{ink}" for group in GARMENT_GROUPS for ink in INK_BUCKETS]

INSTALL_HINT = (
    "Install the Debian package with `apt-get install dataset-fashion-mnist` "
    "(as root, after `apt-get update`), or without root run "
    "`sh tools/install_fashion_mnist.sh` from the skpoison source tree (it "
    "unpacks the package under $SKPOISON_DATA or ~/skpoison_data), or pass "
    "path= a folder holding the four original IDX files "
    "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)."
)



def _dpkg_dir():
    """The package's data folder from ``dpkg -L``, or None."""
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return None
    result = subprocess.run(
        [dpkg, "-L", DEB_PACKAGE], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    name = FILES["train"][0] + ".gz"
    for line in result.stdout.splitlines():
        if line.strip().endswith(name):
            return Path(line.strip()).parent
    return None


def _find_file(folder, stem):
    """``stem.gz`` or ``stem`` in ``folder``, or None."""
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_files(folder, subsets):
    return all(
        _find_file(folder, stem) is not None
        for subset in subsets
        for stem in FILES[subset]
    )


def _fashion_mnist_dir(path, data_home, subsets):
    """The folder holding the IDX files, from ``path``, the data home or dpkg."""
    if path is not None:
        folder = Path(path).expanduser()
        if not _has_files(folder, subsets):
            missing = [
                stem
                for subset in subsets
                for stem in FILES[subset]
                if _find_file(folder, stem) is None
            ]
            raise FileNotFoundError(
                f"path={str(path)!r} does not hold the Fashion-MNIST files "
                f"{missing} (each may be gzipped, ending in .gz). " + INSTALL_HINT
            )
        return folder
    candidates = [get_data_home(data_home) / DATA_HOME_SUBDIR]
    for folder in candidates:
        if _has_files(folder, subsets):
            return folder
    folder = _dpkg_dir()
    if folder is not None and _has_files(folder, subsets):
        return folder
    raise FileNotFoundError(
        "Fashion-MNIST was not found: the Debian package "
        f"{DEB_PACKAGE!r} is not installed and {str(candidates[0])!r} does not "
        "exist. " + INSTALL_HINT
    )


def _read_idx(path, magic, item_shape):
    """Read one (optionally gzipped) IDX file of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        content = f.read()
    ndim = 1 + len(item_shape)
    header_size = 4 * (1 + ndim)
    if len(content) < header_size:
        raise ValueError(f"{path} is not an IDX file: it is too short.")
    header = struct.unpack(f">{1 + ndim}I", content[:header_size])
    shape = header[1:]
    if header[0] != magic or tuple(shape[1:]) != tuple(item_shape):
        raise ValueError(
            f"{path} is not a Fashion-MNIST IDX file: header {header}, expected "
            f"magic number {magic} and items of shape {item_shape}."
        )
    data = np.frombuffer(content, np.uint8, offset=header_size)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: {data.size} bytes of data.")
    return data.reshape(shape)


def _derived_annotations(images, target, index):
    """The derived (synthetic) garment group x ink bucket annotation."""
    group = CLASS_TO_GROUP[target]
    ink = (images >= INK_THRESHOLD).sum(axis=(1, 2))
    cuts = INK_CUTS[group]
    bucket = (ink[:, None] >= cuts).sum(axis=1)
    return pd.DataFrame(
        {
            "garment_group": np.asarray(GARMENT_GROUPS, dtype=object)[group],
            "ink_pixels": ink.astype(np.int64),
            "ink_bucket": np.asarray(INK_BUCKETS, dtype=object)[bucket],
            "subgroup": (3 * group + bucket).astype(np.int64),
        },
        index=index,
    )


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "path": [str, os.PathLike, None],
        "data_home": [str, os.PathLike, None],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(
    *,
    subset="train",
    path=None,
    data_home=None,
    n_samples=None,
    random_state=None,
    return_X_y=False,
    as_frame=False,
):
    """Load Fashion-MNIST (10 classes of 28 x 28 grey images), offline.

    Read more in the :ref:`User Guide <datasets_models>`.

    The files come from Debian's ``dataset-fashion-mnist`` package, found
    through ``dpkg -L`` (never a hard-coded prefix), from the data home where
    ``tools/install_fashion_mnist.sh`` unpacks that package without root, or
    from an explicit ``path``. Nothing is downloaded or written. Read more in
    the ``DESCR`` of the returned Bunch.

    =================   ==========================
    Samples             60,000 train, 10,000 test
    Features            784 (uint8 pixels, 0-255)
    Classes             10, balanced
    =================   ==========================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which images: the 60,000 training images, the 10,000 test images, or
        all 70,000 (training first).
    path : str or path-like, default=None
        A folder holding the four original IDX files
        (``train-images-idx3-ubyte.gz`` ...; gzipped or not). When None, the
        files are looked for in ``data_home`` (in
        ``fashion-mnist-deb/usr/share/datasets/fashion-mnist``, where
        ``tools/install_fashion_mnist.sh`` puts them), then where ``dpkg``
        says the Debian package installed them.
    data_home : str or path-like, default=None
        See :func:`get_data_home`: ``$SKPOISON_DATA`` or ``~/skpoison_data``
        when None.
    n_samples : int, default=None
        Keep a random subsample of this many images, stratified by class and
        in file order. None keeps every image of ``subset``.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample (used only with ``n_samples``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    as_frame : bool, default=False
        Return ``data`` as a DataFrame of 784 pixel columns, ``target`` as a
        Series and ``frame`` as both together. ``images`` stays an array.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_samples, 784), dtype uint8, or DataFrame
            The flattened images, row by row.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The images.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            The class, 0 to 9 (names in ``target_names``).
        frame : DataFrame of shape (n_samples, 785) or None
            ``data`` and ``target`` together; only with ``as_frame=True``.
        annotations : DataFrame of shape (n_samples, 4)
            The **derived, synthetic** annotation described in ``DESCR``:
            ``garment_group``, ``ink_pixels``, ``ink_bucket`` and their
            combination ``subgroup`` (0 to 14).
        annotation_columns : list of str
            ``["subgroup"]``, the annotation column to give FeatureMatch.
        subgroup_names : list of str
            The name of each ``subgroup`` id, ``"tops/low"`` to
            ``"bags/high"``.
        original_split : ndarray of shape (n_samples,)
            ``"train"`` or ``"test"`` for each image.
        feature_names : list of str
            ``pixel_<row>_<column>``, the names of the columns of ``data``.
        target_names : list of str
            The ten class names.
        DESCR : str
            Description of the dataset: source, licence (MIT, Zalando SE) and
            the derived annotation.

        Every pandas object is indexed by the row number of the image in
        ``subset`` (training images first for ``"all"``), which tells which
        images a subsample kept.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    FileNotFoundError
        When the files are found nowhere; the message says how to install
        them.

    References
    ----------
    .. [1] Xiao, H., Rasul, K. & Vollgraf, R. (2017). Fashion-MNIST: a novel
       image dataset for benchmarking machine learning algorithms.
       arXiv:1708.07747.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.datasets import load_fashion_mnist
    >>> fm = load_fashion_mnist(subset="test", n_samples=500, random_state=0)
    >>> fm.images.shape, fm.data.shape, fm.images.dtype
    ((500, 28, 28), (500, 784), dtype('uint8'))
    >>> fm.target_names[:3]
    ['T-shirt/top', 'Trouser', 'Pullover']
    >>> [int(c) for c in np.bincount(fm.target)]
    [50, 50, 50, 50, 50, 50, 50, 50, 50, 50]
    >>> list(fm.annotations.columns)
    ['garment_group', 'ink_pixels', 'ink_bucket', 'subgroup']
    >>> fm.subgroup_names[:3]
    ['tops/low', 'tops/medium', 'tops/high']
    """
    subsets = ["train", "test"] if subset == "all" else [subset]
    folder = _fashion_mnist_dir(path, data_home, subsets)

    images, target = [], []
    for name in subsets:
        image_stem, label_stem = FILES[name]
        images.append(
            _read_idx(_find_file(folder, image_stem), IDX_IMAGES_MAGIC, IMAGE_SHAPE)
        )
        target.append(_read_idx(_find_file(folder, label_stem), IDX_LABELS_MAGIC, ()))
        if len(images[-1]) != len(target[-1]):
            raise ValueError(
                f"The {name} files of {folder} hold {len(images[-1])} images "
                f"but {len(target[-1])} labels."
            )
    original_split = np.repeat(subsets, [len(t) for t in target]).astype(object)
    images = np.concatenate(images)
    target = np.concatenate(target).astype(np.int64)
    if target.max() >= len(TARGET_NAMES):
        raise ValueError(f"The label files of {folder} hold labels above 9.")

    _check_n_samples(n_samples, len(target))
    keep = _stratified_indices(target, n_samples, random_state)
    if len(keep) < len(target):
        # Fancy indexing copies, so the kept images own their memory.
        images, target, original_split = (
            images[keep],
            target[keep],
            original_split[keep],
        )
    else:
        images = images.copy()  # writable, unlike the frombuffer view

    index = pd.Index(keep, name="row")
    data = images.reshape(len(images), -1)
    feature_names = [
        f"pixel_{row}_{col}"
        for row in range(IMAGE_SHAPE[0])
        for col in range(IMAGE_SHAPE[1])
    ]
    bunch = Bunch(
        data=data,
        images=images,
        target=target,
        frame=None,
        annotations=_derived_annotations(images, target, index),
        annotation_columns=["subgroup"],
        subgroup_names=list(SUBGROUP_NAMES),
        original_split=original_split,
        feature_names=feature_names,
        target_names=list(TARGET_NAMES),
        DESCR=load_descr("fashion_mnist"),
    )
    if as_frame:
        bunch.data = pd.DataFrame(data, columns=feature_names, index=index)
        bunch.target = pd.Series(target, index=index, name="class")
        bunch.frame = pd.concat([bunch.data, bunch.target], axis=1)

    if return_X_y:
        return bunch.data, bunch.target
    return bunch
