"""An exclusive lock on a file, across threads and processes, that can be given up while waiting.

Two fetches of the same model file (the app and `pmc-search embed`, or two workers) must not append to the same
`.part` file at once; the second waits, then finds the file already there. The OS releases the lock when the
holder dies, so a crashed download never leaves a stale lock behind.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import CancelledError

logger = logging.getLogger(__name__)

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def exclusive_lock(
    lock_path: Path, *, cancel: Callable[[], bool] | None = None, poll_seconds: float = 0.2
) -> Iterator[None]:
    """Hold `lock_path` exclusively for the `with` block; waits while another holder has it.

    `cancel()` is polled while waiting; when it returns True, `CancelledError` is raised without taking the lock.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        while not _try_lock(fd):
            if not waited:
                logger.info("waiting for another process or thread to finish with %s", lock_path)
                waited = True
            if cancel is not None and cancel():
                raise CancelledError(f"gave up waiting for {lock_path.name} (another download of it is running)")
            time.sleep(poll_seconds)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
