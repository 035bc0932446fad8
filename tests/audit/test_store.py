"""Resumable audits: the SQLite result store, SIGKILL included."""

import importlib.util
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skpoison.audit import SubpopulationAudit
from skpoison.audit._store import ResultStore, config_hash
from skpoison.defenses import TRIM
from skpoison.subpopulations import ClusterMatch

JOB = Path(__file__).with_name("_resume_job.py")
TIMING = ["fit_seconds", "attack_seconds"]


def _job_module():
    spec = importlib.util.spec_from_file_location("_resume_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


job = _job_module()


def _audit(store=None, **kw):
    params = {"finders": {"cm": ClusterMatch(n_clusters=8, random_state=0)},
              "alphas": [0.5, 2], "seeds": [0], "progress": False, "store": store}
    params.update(kw)
    return SubpopulationAudit(LogisticRegression(), **params)


def _rows(path):
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_second_run_loads_everything(tmp_path):
    data = job.data()
    store = tmp_path / "audit.sqlite"
    first = _audit(store)
    res1 = first.run(*data)
    assert (first.n_reused_, first.n_computed_) == (0, len(res1))
    second = _audit(store)
    res2 = second.run(*data)
    assert (second.n_reused_, second.n_computed_) == (len(res1), 0)
    pd.testing.assert_frame_equal(res1, res2)  # timings included: they are stored
    plain = _audit().run(*data)
    pd.testing.assert_frame_equal(plain.drop(columns=TIMING), res2.drop(columns=TIMING))
    with ResultStore(store) as db:
        assert db.count() == len(res1)


def test_added_defense_computes_only_its_rows(tmp_path):
    data = job.data()
    store = tmp_path / "audit.sqlite"
    _audit(store, defenses={"none": None}).run(*data)
    both = _audit(store, defenses={"none": None, "trim": TRIM(None, max_iter=2)})
    res = both.run(*data)
    n_tasks = len(res) // 2
    assert (both.n_reused_, both.n_computed_) == (n_tasks, n_tasks)
    ref = _audit(defenses={"none": None, "trim": TRIM(None, max_iter=2)}).run(*data)
    pd.testing.assert_frame_equal(ref.drop(columns=TIMING), res.drop(columns=TIMING))


@pytest.mark.parametrize("change", ["estimator", "data", "finder", "defense"])
def test_changed_configuration_is_not_reused(tmp_path, change):
    data = list(job.data())
    store = tmp_path / "audit.sqlite"
    _audit(store, defenses={"d": TRIM(None, max_iter=2)}).run(*data)
    kw = {"defenses": {"d": TRIM(None, max_iter=2)}}
    if change == "data":
        data[1] = data[1].copy()
        data[1][0] = 1 - data[1][0]
    elif change == "finder":
        kw["finders"] = {"cm": ClusterMatch(n_clusters=8, random_state=1)}
    elif change == "defense":
        kw["defenses"] = {"d": TRIM(None, max_iter=3)}
    audit = _audit(store, **kw)
    if change == "estimator":
        audit.estimator = LogisticRegression(C=0.5)
    audit.run(*data)
    assert audit.n_reused_ == 0


def test_resume_false_recomputes(tmp_path):
    data = job.data()
    store = tmp_path / "audit.sqlite"
    _audit(store).run(*data)
    again = _audit(store, resume=False)
    res = again.run(*data)
    assert (again.n_reused_, again.n_computed_) == (0, len(res))
    with ResultStore(store) as db:
        assert db.count() == len(res)  # overwritten, not duplicated


def test_config_hash_reads_dataframes_by_content():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert config_hash(df) == config_hash(df.copy())
    changed = df.copy()
    changed.loc[1, "a"] = 3.0
    assert config_hash(df) != config_hash(changed)
    assert config_hash(np.arange(3)) != config_hash(np.arange(3) + 1)


# The schema of stores written before the configuration hash was named so,
# as that code created it: kept literally, since users have such files.
OLD_SCHEMA = """
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


def _old_store(path, results=(), configs=(), attempts=()):
    """A store as the code before the rename wrote it: WAL, the old names."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(OLD_SCHEMA)
    con.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?)", results)
    con.executemany("INSERT OR IGNORE INTO settings VALUES (?, ?)", configs)
    con.executemany("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?)", attempts)
    con.commit()
    con.close()


def _tables(path):
    con = sqlite3.connect(path)
    try:
        return {t: [c[1] for c in con.execute(f"PRAGMA table_info({t})")]
                for (t,) in con.execute("SELECT name FROM sqlite_master "
                                        "WHERE type = 'table' ORDER BY name")}
    finally:
        con.close()


@pytest.mark.parametrize("writer", [True, False])
def test_old_store_is_renamed_and_read(tmp_path, writer):
    path = tmp_path / "audit.sqlite"
    row = {"filter": "f", "subpopulation": 3, "alpha": 1.0, "seed": 0,
           "defense": "none", "target_damage": 0.5}
    _old_store(path,
               results=[("s1", "f", 3, 1.0, 0, "none", json.dumps(row), 1.0)],
               configs=[("s1", json.dumps({"estimator": "lr"}))],
               attempts=[("run-1", "s1", "f", 3, 1.0, 0, '["none"]', 1.0)])
    with ResultStore(path, writer=writer) as store:
        assert store.load(["s1"]) == {("s1", "f", 3, 1.0, 0, "none"): row}
        assert store.count() == 1
        log = store.attempts()
        assert list(log.columns) == ["run", "config", "filter", "subpopulation",
                                     "alpha", "seed", "defenses", "dispatched"]
        assert log.config.tolist() == ["s1"]
    tables = _tables(path)
    assert set(tables) == {"results", "configs", "attempts"}
    assert tables["results"][0] == tables["configs"][0] == tables["attempts"][1] == "config"
    con = sqlite3.connect(path)
    assert con.execute("SELECT * FROM configs").fetchall() == [
        ("s1", json.dumps({"estimator": "lr"}))]
    con.close()
    with ResultStore(path) as store:  # renamed once; written as a new store
        store.put("s1", dict(row, seed=1))
        store.describe("s2", {"estimator": "hgb"})
        store.log_attempt("run-2", "s1", row, ["none"])
        assert len(store.load(["s1"])) == 2 and store.count() == 2


def test_audit_reuses_the_rows_of_an_old_store(tmp_path):
    data = job.data()
    new = tmp_path / "new.sqlite"
    first = _audit(new)
    res1 = first.run(*data)
    con = sqlite3.connect(new)  # its rows, written back as the old code did
    results = con.execute("SELECT * FROM results").fetchall()
    configs = con.execute("SELECT * FROM configs").fetchall()
    attempts = con.execute("SELECT * FROM attempts").fetchall()
    con.close()
    old = tmp_path / "old.sqlite"
    _old_store(old, results, configs, attempts)
    second = _audit(old)
    res2 = second.run(*data)
    assert (second.n_reused_, second.n_computed_) == (len(res1), 0)
    assert second.config_hash_ == first.config_hash_
    pd.testing.assert_frame_equal(res1, res2)
    with ResultStore(old) as db:
        assert db.count() == len(res1)
        assert len(db.attempts()) == len(attempts)  # nothing dispatched again


def test_foreign_table_named_settings_is_left_alone(tmp_path):
    # a file with a table of the old name but other columns is not a store:
    # the rename is rolled back and the file refused
    path = tmp_path / "audit.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE settings (setting TEXT, other TEXT)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="not a usable skpoison result store"):
        ResultStore(path)
    assert "settings" in _tables(path) and "configs" not in _tables(path)


def test_bad_store_type():
    with pytest.raises(TypeError, match="store"):
        _audit(store=3).run(*job.data())


def _launch(store, out):
    env = dict(os.environ, SKPOISON_TEST_SLEEP="0.05", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(JOB), str(store), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_midway_then_resume(tmp_path):
    store = tmp_path / "audit.sqlite"
    proc = _launch(store, tmp_path / "killed.pkl")
    deadline = time.monotonic() + 120
    while _rows(store) < 3:  # let some units finish...
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the audit stored nothing in 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # ...then kill it without warning
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    stored = _rows(store)
    assert 3 <= stored < job.N_UNITS, "the audit finished before it was killed"
    with ResultStore(store) as db:
        first = db.attempts()
    assert len(first) <= stored + 1  # n_jobs=1: at most one unit was in flight

    proc = _launch(store, tmp_path / "resumed.pkl")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    with open(tmp_path / "resumed.pkl", "rb") as fh:
        resumed, n_reused, n_computed = pickle.load(fh)
    assert n_reused == stored
    assert n_computed == job.N_UNITS - stored
    with ResultStore(store) as db:
        log = db.attempts()
        assert db.count() == job.N_UNITS
    keys = ["filter", "subpopulation", "alpha", "seed"]
    runs = list(dict.fromkeys(log.run))
    assert len(runs) == 2
    tried = [set(map(tuple, log[log.run == r][keys].to_numpy().tolist())) for r in runs]
    repeated = tried[0] & tried[1]
    assert len(repeated) == len(first) - stored <= 1  # only in-flight work repeated

    job.SLEEP = 0.0  # the same audit, uninterrupted and without a store
    reference = job.make_audit(job.SlowLogisticRegression()).run(*job.data())
    pd.testing.assert_frame_equal(reference.drop(columns=TIMING),
                                  resumed.drop(columns=TIMING))


@pytest.mark.parametrize("content", ["text", "truncated", "foreign", "folder"])
def test_unusable_store_is_one_clear_error(tmp_path, content):
    path = tmp_path / "audit.sqlite"
    if content == "text":
        path.write_text("not a database at all, but long enough to have a header")
    elif content == "truncated":
        with ResultStore(path) as store:
            store.put("s", {"filter": "f", "subpopulation": 1, "alpha": 1.0,
                            "seed": 0, "defense": "none"})
        path.write_bytes(path.read_bytes()[:50])
    elif content == "foreign":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE results (a, b)")
        con.commit()
        con.close()
    else:
        path.mkdir()
    with pytest.raises(ValueError, match=str(path.name)):
        ResultStore(path)
    for resume in (True, False):  # --fresh too
        with pytest.raises(ValueError, match="store"):
            _audit(store=path, resume=resume).run(*job.data())


def test_second_writer_is_refused_at_start_up(tmp_path):
    path = tmp_path / "audit.sqlite"
    lock = tmp_path / "audit.sqlite.lock"
    with ResultStore(path):  # this process writes to the store...
        assert lock.exists()
        # ...so an audit in another process is refused before any work
        proc = subprocess.run(
            [sys.executable, "-m", "skpoison", "audit", "--dataset", "german",
             "--store", str(path), "--out", str(tmp_path / "out"), "--quiet"],
            check=False, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert (f"skpoison: error: --store: The result store {path.resolve()} is being "
                f"written by another audit (process {os.getpid()} on ") in proc.stderr
        assert "one writer at a time" in proc.stderr and "--no-store" in proc.stderr
        assert not (tmp_path / "out").exists()
        with ResultStore(path, writer=False) as reader:  # reading is allowed
            assert reader.count() == 0
            with pytest.raises(RuntimeError, match="reading only"):
                reader.put("s", {"filter": "f", "subpopulation": 1, "alpha": 1.0,
                                 "seed": 0, "defense": "none"})
    assert not lock.exists()  # released and removed on close
    with ResultStore(path):
        pass


def test_running_audit_holds_its_store(tmp_path):
    from skpoison.audit import StoreInUseError

    store = tmp_path / "audit.sqlite"
    proc = _launch(store, tmp_path / "first.pkl")
    deadline = time.monotonic() + 120
    while _rows(store) < 1:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the audit stored nothing in 120 s"
        time.sleep(0.02)
    second = _audit(store)
    with pytest.raises(StoreInUseError, match=f"process {proc.pid} on .*one writer"):
        second.run(*job.data())
    assert not hasattr(second, "fitted_finders_")  # refused before any work
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    with open(tmp_path / "first.pkl", "rb") as fh:
        _, n_reused, n_computed = pickle.load(fh)
    assert (n_reused, n_computed) == (0, job.N_UNITS)  # the first audit did it all


@pytest.mark.parametrize("damage", ["{}", "[1, 2]", "not json", "other-unit"])
def test_damaged_row_is_refused_on_load(tmp_path, damage):
    # a row whose JSON disagrees with its key columns must not be loaded as a
    # finished result (it would be reported as the unit's damage)
    data = job.data()
    store = tmp_path / "audit.sqlite"
    _audit(store).run(*data)
    con = sqlite3.connect(store)
    key = con.execute("SELECT rowid, row FROM results LIMIT 1").fetchone()
    if damage == "other-unit":
        row = json.loads(key[1])
        row["seed"] = int(row["seed"]) + 7
        damage = json.dumps(row)
    con.execute("UPDATE results SET row = ? WHERE rowid = ?", (damage, key[0]))
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="the stored row of the unit .* is damaged"):
        _audit(store).run(*data)


def test_reused_rows_take_the_description_and_n_aux_of_the_task(tmp_path):
    # neither is part of the configuration hash: a stored row kept the name
    # (and n_aux) of the run that computed it, e.g. a group named by an older
    # describer
    data = job.data()
    store = tmp_path / "audit.sqlite"
    first = _audit(store, describe=lambda finder, s: f"old name {s}").run(*data)
    con = sqlite3.connect(store)
    with con:
        con.execute("UPDATE results SET row = json_set(row, '$.n_aux', 99999)")
    con.close()
    second = _audit(store, describe=lambda finder, s: f"group {s}")
    res = second.run(*data)
    assert (second.n_reused_, second.n_computed_) == (len(first), 0)
    assert res.description.tolist() == [f"group {s}" for s in res.subpopulation]
    assert res.n_aux.tolist() == first.n_aux.tolist()
    pd.testing.assert_frame_equal(res.drop(columns="description"),
                                  first.drop(columns="description"))


@pytest.mark.parametrize("edit", [{"target_damage": 7.5}, {"n_poison": -3},
                                  {"target_damage": "text"}, {"n_test": 2.5},
                                  {"description": 3}, "drop"])
def test_stored_values_are_checked(tmp_path, edit):
    # an edited row would be reused into results.csv as it is
    data = job.data()
    store = tmp_path / "audit.sqlite"
    _audit(store).run(*data)
    con = sqlite3.connect(store)
    rowid, text = con.execute("SELECT rowid, row FROM results LIMIT 1").fetchone()
    row = json.loads(text)
    if edit == "drop":
        del row["poisoned_target_accuracy"]
    else:
        row.update(edit)
    with con:
        con.execute("UPDATE results SET row = ? WHERE rowid = ?", (json.dumps(row), rowid))
    con.close()
    with pytest.raises(ValueError, match="the stored row of the unit .* is damaged"):
        _audit(store).run(*data)


def test_overwritten_page_is_one_clear_error(tmp_path):
    data = job.data()
    store = tmp_path / "audit.sqlite"
    _audit(store).run(*data)
    raw = bytearray(store.read_bytes())
    page = 4096
    assert len(raw) > 3 * page
    raw[2 * page:3 * page] = np.random.RandomState(0).bytes(page)  # a data page
    store.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a usable skpoison result store"):
        _audit(store).run(*data)


def test_half_integer_median_radius_is_reused(tmp_path):
    # a certifying defense's median radius over an even number of test rows is
    # a half-integer (16.5 on Adult with dpa): a resumed audit must reuse it
    row = {"filter": "f", "subpopulation": 3, "alpha": 1.0, "seed": 0,
           "defense": "dpa", "target_damage": 0.5, "median_radius": 16.5}
    with ResultStore(tmp_path / "audit.sqlite") as store:
        store.put("s1", row)
        assert store.load(["s1"]) == {("s1", "f", 3, 1.0, 0, "dpa"): row}


def test_load_matches_more_configurations_than_one_statement_takes(tmp_path):
    # SQLite builds before 3.32 take at most 999 parameters in one statement
    row = {"filter": "f", "subpopulation": 3, "alpha": 1.0, "seed": 0,
           "defense": "none", "target_damage": 0.5}
    with ResultStore(tmp_path / "audit.sqlite") as store:
        store.put("c1500", row)
        store._con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        found = store.load([f"c{i}" for i in range(2000)])
        assert found == {("c1500", "f", 3, 1.0, 0, "none"): row}
