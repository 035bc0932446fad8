"""One writer at a time for a file: an advisory lock on ``<file>.lock``.

The lock is an ``flock`` (``msvcrt.locking`` on Windows), released by the
system when the process ends, however it ends.
"""

import os
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt


def _lock(fd):
    """Lock ``fd`` exclusively without waiting; False when another holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except (BlockingIOError, PermissionError):
        return False
    return True


class WriterLock:
    """The single-writer lock of a file: ``flock`` on ``<file>.lock``.

    ``in_use(path, holder)`` makes the error raised when another process
    holds it (``holder`` says which process, since when).

    The lock file is named after the store's resolved path (symbolic links
    lead to one lock) and holds the holder's process id, host and start time,
    for the message a second writer gets. It is removed on release; a lock
    file left by a killed process is not held by anyone and is reused.
    """

    def __init__(self, store, in_use):
        store = Path(os.path.realpath(store))
        self.path = store.with_name(store.name + ".lock")
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ValueError(f"Cannot open {store}: its lock file {self.path} "
                                 f"cannot be created ({exc}).") from None
            if not _lock(fd):
                try:
                    holder = os.read(fd, 500).decode("utf-8", "replace").strip()
                except OSError:  # pragma: no cover - Windows locks the byte read
                    holder = ""
                finally:
                    os.close(fd)
                raise in_use(store, holder or f"a process holding {self.path}")
            try:  # the holder that just released it may have removed the file
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        text = (f"process {os.getpid()} on {socket.gethostname()}, since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S')}").encode()
        os.ftruncate(fd, 0)
        os.write(fd, text)

    def release(self):
        if self._fd is None:
            return
        try:
            if fcntl is not None:  # removed while held; Windows cannot
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # releases the lock
        self._fd = None
