"""A SQLite result store that makes audits resumable.

One row per finished unit of work, *(setting, filter, subpopulation, alpha,
seed, defense)*, committed in its own transaction as soon as the unit's result
reaches the parent process. ``setting`` is a stable hash of everything that
determines that row's numbers: the victim, the attack template, the finder,
the defense, the audit's options and fingerprints of the six data arrays. An
audit re-run against the same store loads the rows whose setting matches and
computes only the rest, so a killed audit loses at most the work that was in
flight.

Rows are stored as JSON text (never pickles), so a store from an untrusted
source can be read safely.
"""

import functools
import hashlib
import inspect
import json
import math
import os
import sqlite3
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    setting TEXT NOT NULL,
    filter TEXT NOT NULL,
    subpopulation INTEGER NOT NULL,
    alpha REAL NOT NULL,
    seed INTEGER NOT NULL,
    defense TEXT NOT NULL,
    row TEXT NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (setting, filter, subpopulation, alpha, seed, defense)
);
CREATE TABLE IF NOT EXISTS settings (
    setting TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    run TEXT NOT NULL,
    setting TEXT NOT NULL,
    filter TEXT NOT NULL,
    subpopulation INTEGER NOT NULL,
    alpha REAL NOT NULL,
    seed INTEGER NOT NULL,
    defenses TEXT NOT NULL,
    dispatched REAL NOT NULL
);
"""


def _qualname(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def canonical(obj):
    """A JSON-ready description of ``obj`` that is equal for equal settings.

    Estimators become their class name and their (recursively canonical)
    ``get_params(deep=False)``; arrays, DataFrames and Series a content hash
    (:func:`joblib.hash` of their values, column names, dtypes and index);
    classes and functions their qualified name; other objects (a torch module
    instance, say) a :func:`joblib.hash` of their pickled state. Unlike
    ``repr``, nothing is abbreviated.

    Parameters
    ----------
    obj : object

    Returns
    -------
    canonical : JSON-serialisable object

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.audit._store import canonical
    >>> canonical(LogisticRegression(C=2.0))["class"]
    'sklearn.linear_model._logistic.LogisticRegression'
    >>> canonical(LogisticRegression(C=2.0))["params"]["C"]
    2.0
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else repr(obj)
    if isinstance(obj, np.generic):
        return canonical(obj.item())
    if isinstance(obj, pd.DataFrame):
        return {"dataframe": joblib.hash([
            [str(c) for c in obj.columns], [str(t) for t in obj.dtypes],
            np.asarray(obj.index), [obj[c].to_numpy() for c in obj.columns]])}
    if isinstance(obj, pd.Series):
        return {"series": joblib.hash([str(obj.name), str(obj.dtype),
                                       np.asarray(obj.index), obj.to_numpy()])}
    if isinstance(obj, np.ndarray) or hasattr(obj, "tocsr"):
        return {"array": joblib.hash(obj)}
    if isinstance(obj, type) or inspect.isroutine(obj):
        return {"callable": _qualname(obj)}
    if isinstance(obj, functools.partial):
        return {"partial": canonical(obj.func), "args": canonical(list(obj.args)),
                "keywords": canonical(obj.keywords)}
    if hasattr(obj, "get_params"):
        params = obj.get_params(deep=False)
        return {"class": _qualname(type(obj)),
                "params": {str(k): canonical(v) for k, v in sorted(params.items())}}
    if isinstance(obj, dict):
        return {"dict": [[canonical(k), canonical(v)]
                         for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))]}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    try:
        return {"object": _qualname(type(obj)), "hash": joblib.hash(obj)}
    except (TypeError, AttributeError, ValueError, RuntimeError):  # pragma: no cover
        # unpicklable exotic objects
        return {"object": _qualname(type(obj)), "repr": repr(obj)}


def setting_hash(obj):
    """A stable 32-hex-digit hash of :func:`canonical` ``(obj)``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpoison.audit._store import setting_hash
    >>> setting_hash(LogisticRegression()) == setting_hash(LogisticRegression())
    True
    >>> setting_hash(LogisticRegression()) == setting_hash(LogisticRegression(C=2))
    False
    """
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot store a value of type {type(value).__name__}.")


def normalize_row(row):
    """The row as the store gives it back (a JSON round trip).

    Fresh and stored rows go through the same conversion, so a resumed audit
    returns exactly the values of an uninterrupted one.
    """
    return json.loads(json.dumps(row, default=_json_default))


class ResultStore:
    """SQLite store of finished audit units (WAL mode, one transaction per row).

    Parameters
    ----------
    path : str or Path
        The database file; created, with its folder, when missing.

    Examples
    --------
    >>> import tempfile, os
    >>> from skpoison.audit import ResultStore
    >>> path = os.path.join(tempfile.mkdtemp(), "audit.sqlite")
    >>> with ResultStore(path) as store:
    ...     store.put("s1", dict(filter="f", subpopulation=3, alpha=1.0, seed=0,
    ...                          defense="none", target_damage=0.5))
    ...     store.load(["s1"])
    {('s1', 'f', 3, 1.0, 0, 'none'): {'filter': 'f', 'subpopulation': 3, \
'alpha': 1.0, 'seed': 0, 'defense': 'none', 'target_damage': 0.5}}
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # joblib pulls the next job (and so logs attempts) from its callback
        # thread: one connection shared across threads, serialised by a lock.
        if self.path.is_dir():
            raise ValueError(f"The result store {self.path} is a folder; give a file "
                             "path (e.g. audit.sqlite).")
        try:
            self._con = sqlite3.connect(str(self.path), timeout=60,
                                        isolation_level=None,
                                        check_same_thread=False)  # explicit transactions
        except sqlite3.Error as exc:
            raise ValueError(f"Cannot open the result store {self.path}: {exc}.") from None
        self._lock = threading.Lock()
        try:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.Error as exc:
            self._con.close()
            raise ValueError(
                f"{self.path} is not a usable skpoison result store ({exc}). Delete "
                "it (its results are lost) or give the audit another store path."
            ) from None

    def _check_schema(self):
        """Every table has the columns this version writes (not a foreign one)."""
        import re

        for table, columns in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);",
                                         _SCHEMA, flags=re.DOTALL):
            want = [line.split()[0] for line in columns.strip().splitlines()
                    if not line.strip().startswith("PRIMARY")]
            have = [row[1] for row in
                    self._con.execute(f"PRAGMA table_info({table})").fetchall()]
            if have != want:
                raise sqlite3.DatabaseError(
                    f"its table {table!r} has columns {have}, not {want}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the connection."""
        self._con.close()

    @staticmethod
    def unit(setting, row):
        """The primary key of ``row`` under ``setting``."""
        return (setting, str(row["filter"]), int(row["subpopulation"]),
                float(row["alpha"]), int(row["seed"]), str(row["defense"]))

    def describe(self, setting, description):
        """Record a readable description (JSON-ready) of ``setting``."""
        with self._lock, self._con:
            self._con.execute("BEGIN")
            self._con.execute(
                "INSERT OR IGNORE INTO settings VALUES (?, ?)",
                (setting, json.dumps(description, sort_keys=True, default=str)))

    def put(self, setting, row):
        """Store one finished row, in its own committed transaction."""
        text = json.dumps(row, default=_json_default)
        with self._lock, self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?)",
                              (*self.unit(setting, row), text, time.time()))

    def load(self, settings):
        """Stored rows of the given settings, keyed by :meth:`unit`."""
        settings = list(dict.fromkeys(settings))
        out = {}
        for start in range(0, len(settings), 500):
            chunk = settings[start:start + 500]
            query = ("SELECT setting, filter, subpopulation, alpha, seed, defense, row "
                     f"FROM results WHERE setting IN ({','.join('?' * len(chunk))})")
            with self._lock:
                found = self._con.execute(query, chunk).fetchall()
            for *key, text in found:
                out[tuple(key)] = json.loads(text)
        return out

    def delete(self, settings):
        """Forget the stored rows of the given settings."""
        settings = list(settings)
        with self._lock, self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.executemany("DELETE FROM results WHERE setting = ?",
                                  [(s,) for s in settings])

    def log_attempt(self, run, setting, key, defenses):
        """Record that a unit of work was dispatched (the audit's work log)."""
        with self._lock, self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.execute(
                "INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?)",
                (run, setting, str(key["filter"]), int(key["subpopulation"]),
                 float(key["alpha"]), int(key["seed"]), json.dumps(list(defenses)),
                 time.time()))

    def attempts(self):
        """The work log: one row per dispatched unit of work, as a DataFrame."""
        with self._lock:
            return pd.read_sql_query("SELECT * FROM attempts ORDER BY rowid", self._con)

    def count(self):
        """Number of stored result rows (all settings)."""
        with self._lock:
            return self._con.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def new_run_id():
    """A unique id for one ``run()`` call, for the work log."""
    return f"{os.getpid()}-{time.time_ns()}"
