"""Tables for the audit: reading a user's file, checking it, splitting rows.

Everything here runs before any fitting, so that a bad file or a bad column
name stops the audit with one clear message (:class:`SettingError`, naming the
parameter) and nothing written.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..utils._annotations import ANNOTATION_PREFIX, encode  # noqa: F401


class SettingError(ValueError):
    """A setting that cannot be audited, with the parameter that is wrong.

    Read more in the :ref:`User Guide <audit>`.

    ``param`` is the parameter's name in Python (``"target"``, ``"test"``);
    the command line reports it as the option (``--target``, ``--test``).
    """

    def __init__(self, param, message):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def read_table(source, param="data"):
    """A DataFrame from a CSV / TSV / Parquet file, or a DataFrame as it is.

    Parameters
    ----------
    source : str, Path or DataFrame
        ``.parquet`` / ``.pq`` files are read with :func:`pandas.read_parquet`
        (pyarrow), ``.tsv`` / ``.tab`` as tab-separated, anything else as
        CSV (compressed files too, by their suffix).
    param : str, default="data"
        The parameter named in errors.

    Returns
    -------
    frame : DataFrame
        A copy, never the caller's frame.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif not isinstance(source, (str, Path)):
        raise SettingError(param, "expected a file path or a DataFrame; got "
                                  f"{type(source).__name__}.")
    elif not Path(source).is_file():
        raise SettingError(param, f"no such file: {source}")
    else:
        frame = _read_file(Path(source), param)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise SettingError(param, f"the table has {frame.shape[0]} rows and "
                                  f"{frame.shape[1]} columns.")
    if frame.shape[1] == 1 and any(sep in str(frame.columns[0]) for sep in ";|"):
        raise SettingError(param, f"one column, named {str(frame.columns[0])!r}: "
                                  "write the table with commas (.csv) or tabs (.tsv).")
    for c in frame.columns[frame.dtypes == object]:
        if frame[c].map(lambda v: isinstance(v, (list, dict, set, np.ndarray))).any():
            raise SettingError(param, f"column {c!r} holds lists or arrays; the audit "
                                      "needs one value per cell.")
    frame.columns = [str(c) for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise SettingError(param, f"duplicated column names {duplicated}.")
    return frame


def _read_file(path, param):
    """A CSV / TSV (UTF-8, else Latin-1) or Parquet file as a DataFrame; its
    header's names as written (pandas would rename a repeated name)."""
    suffixes = [s.lower() for s in path.suffixes]
    parquet = bool(suffixes) and suffixes[-1] in (".parquet", ".pq")
    sep = "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","
    with path.open("rb") as file:
        head = file.read(4096)
    if not head:
        raise SettingError(param, f"{path} is empty.")
    if not parquet and suffixes[-1:] in ([".csv"], [".tsv"]) and b"\0" in head:
        raise SettingError(param, f"{path} is a binary file, not a text table.")
    try:
        if parquet:
            return pd.read_parquet(path)  # its names are unique (pyarrow's rule)
        try:
            frame, encoding = pd.read_csv(path, sep=sep), None
        except UnicodeDecodeError:
            frame, encoding = pd.read_csv(path, sep=sep, encoding="latin-1"), "latin-1"
        names = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str,
                            encoding=encoding).iloc[0].fillna("")
    except ImportError:
        raise SettingError(param, f"reading the Parquet file {path} needs pyarrow "
                                  "(pip install pyarrow), or write the table as CSV."
                           ) from None
    except Exception as exc:  # noqa: BLE001 - parser, encoding, arrow, permission
        first = (str(exc).strip().splitlines() or [""])[0]
        raise SettingError(param, f"cannot read {path} as a "
                                  f"{'Parquet' if parquet else 'CSV'} table: "
                                  f"{type(exc).__name__}: {first}") from None
    if not parquet and names.duplicated().any():
        raise SettingError(param, "duplicated column names "
                                  f"{names[names.duplicated()].tolist()}.")
    return frame


def is_numeric(series):
    """Numbers or booleans (what a model can take without encoding)."""
    return (pd.api.types.is_numeric_dtype(series.dtype)
            or pd.api.types.is_bool_dtype(series.dtype))


def text_columns(frame):
    """Columns of ``frame`` that do not hold numbers (strings, categories)."""
    return [c for c in frame.columns if not is_numeric(frame[c])]


def check_finite(frame, param):
    """No infinite number in ``frame`` (a missing value is fine; inf is not)."""
    for c in frame.select_dtypes("floating"):
        bad = np.flatnonzero(np.isinf(frame[c].to_numpy(dtype=float, na_value=np.nan)))
        if bad.size:
            raise SettingError(param, f"column {c!r} holds infinite values (rows "
                                      f"{bad[:5].tolist()}); write them as missing "
                                      "or as numbers.")


def split_target(frame, target, param):
    """``(X, y, n_dropped)``: the features, the target without missing labels."""
    if target not in frame.columns:
        raise SettingError("target", f"no column {target!r} in the {param} table; its "
                                     f"columns are {list(frame.columns)}.")
    column = frame[target]
    if pd.api.types.is_float_dtype(column.dtype):
        values = column.dropna().to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise SettingError("target", f"{target!r} holds fractional numbers (e.g. "
                                         f"{values[values != np.round(values)][:3].tolist()}"
                                         "); the audit needs classes (labels), not a "
                                         "continuous target.")
    missing = frame[target].isna().to_numpy()
    frame = frame.loc[~missing].reset_index(drop=True)
    y = frame[target].to_numpy()
    if y.dtype == object or pd.api.types.is_string_dtype(frame[target].dtype):
        y = frame[target].astype(str).to_numpy(dtype=object)
    return frame.drop(columns=[target]), y, int(missing.sum())


def check_same_columns(X, reference, param):
    """``X`` with the columns of ``reference``, in its order (by name).

    Rows of the test or attacker table are matched to the training rows by
    column name; a column missing or added, or one that holds numbers in one
    table and text in the other, is a :class:`SettingError` naming ``param``.
    """
    missing = [c for c in reference.columns if c not in X.columns]
    extra = [c for c in X.columns if c not in reference.columns]
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"not in the training rows: {extra}"] if extra else [])
        raise SettingError(param, "its columns differ from the training rows': "
                                  + "; ".join(parts) + ".")
    X = X[list(reference.columns)]
    kinds = [c for c in reference.columns
             if is_numeric(reference[c]) != is_numeric(X[c])
             and not (X[c].isna().all() or reference[c].isna().all())]
    if kinds:
        c = kinds[0]
        words = ["numbers", "text"] if is_numeric(reference[c]) else ["text", "numbers"]
        raise SettingError(param, f"column {c!r} holds {words[0]} in the training rows "
                                  f"but {words[1]} here (columns {kinds}).")
    return X


def read_tables(data, target, test=None, aux=None):
    """The training, test and attacker tables, read and checked: ``(tables,
    notes)``, each table ``(X, y)`` or None."""
    notes, tables = [], {"aux": None, "test": None}
    for param, source in (("data", data), ("test", test), ("aux", aux)):
        if source is None:
            continue
        frame = read_table(source, param)
        reserved = [c for c in frame.columns if c.startswith(ANNOTATION_PREFIX)]
        if reserved:
            raise SettingError(param, f"columns {reserved} start with "
                                      f"{ANNOTATION_PREFIX!r}, the prefix of the "
                                      "annotations the victim never sees; rename them.")
        if param != "data" and target not in frame.columns:
            raise SettingError(param, f"no target column {target!r}; its columns are "
                                      f"{list(frame.columns)}.")
        X, y, dropped = split_target(frame, target, param)
        check_finite(X, param)
        if dropped:
            notes.append(f"dropped {dropped} rows of --{param} with no target")
        if len(y) == 0:
            raise SettingError(param, "no row has a target value.")
        tables["train" if param == "data" else param] = (
            X if param == "data" else check_same_columns(X, tables["train"][0], param), y)
    return tables, notes


def split_rows(y, parts, n_per_split=None, random_state=0):
    """Indices of ``parts`` (e.g. ``("train", "aux", "test")``): stratified,
    equal shares of the rows, as the paper splits Adult into ``D``, ``D_aux``
    and test rows.

    ``n_per_split`` caps each part's rows (``None``: all rows), one part's
    too.
    """
    y = np.asarray(y)
    rest, out = np.arange(len(y)), []
    if n_per_split is not None and len(parts) * n_per_split < len(y):
        rest, _ = train_test_split(rest, train_size=len(parts) * n_per_split,
                                   stratify=y, random_state=random_state)
    for k in range(len(parts), 1, -1):
        rest, part = train_test_split(rest, test_size=1 / k, stratify=y[rest],
                                      random_state=random_state)
        out.insert(0, part)
    return dict(zip(parts, [rest, *out]))


def check_classes(y, param, n_parts):
    """A target with at least two classes, each with a row for every part."""
    values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    if len(values) < 2:
        raise SettingError("target", f"the target has one class ({values.tolist()}) "
                                     f"in the {param} table; the audit measures the "
                                     "damage to a classifier of two or more classes.")
    if n_parts > 1 and counts.min() < n_parts:
        rare = values[counts < n_parts].tolist()
        raise SettingError("target", f"classes {rare} have fewer than {n_parts} rows "
                                     f"in the {param} table, too few to split it "
                                     f"into {n_parts} stratified parts.")
