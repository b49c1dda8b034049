"""Recognising the environment's storage failures among the exceptions a write can raise.

A full disk, a read-only folder, a missing permission or a failing disk is not our bug and not silent damage: the
user can fix it (free space, move the library, change permissions), and the write it interrupted was atomic. Such
an error surfaces as OSError (errno), as sqlite3's OperationalError ("database or disk is full"), or as either
wrapped by SQLAlchemy; `as_storage_error` finds it anywhere in the exception's chain and words it plainly.
"""

from __future__ import annotations

import errno

from engine.errors import StorageError

_ERRNO_WORDS = {
    number: words
    for number, words in (
        (errno.ENOSPC, "the disk is full"),
        (getattr(errno, "EDQUOT", None), "the disk quota is used up"),  # not on Windows
        (errno.EROFS, "the folder is on read-only media"),
        (errno.EACCES, "permission was denied"),
        (errno.EPERM, "the operation is not permitted"),
        (errno.EIO, "the disk reported an input/output error (it may be failing)"),
    )
    if number is not None
}
# SQLite reports these as text, not errno.
_SQLITE_WORDS = (
    ("database or disk is full", "the disk is full"),
    ("attempt to write a readonly database", "the library's files are read-only"),
    ("readonly database", "the library's files are read-only"),
    ("disk i/o error", "the disk reported an input/output error (it may be failing)"),
    ("unable to open database file", "the catalog file cannot be opened (missing permission or folder)"),
)


def _chain(error: BaseException):
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__ or getattr(error, "orig", None)


def storage_reason(error: BaseException) -> str | None:
    """Plain words for a storage failure anywhere in `error`'s chain, or None when it is something else."""
    for link in _chain(error):
        if isinstance(link, StorageError):
            return str(link)
        if isinstance(link, OSError) and link.errno in _ERRNO_WORDS:
            where = f" ({link.filename})" if link.filename else ""
            return f"{_ERRNO_WORDS[link.errno]}{where}"
        text = str(link).lower()
        if type(link).__name__ in ("OperationalError", "DatabaseError"):
            for needle, words in _SQLITE_WORDS:
                if needle in text:
                    return words
    return None


def as_storage_error(error: BaseException, doing: str = "") -> StorageError | None:
    """A StorageError that says what failed and why ("saving the index: the disk is full"), or None."""
    if isinstance(error, StorageError):
        return error
    reason = storage_reason(error)
    if reason is None:
        return None
    return StorageError(f"{doing}: {reason}" if doing else reason)
