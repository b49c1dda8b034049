"""The two rules every reader follows before it touches a file of a source.

1. **Stays inside the source.** A name read from a data file (a jsonl `image`, a ROCO id or `licences.txt` entry)
   must be relative, free of `..`, NUL and drive letters, and must resolve (symbolic links followed) to a file
   under the source's root. A symbolic link met while walking a folder obeys the same rule. A source cannot make
   us index `/etc/shadow` or a file of another data set.
2. **Regular files only.** FIFOs, sockets and devices are skipped without being opened: opening a FIFO blocks
   until a writer appears (forever), and reading `/dev/zero` never ends. `open_regular` checks with `stat` first
   and opens non-blocking, so even a file swapped for a FIFO between the check and the open cannot hang a run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class NotRegularFileError(OSError):
    """A path names a FIFO, socket, device or folder where a regular file was expected."""


def kind_of(mode: int) -> str:
    """Words for a non-regular file type, for messages."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def special_file_kind(path: Path) -> str | None:
    """None for a regular file (or a missing one); else what it is ("a FIFO (named pipe)", "a device" …)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: an embedded NUL, a surrogate the file system cannot encode
        return False


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for binary reading; NotRegularFileError (never a hang) for anything else."""
    kind = special_file_kind(path)
    if kind is not None:
        raise NotRegularFileError(f"{Path(path).name} is {kind}, not a regular file")
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{Path(path).name} is {kind_of(mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing (ValueError) one larger than `limit`."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{Path(path).name} is larger than {limit} bytes")
    return data


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def is_inside(root: Path, candidate: Path) -> bool:
    """Whether `candidate`, symbolic links resolved, lies under `root` (also resolved)."""
    try:
        real_root, real = _real(root), _real(candidate)
    except (OSError, ValueError):
        return False
    return real == real_root or real_root in real.parents


def relative_name_problem(name: str) -> str | None:
    """Why a name from a data file cannot be a path inside the source (None when it can)."""
    if not name or not name.strip():
        return "an empty file name"
    if "\x00" in name:
        return "a file name with a NUL character"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return f"an absolute path ({name!r})"
    if ".." in PurePosixPath(normalized).parts:
        return f"a path that climbs out of the data set ({name!r})"
    return None


def resolve_inside(root: Path, name: str) -> tuple[Path | None, str | None]:
    """(path, None) for a name that stays inside `root`, else (None, why). The file need not exist."""
    why = relative_name_problem(name)
    if why is not None:
        return None, why
    candidate = Path(root) / name.replace("\\", "/")
    try:
        exists = candidate.exists() or candidate.is_symlink()
    except (OSError, ValueError) as e:
        return None, f"an unusable file name ({e})"
    if exists and not is_inside(root, candidate):
        return None, f"{name!r} links to a file outside the data set"
    return candidate, None
