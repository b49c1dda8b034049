"""One writer per library: an advisory lock file that names the holder's pid.

On POSIX the kernel lock (flock) is the real guard: it vanishes when the holder dies, even by kill -9, so a
stale file is simply taken over. Where flock is missing (Windows) we fall back to the pid in the file: a lock
whose pid is no longer running is stale and taken over.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from pathlib import Path

from engine.errors import LibraryError, LibraryLockedError, LibraryReadOnlyError, UserInputError

logger = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


class LibraryLock:
    """Held from `acquire()` until `release()`; raises LibraryLockedError when another process holds it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = self._open()
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    holder = _read_pid(self.path)
                    raise LibraryLockedError(self._message(holder)) from None
            else:
                holder = _read_pid(self.path)
                if holder is not None and holder != os.getpid() and _pid_alive(holder):
                    raise LibraryLockedError(self._message(holder))
                if holder is not None and holder != os.getpid():
                    logger.info("taking over a stale library lock from pid %s", holder)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _open(self) -> int:
        if self.path.is_dir() and not self.path.is_symlink():
            # Not ours to keep: an empty folder in the lock's place (a copy tool, a mistake) is removed; a folder
            # with something in it is the user's, so we say what to do rather than delete it.
            try:
                self.path.rmdir()
                logger.warning("removed an empty folder standing where the lock file %s belongs", self.path)
            except OSError:
                raise LockFileBlockedError(
                    f"{self.path} is a folder, where the library keeps its lock file; move it away and try again"
                ) from None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise LibraryReadOnlyError(
                    f"the library at {self.path.parent} is in a read-only folder: it can be searched "
                    "(pmc-search query, or the app opens it read-only) but not changed"
                ) from e
            raise

    def _message(self, holder: int | None) -> str:
        who = f"process {holder}" if holder else "another process"
        return (
            f"the library at {self.path.parent} is in use by {who}; close the other window or command first "
            "(or open it read-only)"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


class LockFileBlockedError(LibraryError, UserInputError):
    """Something that is not a lock file stands where the lock file belongs."""
