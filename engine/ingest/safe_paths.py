"""The two rules every reader follows before it touches a file of a source.

1. **Stays inside the source.** A name read from a data file (a jsonl `image`, a ROCO id or `licences.txt` entry)
   must be relative, free of `..`, NUL and drive letters, and must resolve (symbolic links followed) to a file
   under the source's root. A symbolic link met while walking a folder obeys the same rule. A source cannot make
   us index `/etc/shadow` or a file of another data set.
2. **Regular files only.** FIFOs, sockets and devices are skipped without being opened: opening a FIFO blocks
   until a writer appears (forever), and reading `/dev/zero` never ends. The helpers for that rule are
   `engine.fileio.open_regular` / `read_regular` / `is_regular_file` (image decoding uses them too).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


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
