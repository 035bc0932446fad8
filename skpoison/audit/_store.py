"""A SQLite result store that makes audits resumable.

One row per finished unit of work, *(config, filter, subpopulation, alpha,
seed, defense)*, committed in its own transaction as soon as the unit's result
reaches the parent process. ``config`` is the configuration hash
(:func:`config_hash`), a stable hash of everything that determines that row's
numbers: the victim, the attack template, the finder, the defense, the audit's
options and fingerprints of the six data arrays. An audit re-run against the
same store loads the rows whose configuration matches and computes only the
rest, so a killed audit loses at most the work that was in flight.

Stores written before the configuration hash was named so (the ``config``
columns were ``setting`` and the ``configs`` table ``settings``) are renamed in
place when opened, in one transaction; their rows are kept and reused.

Rows are stored as JSON text (never pickles), so a store from an untrusted
source can be read safely.

A store has one writer at a time: :class:`ResultStore` holds an exclusive lock
on ``<store>.lock`` (an advisory ``flock``, released by the system when the
process ends, however it ends) from opening to closing, and a second writer is
refused at once with :class:`StoreInUseError`. Two audits on one store would
otherwise both compute every unit. Readers open it with ``writer=False``.
"""

import json
import math
import os
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from ..utils._filelock import WriterLock
from ..utils._hashing import _json_default, config_hash  # noqa: F401 - re-exported

# the tables and their columns, every one NOT NULL, of type TEXT unless
# _TYPES says otherwise; a table's primary key is its first _PRIMARY[table]
_TASK = ["filter", "subpopulation", "alpha", "seed"]
_TABLES = {"results": ["config", *_TASK, "defense", "row", "finished"],
           "configs": ["config", "description"],
           "attempts": ["run", "config", *_TASK, "defenses", "dispatched"]}
_TYPES = {"subpopulation": "INTEGER", "seed": "INTEGER", "alpha": "REAL",
          "finished": "REAL", "dispatched": "REAL"}
_PRIMARY = {"results": 6, "configs": 1}


def _create(table):
    """The statement that creates ``table`` when missing."""
    columns = [f"{c} {_TYPES.get(c, 'TEXT')} NOT NULL" for c in _TABLES[table]]
    key = _TABLES[table][:_PRIMARY.get(table, 0)]
    if key:
        columns.append(f"PRIMARY KEY ({', '.join(key)})")
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})"


def task_key(row):
    """The task's columns of a row: filter, subpopulation, alpha, seed."""
    return (str(row["filter"]), int(row["subpopulation"]), float(row["alpha"]),
            int(row["seed"]))


class StoreInUseError(ValueError):
    """The result store is being written by another audit.

    Read more in the :ref:`User Guide <audit>`.

    A store takes one writer at a time (see :class:`ResultStore`); the
    message names the store, the process holding it and what to do.
    """


def _in_use(store, holder):
    return StoreInUseError(
        f"The result store {store} is being written by another audit ({holder}). A "
        "store takes one writer at a time: wait for that audit to finish (or stop "
        "it), or give this audit a store of its own (--store PATH, or --no-store; "
        "store=... in Python).")


class ResultStore:
    """SQLite store of finished audit units (WAL mode, one transaction per row).

    Read more in the :ref:`User Guide <audit>`.

    One writer at a time: opened with ``writer=True`` (the default, as the
    audit opens it), the store is locked until :meth:`close` (or the end of
    the process, however it ends), and a second writer, in this process or
    another, gets :class:`StoreInUseError` at once, naming the store and the
    process that holds it. Open it with ``writer=False`` to read it while an
    audit writes it.

    Rows are keyed by a configuration hash (a hash of everything that
    determines them; the audit-wide part is the audit's ``config_hash_``).
    A store written by an earlier development version, whose configuration
    columns were named ``setting`` (and its ``configs`` table ``settings``),
    is renamed in place when opened, in one transaction; its rows are kept
    and reused.

    Parameters
    ----------
    path : str or Path
        The database file; created, with its folder, when missing.
    writer : bool, default=True
        Take the store's single-writer lock. ``False`` opens it for reading:
        :meth:`describe`, :meth:`put` and :meth:`log_attempt` then raise.

    Raises
    ------
    StoreInUseError
        Another writer holds the store (a ``ValueError``).
    ValueError
        The file is not a usable store (not a database, truncated, a foreign
        table, a folder).

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

    def __init__(self, path, *, writer=True):
        self.path = Path(path)
        self.writer = writer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir():
            raise ValueError(f"The result store {self.path} is a folder; give a file "
                             "path (e.g. audit.sqlite).")
        self._writer_lock = WriterLock(self.path, _in_use) if writer else None
        # joblib pulls the next job (and so logs attempts) from its callback
        # thread: one connection shared across threads, serialised by a lock;
        # explicit transactions
        self._lock = threading.Lock()
        try:
            self._con = sqlite3.connect(str(self.path), timeout=60,
                                        isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            self._release()
            raise ValueError(f"Cannot open the result store {self.path}: {exc}.") from None
        try:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._upgrade_schema()
            for table in _TABLES:
                self._con.execute(_create(table))
            self._check_schema()
        except sqlite3.Error as exc:
            self.close()
            raise ValueError(
                f"{self.path} is not a usable skpoison result store ({exc}). Delete "
                "it (its results are lost) or give the audit another store path."
            ) from None

    def _release(self):
        if self._writer_lock is not None:
            self._writer_lock.release()

    def _write(self, statement, values):
        """Run one statement in its own committed transaction (writers only)."""
        if not self.writer:
            raise RuntimeError(f"The result store {self.path} was opened with "
                               "writer=False, for reading only.")
        with self._lock, self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.execute(statement, values)

    def _columns(self, table):
        return [row[1] for row in self._con.execute(f"PRAGMA table_info({table})")]

    def _old_names(self):
        """The renames an older store needs: its ``settings`` table and the
        ``setting`` columns that hold what is now the configuration hash."""
        renames = []
        old_configs = bool(self._columns("settings")) and not self._columns("configs")
        if old_configs:
            renames.append("ALTER TABLE settings RENAME TO configs")
        for table in _TABLES:  # its columns, before the rename
            have = self._columns("settings" if old_configs and table == "configs"
                                 else table)
            if "setting" in have and "config" not in have:
                renames.append(f"ALTER TABLE {table} RENAME COLUMN setting TO config")
        return renames

    def _upgrade_schema(self):
        """Bring a store written before the configuration hash was named so
        to this version's names, in one transaction (upgraded, or left as it
        was); its rows are kept, and reused by an audit with the same
        configuration."""
        if not self._old_names():
            return
        with self._lock, self._con:
            self._con.execute("BEGIN IMMEDIATE")
            for statement in self._old_names():  # again, under the write lock
                self._con.execute(statement)
            self._check_schema(missing_ok=True)  # else rolled back: a foreign file

    def _check_schema(self, missing_ok=False):
        """Every table has the columns this version writes (not a foreign one)."""
        for table, want in _TABLES.items():
            have = self._columns(table)
            if have != want and not (missing_ok and not have):
                raise sqlite3.DatabaseError(
                    f"its table {table!r} has columns {have}, not {want}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the connection and release the writer lock."""
        self._con.close()
        self._release()

    @staticmethod
    def unit(config, row):
        """The primary key of ``row`` under the configuration hash ``config``."""
        return (config, *task_key(row), str(row["defense"]))

    def describe(self, config, description):
        """Record a readable description (JSON-ready) of the configuration hash
        ``config``: what was hashed."""
        self._write("INSERT OR IGNORE INTO configs VALUES (?, ?)",
                    (config, json.dumps(description, sort_keys=True, default=str)))

    def put(self, config, row):
        """Store one finished row, in its own committed transaction."""
        self._write("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?)",
                    (*self.unit(config, row), json.dumps(row, default=_json_default),
                     time.time()))

    def load(self, configs, required=()):
        """Stored rows of the given configuration hashes, keyed by :meth:`unit`,
        each with the keys ``required`` (see :func:`check_row`).

        Raises
        ------
        ValueError
            The file or one of its rows is damaged (see :func:`check_row`).
        """
        configs, found = list(dict.fromkeys(configs)), []
        try:  # 500 parameters a statement at most (older SQLite builds take 999)
            for start in range(0, len(configs), 500):
                chunk = configs[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                query = ("SELECT config, filter, subpopulation, alpha, seed, defense, "
                         f"row FROM results WHERE config IN ({marks})")
                with self._lock:
                    found += self._con.execute(query, chunk).fetchall()
        except sqlite3.DatabaseError as exc:  # e.g. a page overwritten
            raise ValueError(self._damaged(f"the file is damaged ({exc})")) from None
        out = {}
        for *key, text in found:
            try:
                out[tuple(key)] = check_row(tuple(key), json.loads(text), required)
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(self._damaged(
                    f"the stored row of the unit {tuple(key)} is damaged "
                    f"({type(exc).__name__}: {exc})")) from None
        return out

    def _damaged(self, what):
        return (f"{self.path} is not a usable skpoison result store: {what}. Delete "
                "the file (its results are lost), or give the audit another store "
                "path.")

    def log_attempt(self, run, config, key, defenses):
        """Record that a unit of work was dispatched (the audit's work log)."""
        self._write("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?)",
                    (run, config, *task_key(key), json.dumps(list(defenses)),
                     time.time()))

    def attempts(self):
        """The work log: one row per dispatched unit of work, as a DataFrame."""
        with self._lock:
            return pd.read_sql_query("SELECT * FROM attempts ORDER BY rowid", self._con)

    def count(self):
        """Number of stored result rows (all configurations)."""
        with self._lock:
            return self._con.execute("SELECT COUNT(*) FROM results").fetchone()[0]


# the values of a row that a report reads: (keys, lowest, highest, integer)
_CHECKS = [(("target_damage", "collateral_damage", "certified_damage",
             "defended_damage"), -1, 1, False),
           (("clean_target_accuracy", "poisoned_target_accuracy",
             "clean_collateral_accuracy", "poisoned_collateral_accuracy",
             "poison_removed", "clean_removed", "certified", "certified_correct"),
            0, 1, False),
           (("n_poison", "n_train", "n_test", "n_aux", "n_poison_needed"), 0, math.inf,
            True),  # a median of counts may be a half-integer
           (("fit_seconds", "attack_seconds", "lower_bound", "efficiency",
             "median_radius"), 0, math.inf, False)]
# the keys an audit needs in a row it reuses (never NaN)
REQUIRED = ("target_damage", "clean_target_accuracy", "poisoned_target_accuracy",
            "n_poison", "n_train", "n_test")


def check_row(key, row, required=()):
    """``row`` (parsed JSON) if it is a well-formed result of the unit ``key``.

    It must be an object naming the unit of its key columns, with the keys
    ``required``, and the values a report reads in range: damages in [-1, 1],
    accuracies and fractions in [0, 1], counts non-negative integers
    (optional values may be null or NaN, ``required`` ones not). Anything
    else raises: a stored row is data from a file, not to be trusted.
    """
    if not isinstance(row, dict):
        raise TypeError(f"it is a {type(row).__name__}, not an object")
    if ResultStore.unit(key[0], row) != key:
        raise ValueError(f"its columns name the unit {ResultStore.unit(key[0], row)}")
    missing = [k for k in required if k not in row]
    if missing:
        raise KeyError(f"it has no {', '.join(missing)}")
    for keys, low, high, integer in _CHECKS:
        for k in keys:
            v = row.get(k)
            if k not in required and (v is None or (isinstance(v, float)
                                                    and math.isnan(v))):
                continue
            if (isinstance(v, bool) or not isinstance(v, (int, float))
                    or (integer and v != int(v)) or not low <= v <= high):
                raise ValueError(f"{k}={v!r} is not a {'count' if integer else 'number'}"
                                 f" in [{low}, {high}]")
    for k in ("description", "filter", "defense"):
        if k in row and not isinstance(row[k], str):
            raise TypeError(f"{k}={row[k]!r} is not text")
    return row


def new_run_id():
    """A unique id for one ``run()`` call, for the work log."""
    return f"{os.getpid()}-{time.time_ns()}"
