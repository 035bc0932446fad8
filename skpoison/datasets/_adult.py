"""Loader for the UCI Adult (census income) data set bundled with skpoison.

The original ``adult.data``, ``adult.test`` and ``adult.names`` files are
shipped gzipped in ``skpoison/datasets/data`` (see ``data/README.txt`` for
their source, licence and checksums), so loading needs no network access.
"""

from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from ..utils._compat import StrOptions, validate_params
from ._base import load_descr

__all__ = ["load_adult"]

DATA_MODULE = "skpoison.datasets"
DATA_DIR = "data"

TRAIN_FILE = "adult.data.gz"
TEST_FILE = "adult.test.gz"

# Column names of the original files, in file order (``adult.names``, with
# dashes replaced by underscores so that they are valid identifiers).
COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
TARGET_COLUMN = "income"
FEATURE_COLUMNS = [col for col in COLUMNS if col != TARGET_COLUMN]
TARGET_NAMES = ["<=50K", ">50K"]

# Token used for unknown values in the original files.
MISSING = "?"

# Preprocessing of the paper's Adult notebook (Jagielski et al., CCS 2021).
PAPER_DROPPED = ["education", "native_country", "fnlwgt"]
PAPER_CATEGORICAL = [
    "workclass",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
]
# Columns FeatureMatch annotates subpopulations with: education level (2..16;
# level 1, "Preschool", is the base dropped by ``drop_first``), race (the base
# "Amer-Indian-Eskimo" is dropped) and sex (the base "Female" is dropped).
ANNOTATION_COLUMNS = (
    [f"education_num_{level}" for level in range(2, 17)]
    + [f"race_{race}" for race in ["Asian-Pac-Islander", "Black", "Other", "White"]]
    + ["sex_Male"]
)



def _read_adult_file(file_name, *, skiprows=0):
    """Read one bundled, gzipped Adult file into a DataFrame."""
    path = resources.files(DATA_MODULE).joinpath(DATA_DIR, file_name)
    with path.open("rb") as f:
        return pd.read_csv(
            f,
            names=COLUMNS,
            header=None,
            skiprows=skiprows,
            skipinitialspace=True,
            na_values=MISSING,
            compression="gzip",
        )


def _load_raw_frame():
    """Both Adult files concatenated, with the original split of each row.

    Returns
    -------
    frame : DataFrame of shape (48842, 15)
        The 15 original columns, ``income`` normalised to ``"<=50K"`` or
        ``">50K"``, unknown values as NaN, indexed by row number.

    original_split : Series of shape (48842,)
        ``"train"`` for the rows of ``adult.data``, ``"test"`` for those of
        ``adult.test``.
    """
    train = _read_adult_file(TRAIN_FILE)
    # adult.test opens with the line "|1x3 Cross validator".
    test = _read_adult_file(TEST_FILE, skiprows=1)
    frame = pd.concat([train, test], ignore_index=True)
    frame[TARGET_COLUMN] = frame[TARGET_COLUMN].str.rstrip(".")
    original_split = pd.Series(
        np.repeat(["train", "test"], [len(train), len(test)]),
        index=frame.index,
        name="original_split",
    )
    return frame, original_split


def _encode_target(frame):
    """Binary label: 1 where income is above 50K, else 0."""
    return (frame[TARGET_COLUMN] == TARGET_NAMES[1]).astype(np.int64)


def _paper_features(frame):
    """One-hot encode the raw features as the paper's Adult notebook does."""
    X = frame[FEATURE_COLUMNS].drop(columns=PAPER_DROPPED)
    # The notebook read '?' as a category of its own. '?' sorts before every
    # letter, so it is the level that ``drop_first`` drops: unknown values are
    # the base (all-zero) level of ``workclass`` and ``occupation``.
    categorical_strings = [
        col for col in PAPER_CATEGORICAL if not pd.api.types.is_numeric_dtype(X[col])
    ]
    X[categorical_strings] = X[categorical_strings].fillna(MISSING)
    X = pd.get_dummies(X, columns=PAPER_CATEGORICAL, drop_first=True, dtype=float)
    return X.astype(np.float64)


def _balanced_indices(y, rng):
    """All positives of ``y`` and as many negatives drawn at random, shuffled."""
    positives = y.index[y == 1].to_numpy()
    negatives = y.index[y == 0].to_numpy()
    negatives = rng.choice(negatives, size=len(positives), replace=False)
    return rng.permutation(np.concatenate([positives, negatives]))


@validate_params(
    {
        "form": [StrOptions({"frame", "paper"})],
        "split": ["boolean"],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_adult(
    *, form="frame", split=True, random_state=0, return_X_y=False, as_frame=True
):
    """Load the UCI Adult (census income) dataset, raw or as in the paper.

    Read more in the :ref:`User Guide <datasets_models>`.

    The binary classification task is to predict whether a person earns more
    than 50K US dollars a year. The original UCI files are bundled with
    skpoison, so nothing is downloaded. Read more in the ``DESCR`` of the
    returned Bunch.

    =================   ==============   ==============
    ``form``            ``"frame"``      ``"paper"``
    =================   ==============   ==============
    Samples             48,842           48,842, balanced to
                                         7,841 + 7,841 + 7,692
    Features            14 (raw)         57 (numeric)
    Classes             2                2
    =================   ==============   ==============

    Parameters
    ----------
    form : {"frame", "paper"}, default="frame"
        - ``"frame"``: the raw data, ``adult.data`` then ``adult.test``, with
          unknown values as NaN.
        - ``"paper"``: the preprocessing of Jagielski et al. (2021): three
          columns dropped, seven one-hot encoded, the classes balanced and the
          data cut into the training set ``D``, the attacker's auxiliary set
          ``D_aux`` and a test set.

    split : bool, default=True
        With ``form="frame"``, whether to add ``original_split``, the file
        each row comes from. With ``form="paper"``, whether to balance and
        split the data as the paper does; if False, ``data`` and ``target``
        are all 48,842 preprocessed rows, neither balanced nor split.

    random_state : int, RandomState instance or None, default=0
        Seeds the draw of the negatives kept by the class balancing and the
        shuffle that splits ``D`` from ``D_aux``. Pass an int for
        reproducible output across calls. Only used when ``form="paper"`` and
        ``split=True``.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=True
        If True, the data are pandas DataFrames and the targets Series, indexed
        by row number in the concatenated raw data (so rows can be traced
        back, and splits compared). If False, numpy arrays: float64 features
        and int64 targets for ``form="paper"``; an object array of the raw
        features for ``form="frame"``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {DataFrame, ndarray} of shape (n_samples, n_features)
            The features. With ``form="paper"`` and ``split=True``, the
            concatenation of ``X_train``, ``X_aux`` and ``X_test``.
        target : {Series, ndarray} of shape (n_samples,)
            The label, 1 if ``income`` is ``">50K"`` else 0, named
            ``"income"``.
        frame : DataFrame or None
            With ``form="frame"``, all 48,842 rows and the 15 original
            columns, ``income`` as ``"<=50K"``/``">50K"``. With
            ``form="paper"``, ``data`` with the ``target`` column. None if
            ``as_frame=False``.
        original_split : {Series, ndarray} of shape (48842,)
            ``"train"`` or ``"test"``, the UCI file of each row. Only with
            ``form="frame"`` and ``split=True``.
        X_train, y_train : DataFrame and Series, or ndarrays
            The training set ``D``, 7,841 rows. Only with ``form="paper"``
            and ``split=True``, as the four below.
        X_aux, y_aux : DataFrame and Series, or ndarrays
            The attacker's auxiliary set ``D_aux``, 7,841 rows, disjoint from
            ``D``. ``D`` and ``D_aux`` together hold exactly as many positives
            as negatives (7,841 each); as they are halves of a random shuffle,
            each of them is only about balanced.
        X_test, y_test : DataFrame and Series, or ndarrays
            The test set, 7,692 rows of ``adult.test``, exactly half of them
            positive.
        annotation_columns : list of str
            The 20 indicator columns the paper's FeatureMatch finder
            annotates subpopulations with: ``education_num_2`` to
            ``education_num_16``, ``race_Asian-Pac-Islander``,
            ``race_Black``, ``race_Other``, ``race_White`` and ``sex_Male``.
            Only with ``form="paper"``.
        feature_names : list of str
            The names of the columns of ``data``.
        target_names : list of str
            ``["<=50K", ">50K"]``, the meaning of targets 0 and 1.
        DESCR : str
            Description of the dataset: source, licence (CC BY 4.0), citation
            and preprocessing.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Notes
    -----
    With ``form="paper"``, an unknown ``workclass`` or ``occupation`` (``?``
    in the files) is kept as a category of its own, as in the authors'
    notebook. Since ``?`` sorts first, it is the base level removed by
    ``drop_first``, so it gets no column: such rows are zero in every
    indicator column of that variable. ``workclass_Federal-gov`` and
    ``occupation_Adm-clerical`` are therefore columns.

    References
    ----------
    .. [1] Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning
       Repository. https://doi.org/10.24432/C5XW20
    .. [2] Jagielski, M., Severi, G., Pousette Harger, N. & Oprea, A. (2021).
       Subpopulation data poisoning attacks. In Proceedings of ACM CCS 2021.

    Examples
    --------
    >>> from skpoison.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.frame.shape
    (48842, 15)
    >>> adult.target.value_counts().sort_index().tolist()
    [37155, 11687]
    >>> paper = load_adult(form="paper", random_state=0)
    >>> paper.X_train.shape, paper.X_aux.shape, paper.X_test.shape
    ((7841, 57), (7841, 57), (7692, 57))
    >>> float(paper.y_test.mean())
    0.5
    >>> paper.annotation_columns[-5:]
    ['race_Asian-Pac-Islander', 'race_Black', 'race_Other', 'race_White', 'sex_Male']
    """
    frame, original_split = _load_raw_frame()
    target = _encode_target(frame)

    if form == "frame":
        data = frame[FEATURE_COLUMNS]
        bunch = Bunch(data=data, target=target, frame=frame)
        if split:
            bunch.original_split = original_split
    else:
        data = _paper_features(frame)
        bunch = Bunch(annotation_columns=list(ANNOTATION_COLUMNS))
        if split:
            rng = check_random_state(random_state)
            is_train = original_split == "train"
            train_and_aux = _balanced_indices(target[is_train], rng)
            half = len(train_and_aux) // 2
            indices = {
                "train": train_and_aux[:half],
                "aux": train_and_aux[half:],
                "test": _balanced_indices(target[~is_train], rng),
            }
            for name, idx in indices.items():
                bunch[f"X_{name}"] = data.loc[idx]
                bunch[f"y_{name}"] = target.loc[idx]
            data = pd.concat([bunch.X_train, bunch.X_aux, bunch.X_test])
            target = pd.concat([bunch.y_train, bunch.y_aux, bunch.y_test])
        bunch.update(data=data, target=target, frame=pd.concat([data, target], axis=1))

    bunch.update(
        feature_names=list(data.columns),
        target_names=list(TARGET_NAMES),
        DESCR=load_descr("adult"),
    )

    if not as_frame:
        bunch.frame = None
        for key, value in list(bunch.items()):
            if isinstance(value, pd.DataFrame):
                dtype = np.float64 if form == "paper" else object
                bunch[key] = value.to_numpy(dtype=dtype)
            elif isinstance(value, pd.Series):
                bunch[key] = value.to_numpy()

    if return_X_y:
        return bunch.data, bunch.target
    return bunch
