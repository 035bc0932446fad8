"""joblib worker processes that leave nothing behind, with data sent once.

:func:`shared_once` memory-maps the data of many tasks from one file, which
joblib's process workers then receive as a file name and offset, and
:func:`watch_owner`, called at the start of each task in a worker, ends the
worker when the process that started it is gone. A run leaves nothing behind
however it ends. Interrupted (Ctrl-C, or SIGTERM), joblib terminates its
workers and the data folder is removed on the way out. Killed outright
(SIGKILL), its worker processes notice that their parent is gone and exit
within a second, loky's resource tracker removes the data folder, and the
next run on this host removes the folders of dead runs that nothing removed
(:func:`_data_folder`). The audit (:class:`~skpoison.audit.SubpopulationAudit`)
runs its tasks this way.
"""

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager, suppress

import joblib
import numpy as np
import pandas as pd
from joblib.externals.loky.backend import resource_tracker
from joblib.parallel import BACKENDS, get_active_backend


class SharedArrays:
    """Arrays (the audit's six) in one weakrefable object.

    joblib's Dask backend scatters weakrefable arguments larger than 1 kB to
    the workers once, instead of embedding them in every task, and Dask
    measures them with ``sys.getsizeof``, hence ``__sizeof__``.
    """

    def __init__(self, *arrays):
        self.arrays = arrays

    def __sizeof__(self):
        def nbytes(a):
            if isinstance(a, (pd.DataFrame, pd.Series)):
                return int(np.sum(a.memory_usage(index=False)))
            values = getattr(a, "data", None)  # a sparse matrix's
            return int(getattr(a, "nbytes", getattr(values, "nbytes", 0)))

        return object.__sizeof__(self) + sum(map(nbytes, self.arrays))


def process_workers(n_jobs):
    """Whether the active joblib backend runs the tasks in worker processes
    that this process starts (loky, multiprocessing) with more than one job."""
    backend, default_n_jobs = get_active_backend()
    if n_jobs is None:  # as joblib.Parallel: parallel_config's n_jobs, else 1
        n_jobs = default_n_jobs
    processes = tuple(BACKENDS[name] for name in ("loky", "multiprocessing")
                      if name in BACKENDS)
    return isinstance(backend, processes) and backend.effective_n_jobs(n_jobs) != 1


_WATCHED = []  # in a worker process: the process being watched


def _alive(pid):
    try:
        os.kill(pid, 0)  # POSIX only: on Windows this would end the process
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def watch_owner(owner):
    """In a worker process: exit as soon as the process ``owner`` is gone.

    A worker whose parent is killed (SIGKILL) is adopted by another process
    and would otherwise go on computing the tasks still queued for it. A
    thread checks the parent's id twice a second and ends the worker when
    it changes. Nothing is watched in ``owner`` itself, in workers that are
    not its children (Dask) or off POSIX.
    """
    if owner is None or owner == os.getpid() or _WATCHED or os.name != "posix":
        return
    if os.getppid() != owner:
        if not _alive(owner):
            os._exit(1)  # the owner died before this worker's first task
        return  # not the owner's child: its parent is not ours to watch

    def watch():
        while os.getppid() == owner:
            time.sleep(0.5)
        os._exit(1)

    _WATCHED.append(owner)
    threading.Thread(target=watch, name="skpoison-audit-owner", daemon=True).start()


_FOLDER = "skpoison-audit-"


def _host():
    return re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"


_SHM = "/dev/shm"


def _sweep(base):
    """Remove what this host's dead runs left (killed with their resource
    tracker, e.g. a whole process group killed at once): their data folders
    in ``base``, and joblib's memmapping folders and loky's semaphores in
    shared memory, named by the pid that made them."""
    if os.name != "posix":
        return
    for folder, pattern in (
            (base, re.escape(f"{_FOLDER}{_host()}-") + r"(\d+)-"),
            (_SHM, r"(?:joblib_memmapping_folder_|sem\.loky-)(\d+)[_-]")):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            match = re.match(pattern, name)
            path = os.path.join(folder, name)
            if not match or _alive(int(match[1])):
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with suppress(OSError):
                    os.unlink(path)


@contextmanager
def _data_folder(base):
    """A temporary folder for the shared data, removed however the run ends.

    Removed on the way out (also on Ctrl-C or SIGTERM); registered with
    loky's resource tracker, which removes it if this process is killed; and
    named ``skpoison-audit-<host>-<pid>-*``, so that the next run on this
    host removes it should both be killed.
    """
    base = base or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)  # as joblib does for its own files
    _sweep(base)
    folder = tempfile.mkdtemp(prefix=f"{_FOLDER}{_host()}-{os.getpid()}-", dir=base)
    resource_tracker.register(folder, "folder")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        resource_tracker.unregister(folder, "folder")


def shared_once(data, n_jobs, stack):
    """``data`` for the tasks: memory-mapped from one file on process backends.

    loky and multiprocessing workers otherwise receive the arrays with every
    task, and joblib hashes each large array in the parent to find its
    memory map again: on the UCI Adult audit about 20 ms of the parent's CPU
    per task, taken from the workers on a 2-core machine. Dumped once and
    loaded with ``mmap_mode="r"``, the arrays (also those inside DataFrames)
    are read-only memory maps, which joblib sends as a file name and offset;
    the workers see exactly what joblib's automatic memory mapping gives
    them. Other backends (threads, Dask, which scatters ``data`` once) get
    ``data`` as it is. The file's folder (see :func:`_data_folder`) is in
    ``$JOBLIB_TEMP_FOLDER``, or the system's temporary folder.
    """
    if not process_workers(n_jobs):
        return data
    folder = stack.enter_context(_data_folder(os.environ.get("JOBLIB_TEMP_FOLDER")))
    path = os.path.join(folder, "data.pkl")
    joblib.dump(data.arrays, path)
    return SharedArrays(*joblib.load(path, mmap_mode="r"))
