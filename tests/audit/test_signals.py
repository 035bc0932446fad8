"""An audit stopped by SIGTERM or SIGKILL leaves no process and no temporary file."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="reads the process tree from /proc (Linux)")

ROOT = Path(__file__).resolve().parents[2]
N_UNITS = 6 * 2  # 6 clusters x 2 alphas, one seed, one defense


def _children(pid):
    """Process ids whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (name) state ppid ...": the name may hold spaces
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _rows(store):
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def _leftovers(*folders):
    return [p.name for f in folders for p in f.iterdir()
            if p.name.startswith(("skpoison-audit-", "joblib_memmapping_folder_"))]


@pytest.fixture
def job(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2],
                  "y": np.where(X[:, 0] + rng.normal(0, 0.5, 300) > 0, "p", "q")}
                 ).to_csv(tmp_path / "table.csv", index=False)
    temp = {"joblib": tmp_path / "joblib", "tmp": tmp_path / "tmp"}
    for folder in temp.values():
        folder.mkdir()
    out = tmp_path / "out"
    command = [sys.executable, "-m", "skpoison", "audit", "--data",
               str(tmp_path / "table.csv"), "--target", "y", "--estimator",
               "tests.audit._factories:slow_model", "--filters", "ClusterMatch",
               "--n-clusters", "6", "--min-size", "5", "--max-size", "100",
               "--alphas", "1,2", "--defenses", "none", "--n-jobs", "2", "--quiet",
               "--out", str(out)]

    def launch(sleep):
        env = dict(os.environ, SKPOISON_TEST_SLEEP=str(sleep), OMP_NUM_THREADS="1",
                   JOBLIB_TEMP_FOLDER=str(temp["joblib"]), TMPDIR=str(temp["tmp"]))
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    return launch, out, temp


def _kill_midway(launch, store, sig):
    """Start the audit, wait until it has stored a unit and started its
    workers, send ``sig``; return the exit status, stderr and its children."""
    proc = launch(sleep=1.0)
    deadline = time.monotonic() + 180
    while _rows(store) < 1:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the audit stored nothing in 180 s"
        time.sleep(0.05)
    children = _children(proc.pid)
    assert len(children) >= 2  # the two workers (and resource trackers)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert _rows(store) < N_UNITS, "the audit finished before the signal"
    return proc.returncode, err, children


def _gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _running(p)]


def test_sigterm_stops_workers_and_removes_temporary_files(job):
    launch, out, temp = job
    store = out / "audit.sqlite"
    code, err, children = _kill_midway(launch, store, signal.SIGTERM)
    assert code == 143, err
    assert "skpoison: terminated; finished units are in the store" in err
    assert _gone(children, 10) == []  # workers and resource trackers
    assert _leftovers(*temp.values()) == []
    assert not Path(f"{store}.lock").exists()
    stored = _rows(store)

    proc = launch(sleep=0)  # the same command again finishes the audit
    output, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{N_UNITS - stored} poisoned fits" in output
    assert f"{stored} loaded from the store" in output
    assert len(pd.read_csv(out / "results.csv")) == _rows(store) == N_UNITS
    assert _leftovers(*temp.values()) == []


def test_sigkill_workers_exit_and_data_is_removed(job):
    launch, out, temp = job
    code, _, children = _kill_midway(launch, out / "audit.sqlite", signal.SIGKILL)
    assert code == -signal.SIGKILL
    # the workers notice that their parent is gone; the resource tracker
    # removes the data folder once they have exited
    assert _gone(children, 20) == []
    assert _leftovers(temp["joblib"]) == []


def test_data_folders_of_dead_audits_are_removed(tmp_path, monkeypatch):
    from contextlib import ExitStack

    from skpoison.utils._parallel import SharedArrays, _host, shared_once

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"skpoison-audit-{_host()}-{dead.pid}-abcd1234"
    live = tmp_path / f"skpoison-audit-{_host()}-{os.getpid()}-abcd1234"
    other_host = tmp_path / f"skpoison-audit-elsewhere-{dead.pid}-abcd1234"
    for folder in (stale, live, other_host):
        folder.mkdir()
        (folder / "data.pkl").write_bytes(b"x" * 10)
    monkeypatch.setenv("JOBLIB_TEMP_FOLDER", str(tmp_path))
    with ExitStack() as stack:
        shared = shared_once(SharedArrays(np.arange(6.0)), 2, stack)
        mine = Path(shared.arrays[0].filename).parent
        assert mine.name.startswith(f"skpoison-audit-{_host()}-{os.getpid()}-")
    assert not stale.exists() and not mine.exists()
    assert live.exists() and other_host.exists()


def test_stale_shared_memory_entries_of_dead_audits_are_removed(tmp_path, monkeypatch):
    # a process-group SIGKILL leaves joblib's memmapping folders and loky's
    # semaphores in /dev/shm; the next audit removes those of dead processes
    from skpoison.utils import _parallel

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    shm = tmp_path / "shm"
    shm.mkdir()
    entries = {f"joblib_memmapping_folder_{dead.pid}_ab_cd": False,
               f"sem.loky-{dead.pid}-x1y2": False,
               f"joblib_memmapping_folder_{os.getpid()}_ab_cd": True,
               f"sem.loky-{os.getpid()}-x1y2": True, "unrelated": True}
    for name in entries:
        if name.startswith("joblib"):
            (shm / name).mkdir()
        else:
            (shm / name).write_bytes(b"")
    monkeypatch.setattr(_parallel, "_SHM", str(shm))
    _parallel._sweep(str(tmp_path))
    assert {p.name for p in shm.iterdir()} == {n for n, kept in entries.items() if kept}


_REPEATED_SIGTERM = """
import os, signal, time
from skpoison.audit._cli import Terminated, _sigterm_as_interrupt
try:
    with _sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
except Terminated:
    os.kill(os.getpid(), signal.SIGTERM)  # `timeout -s TERM` sends a second one
    time.sleep(0.2)
    print("stopped gracefully")
"""


def test_a_repeated_sigterm_does_not_cut_the_graceful_stop_short():
    proc = subprocess.run([sys.executable, "-c", _REPEATED_SIGTERM], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "stopped gracefully" in proc.stdout, proc


def test_the_stop_message_does_not_promise_a_store_without_one(monkeypatch, capsys):
    from skpoison.audit import _cli

    def interrupted(args, plan):
        raise _cli.Terminated

    monkeypatch.setattr(_cli, "run_audit", interrupted)
    monkeypatch.setattr(_cli, "prepare", lambda args: None)
    assert _cli.main(["audit", "--no-store"]) == 143
    err = capsys.readouterr().err
    assert "terminated" in err and "in the store" not in err and "--no-store" in err
    assert _cli.main(["audit"]) == 143
    assert "finished units are in the store" in capsys.readouterr().err


def test_a_joblib_py_in_the_current_folder_is_not_imported_by_the_workers(tmp_path):
    # `python -m` puts the current folder first on the workers' import path:
    # a joblib.py there ran in every worker
    script = Path(sys.executable).parent / "skpoison"
    if not script.exists():
        pytest.skip("the skpoison script is not installed beside this Python")
    (tmp_path / "joblib.py").write_text(
        "open('IMPORTED', 'w').close()\nraise SystemExit(7)\n")
    (tmp_path / "mymodel.py").write_text(
        "def make():\n    from sklearn.linear_model import LogisticRegression\n"
        "    return LogisticRegression()\n")
    rng = np.random.RandomState(0)
    pd.DataFrame({"a": rng.normal(size=120), "y": np.arange(120) % 2}).to_csv(
        tmp_path / "t.csv", index=False)
    proc = subprocess.run(
        [str(script), "audit", "--data", "t.csv", "--target", "y", "--estimator",
         "mymodel:make", "--alphas", "1", "--max-subpopulations", "1", "--defenses",
         "none", "--n-jobs", "2", "--backend", "loky", "--quiet", "--no-store",
         "--out", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert not (tmp_path / "IMPORTED").exists(), proc.stderr
    assert proc.returncode == 0, proc.stderr
