"""Helpers shared by the dataset loaders.

Nothing here touches the network: data-only packages are located on disk
without being imported, and the data home is only a place to look for (or,
for a loader that needs it, write) files.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state, resample

__all__ = ["get_data_home"]

DATA_HOME_ENV = "SKPOISON_DATA"
DEFAULT_DATA_HOME = "~/skpoison_data"


def get_data_home(data_home=None):
    """Return the folder where skpoison's loaders look for (and keep) data.

    Read more in the :ref:`User Guide <datasets_models>`.

    Like :func:`sklearn.datasets.get_data_home`, but the folder is not
    created: skpoison's loaders read installed files and write nothing, so
    the folder only needs to exist once something is put there (for
    instance by ``tools/install_fashion_mnist.sh``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. When None, the environment variable ``SKPOISON_DATA``
        if it is set, else ``~/skpoison_data``. A leading ``~`` is expanded.

    Returns
    -------
    data_home : pathlib.Path
        The folder, which need not exist.

    Examples
    --------
    >>> from skpoison.datasets import get_data_home
    >>> get_data_home("/tmp/skpoison_data").as_posix()
    '/tmp/skpoison_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    if not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(
            f"data_home must be None, a str or a path-like, got {data_home!r}."
        )
    return Path(data_home).expanduser()


def _package_dir(name, *, install=None):
    """Directory of an installed package, found without importing it.

    ``importlib.util.find_spec`` reads the package's location from the import
    system's finders, without executing its ``__init__``; the data-only
    wheels skpoison reads have heavy imports and stale pins, so they are
    never imported.

    Parameters
    ----------
    name : str
        The top-level package name.
    install : str, default=None
        The command that installs the package, for the error message;
        ``pip install --no-deps <name>`` when None.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ImportError
        When the package is not installed.
    """
    install = install or f"pip install --no-deps {name}"
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"This loader reads its data from the {name!r} package, which is not "
            f"installed. Install it with `{install}` (its files are read by "
            "path; the package is never imported)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _check_n_samples(n_samples, n_available):
    """Raise a ValueError when ``n_samples`` exceeds what is available."""
    if n_samples is not None and n_samples > n_available:
        raise ValueError(
            f"n_samples={n_samples} is larger than the number of samples "
            f"available ({n_available})."
        )


def _stratified_indices(y, n_samples, random_state):
    """Sorted positions of a stratified random subsample of ``y``.

    The class proportions of ``y`` are kept as closely as integer counts
    allow (scikit-learn's :func:`~sklearn.utils.resample` with ``stratify``).
    ``n_samples=None`` keeps every row.
    """
    y = np.asarray(y)
    n = len(y)
    _check_n_samples(n_samples, n)
    if n_samples is None or n_samples == n:
        return np.arange(n)
    indices = resample(
        np.arange(n),
        replace=False,
        n_samples=n_samples,
        stratify=y,
        random_state=check_random_state(random_state),
    )
    return np.sort(indices)


def _to_numpy(bunch, keys, dtype=None):
    """Replace the pandas objects under ``keys`` by NumPy arrays, in place."""
    for key in keys:
        value = bunch[key]
        if isinstance(value, pd.DataFrame):
            bunch[key] = value.to_numpy(dtype=dtype)
        elif isinstance(value, pd.Series):
            bunch[key] = value.to_numpy()
    return bunch


def load_descr(name):
    """The text of ``descr/<name>.rst``, a data set's ``DESCR`` (as scikit-learn)."""
    from importlib import resources

    return resources.files("skpoison.datasets").joinpath(
        "descr", f"{name}.rst").read_text(encoding="utf-8")
