"""An OS file lock on an output folder, so two runs never write the same folder at once.

Two ``innosim run --out X`` started together would otherwise both assemble ``X`` and
could leave a folder with a manifest but without tables. The lock is ``fcntl.flock`` on
``.<X>.lock`` beside the folder: the kernel releases it when the process ends in any way
(crash, ``kill -9``, power cut), so a stale lock never blocks a later run.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.errors import EnvironmentFaultError


def lock_path(folder: Path) -> Path:
    """The lock file of output folder ``folder``: ``.<name>.lock`` beside it."""
    return folder.with_name(f".{folder.name}.lock")


@contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the lock of output folder ``folder`` (its parent is created if missing) while the block runs.

    Raises:
        EnvironmentFaultError: another process holds it (naming that process), without waiting.
        OSError: the lock file cannot be created (read-only, full or unwritable folder): the caller
            reports it (:func:`simulator.errors.os_fault`).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise EnvironmentFaultError(folder, f"another innosim run is writing this output folder ({_holder(path)})",
                                   "wait for it to finish, or choose another --out") from None
        # the holder before us may have removed the file after we opened it: then our lock is on a
        # file nobody else will open, and we must lock the new one instead
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        pass   # the pid is only for the message of a second run; a full disk must not stop this one
    try:
        yield path
    finally:
        try:
            os.unlink(path)    # removed while still locked, so no other run can lock this inode after us
        except OSError:
            pass
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"
