"""Extract a PMC `.tar.gz` package, or a data set's `.zip`, without trusting it.

Every member is vetted before anything is written: no absolute paths, no `..`, only regular files and folders
(no symlinks, hardlinks, devices or fifos), and limits on the member count, each member's size and the total.
A hostile archive is refused whole with `ArchiveError` — an honest PMC package never needs any of those things.
Tar extraction then goes through tarfile's own `filter="data"` as a second, independent guard. Zip members (the
PMC-OA, SLAKE and VQA-RAD releases are zips) are also refused when encrypted or when they expand more than a
zip bomb would let them, and are written by us, each path checked again to stay inside the destination, with no
more bytes than the member declares.
"""

from __future__ import annotations

import json
import logging
import shutil
import stat
import tarfile
import zipfile
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
    # A zip member whose uncompressed size exceeds this multiple of its compressed size is a bomb (JPEG/PNG barely
    # compress; JSON about 10×). Members under 1 MiB are exempt: small text files compress very well.
    max_zip_ratio: int = 200


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
        if _is_zip(archive):
            names = _extract_zip(archive, dest, limits, wanted)
        else:
            names = _extract_tar(archive, dest, limits, wanted)
    except ArchiveError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        storage = as_storage_error(e, f"extracting {archive.name}") if isinstance(e, OSError) else None
        if storage is not None:  # the library's disk, not the archive: every later package would fail too
            raise storage from e
        raise ArchiveError(f"{archive.name}: corrupt or unreadable archive ({e})") from e
    atomic_write_text(marker, json.dumps({"fingerprint": fingerprint, "files": names}))
    (dest / (_MARKER + ".partial")).unlink(missing_ok=True)
    return [dest / name for name in names]


def _is_zip(archive: Path) -> bool:
    with open(archive, "rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _extract_tar(archive: Path, dest: Path, limits: ArchiveLimits, wanted: Callable[[str], bool]) -> list[str]:
    with tarfile.open(archive, mode="r:*") as tar:
        members = _vetted_members(tar, archive.name, limits)
        chosen = [m for m in members if m.isreg() and wanted(m.name)]
        tar.extractall(dest, members=chosen, filter="data")
    return [_clean_name(m.name) for m in chosen]


def _extract_zip(archive: Path, dest: Path, limits: ArchiveLimits, wanted: Callable[[str], bool]) -> list[str]:
    names = []
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in _vetted_zip_members(zf, archive.name, limits):
            if info.is_dir() or not wanted(info.filename):
                continue
            name = _clean_name(info.filename.replace("\\", "/"))
            target = (root / name).resolve()
            if root not in target.parents:  # second guard, after the name check
                raise ArchiveError(f"{archive.name}: member {info.filename!r} points outside the archive (refused)")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
                copied = out.tell()
            if copied > info.file_size:  # zipfile stops at the declared size; this is belt and braces
                raise ArchiveError(f"{archive.name}: member {info.filename!r} is longer than it declares (refused)")
            names.append(name)
    return names


def _vetted_zip_members(zf: zipfile.ZipFile, archive_name: str, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    members: list[zipfile.ZipInfo] = []
    total = 0
    for info in zf.infolist():
        if len(members) >= limits.max_members:
            raise ArchiveError(f"{archive_name}: more than {limits.max_members} members (refused)")
        _check_name(info.filename, archive_name)
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was made on Windows or by Python
        if file_type == stat.S_IFLNK:
            raise ArchiveError(f"{archive_name}: member {info.filename!r} is a link (refused)")
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(f"{archive_name}: member {info.filename!r} is a device, fifo or special file (refused)")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{archive_name}: member {info.filename!r} is encrypted (refused)")
        if info.file_size > limits.max_member_bytes:
            raise ArchiveError(
                f"{archive_name}: member {info.filename!r} is {info.file_size} bytes, over {limits.max_member_bytes}"
            )
        if info.file_size > (1 << 20) and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
            raise ArchiveError(
                f"{archive_name}: member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}× "
                "(a zip bomb; refused)"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveError(f"{archive_name}: more than {limits.max_total_bytes} bytes in total (refused)")
        members.append(info)
    return members


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
