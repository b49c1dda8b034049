"""Extract a PMC `.tar.gz` package without trusting it.

Every member is vetted before anything is written: no absolute paths, no `..`, only regular files and folders
(no symlinks, hardlinks, devices or fifos), and limits on the member count, each member's size and the total.
A hostile archive is refused whole with `ArchiveError` — an honest PMC package never needs any of those things.
Extraction then goes through tarfile's own `filter="data"` as a second, independent guard.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import ArchiveError
from engine.fileio import atomic_write_text
from engine.storage_errors import as_storage_error

logger = logging.getLogger(__name__)

_MARKER = ".pmc-search-extracted.json"  # written last: its presence means the extraction finished


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 5_000
    max_member_bytes: int = 512 << 20
    max_total_bytes: int = 2 << 30


def member_is_wanted_default(name: str) -> bool:
    return True


def safe_extract(
    archive: Path,
    dest: Path,
    *,
    limits: ArchiveLimits = ArchiveLimits(),
    wanted: Callable[[str], bool] = member_is_wanted_default,
) -> list[Path]:
    """Extract the vetted regular files of `archive` that `wanted(name)` accepts into `dest`; their paths.

    `dest` is replaced when it holds an earlier extraction of ours; an extraction of the same archive (same size
    and mtime) that completed is reused as is, so resuming an interrupted ingest does not unpack twice.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        info = archive.stat()
    except OSError as e:
        raise ArchiveError(f"{archive.name}: cannot read archive ({e.strerror or e})") from e
    fingerprint = {"archive": archive.name, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    marker = dest / _MARKER
    if marker.is_file():
        try:
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("fingerprint") == fingerprint:
                return [dest / name for name in done["files"] if (dest / name).is_file()]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if dest.exists():
        if not marker.exists() and any(dest.iterdir()) and not (dest / (_MARKER + ".partial")).exists():
            raise ArchiveError(f"{archive.name}: refusing to extract into non-empty {dest} that is not ours")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / (_MARKER + ".partial")).touch()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = _vetted_members(tar, archive.name, limits)
            chosen = [m for m in members if m.isreg() and wanted(m.name)]
            tar.extractall(dest, members=chosen, filter="data")
    except ArchiveError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        storage = as_storage_error(e, f"extracting {archive.name}") if isinstance(e, OSError) else None
        if storage is not None:  # the library's disk, not the archive: every later package would fail too
            raise storage from e
        raise ArchiveError(f"{archive.name}: corrupt or unreadable archive ({e})") from e
    names = [_clean_name(m.name) for m in chosen]
    atomic_write_text(marker, json.dumps({"fingerprint": fingerprint, "files": names}))
    (dest / (_MARKER + ".partial")).unlink(missing_ok=True)
    return [dest / name for name in names]


def _clean_name(name: str) -> str:
    return PurePosixPath(name).as_posix()  # "./PMC1/a.nxml" → "PMC1/a.nxml", where tarfile puts it


def _vetted_members(tar: tarfile.TarFile, archive_name: str, limits: ArchiveLimits) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in tar:  # streaming: stop at the first bad header instead of reading a huge archive's index
        if len(members) >= limits.max_members:
            raise ArchiveError(f"{archive_name}: more than {limits.max_members} members (refused)")
        _check_name(member.name, archive_name)
        if member.issym() or member.islnk():
            raise ArchiveError(f"{archive_name}: member {member.name!r} is a link (refused)")
        if not (member.isreg() or member.isdir()):
            raise ArchiveError(f"{archive_name}: member {member.name!r} is a device, fifo or special file (refused)")
        if member.size > limits.max_member_bytes:
            raise ArchiveError(
                f"{archive_name}: member {member.name!r} is {member.size} bytes, over {limits.max_member_bytes}"
            )
        total += member.size
        if total > limits.max_total_bytes:
            raise ArchiveError(f"{archive_name}: more than {limits.max_total_bytes} bytes in total (refused)")
        members.append(member)
    return members


def _check_name(name: str, archive_name: str) -> None:
    if not name or "\x00" in name:
        raise ArchiveError(f"{archive_name}: member with an empty or invalid name (refused)")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise ArchiveError(f"{archive_name}: member {name!r} has an absolute path (refused)")
    if ".." in PurePosixPath(normalized).parts:
        raise ArchiveError(f"{archive_name}: member {name!r} points outside the archive (refused)")
