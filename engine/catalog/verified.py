"""Remembering that the catalog file is as this program left it, so `PRAGMA quick_check` runs only when needed.

quick_check reads every page: about 1 s per 450 MB here (≈12 s for a 1.6M-figure catalog), too much for every
`pmc-search query`. The check runs on open unless the catalog (and its WAL) has the same size, mtime and inode as
when this program last closed it after writing, or last checked it. Any outside write — a garbled region, a
copy tool, another program — changes the fingerprint and brings the check back; so does a writer killed before
its close (it never records). The record is a small JSON file beside the catalog, written atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from engine.fileio import atomic_write_text

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".verified.json"


def _fingerprint(catalog: Path) -> list[list[int]]:
    parts = []
    for suffix in ("", "-wal"):
        try:
            info = os.stat(catalog.with_name(catalog.name + suffix))
        except FileNotFoundError:
            parts.append([])
            continue
        # An empty WAL holds nothing (a reader's connection creates one): the same as none.
        parts.append([info.st_size, info.st_mtime_ns, info.st_ino] if info.st_size or not suffix else [])
    return parts


def record_path(catalog: Path) -> Path:
    return catalog.with_name(catalog.name + RECORD_SUFFIX)


def is_known_good(catalog: Path) -> bool:
    try:
        recorded = json.loads(record_path(catalog).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == {"fingerprint": _fingerprint(catalog)}


def remember_good(catalog: Path) -> None:
    """Record the catalog's current fingerprint (only a writer that holds the library lock calls this)."""
    with contextlib.suppress(OSError):  # a record is an optimisation: failing to write it costs a check, no more
        atomic_write_text(record_path(catalog), json.dumps({"fingerprint": _fingerprint(catalog)}))


def forget(catalog: Path) -> None:
    with contextlib.suppress(OSError):
        record_path(catalog).unlink()
