"""One writer per data directory: an exclusive lock held for a whole command.

Two runs writing one data directory at once corrupt it (a second ``collect`` would take the
live first for a crashed one and both would write the same reviews). Every command that
writes into a data directory holds ``DATA_DIR/state/.lock`` with ``flock`` for its whole run;
the file holds the pid of the holder, for the message the next run prints. The kernel
releases a ``flock`` when its process dies, however it dies, so a lock file left behind by a
killed run never blocks: the pid in it is only informative.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reviewmine.errors import InputError, ReviewmineError
from reviewmine.io import remove_stale_temps, require_data_dir, write_error

LOCK_FILE = Path("state") / ".lock"
# Where the stages write inside a data directory (the user may keep other files beside them).
STAGE_DIRS = ("raw", "state", "processed", "reports")


@contextmanager
def data_dir_lock(data_dir: str | Path, create: bool = True) -> Iterator[None]:
    """Hold ``data_dir``'s lock while the body runs, or raise one line naming the holder.

    Once the lock is held no other run can be writing here, so the temporary files that
    killed runs left in the stages' directories (``STAGE_DIRS``) are removed first. With ``create=False`` a data
    directory that does not exist is left alone (the command itself reports it).
    """
    data_dir = require_data_dir(data_dir)
    if not create and not data_dir.is_dir():
        yield
        return
    new_dir = not data_dir.exists()
    path = data_dir / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(data_dir, exc) or InputError(
            f"{data_dir}: cannot write ({exc.strerror}); pass --data-dir with a directory you can write to"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise ReviewmineError(
                f"{data_dir}: another reviewmine run (pid {holder}) is writing to this data "
                "directory; wait for it to finish or stop it, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        for sub in STAGE_DIRS:
            remove_stale_temps(data_dir / sub)
        try:
            yield
        except BaseException:
            # A run that failed before writing anything (a bad option, say) leaves no data
            # directory behind that only this lock made.
            if new_dir and [p for p in data_dir.rglob("*") if p.is_file()] == [path]:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
    finally:
        os.close(fd)  # releases the flock
