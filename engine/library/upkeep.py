"""The library folder's housekeeping: creating a catalog atomically, reading its facts defensively, and clearing
what a killed process left behind.

- A catalog is built under a temporary name and renamed into place only once its model is recorded, so a kill
  during creation leaves a folder that is simply not a library yet (the next run creates it afresh). A folder left
  by an older version in the half-created state (a catalog without a model) is recognised as "unfinished" and
  recreated by the next writing run; a reading run says so plainly.
- Facts read back from `library_meta` are validated: a damaged value is reported as damage with the way out
  (`pmc-search check --repair`), never a ValueError traceback.
- Opening for writing (the lock held) removes temp files of interrupted saves and the media of collections whose
  removal was interrupted after its commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.verified import RECORD_SUFFIX
from engine.errors import LibraryDamagedError, UnfinishedLibraryError
from engine.fileio import fsync_folder, remove_stale_temp_files
from engine.text import path_from_text
from engine.types import ModelSpec

logger = logging.getLogger(__name__)

CREATING_SUFFIX = ".creating"
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
MAX_DIM = 65_536


@dataclass(frozen=True)
class LibraryFacts:
    spec: ModelSpec
    model_id: str
    dim: int


def unfinished_message(path: Path) -> str:
    return (
        f"the library at {path} was never finished (its creation was interrupted); run "
        f"`pmc-search --library {path} index FOLDER` to create it again"
    )


def library_facts(path: Path, meta: dict[str, str], has_content: Callable[[], bool]) -> LibraryFacts:
    """The model and dimension recorded in the catalog; LibraryDamagedError (with the way out) when unusable."""
    model_id = (meta.get("model_id") or "").strip()
    if not model_id:
        if not has_content():
            raise UnfinishedLibraryError(unfinished_message(path))
        raise LibraryDamagedError(
            f"the catalog of {path} has lost the record of its model; run `pmc-search --library {path} check "
            "--repair` to restore it"
        )
    raw_dim = meta.get("dim", "")
    try:
        dim = int(raw_dim)
    except ValueError:
        dim = 0
    if not 0 < dim <= MAX_DIM:
        raise LibraryDamagedError(
            f"the catalog of {path} records an invalid vector size ({raw_dim!r}); run `pmc-search --library {path} "
            "check --repair` to restore it"
        )
    weights, tokenizer = meta.get("model_weights"), meta.get("model_tokenizer")
    spec = ModelSpec(
        name=meta.get("model_name") or model_id,
        weights=str(path_from_text(weights)) if weights else None,  # stored losslessly (engine.text)
        tokenizer=str(path_from_text(tokenizer)) if tokenizer else None,
    )
    return LibraryFacts(spec, model_id, dim)


def creating_path(catalog: Path) -> Path:
    return catalog.with_name(f".{catalog.name}{CREATING_SUFFIX}")


def remove_catalog_files(catalog: Path) -> None:
    """The catalog and its SQLite companions (only while holding the library lock)."""
    for suffix in (*SQLITE_COMPANIONS, RECORD_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            catalog.with_name(catalog.name + suffix).unlink()


def build_catalog_atomically(catalog: Path, build: Callable[[Path], None]) -> None:
    """Run `build(temp_path)` to write a complete catalog, then rename it onto `catalog` (never half of one)."""
    staging = creating_path(catalog)
    remove_catalog_files(staging)  # what a kill during an earlier creation left
    try:
        build(staging)
        for suffix in SQLITE_COMPANIONS[1:]:
            if staging.with_name(staging.name + suffix).exists():
                raise LibraryDamagedError(f"SQLite left {staging.name}{suffix} open while creating {catalog}")
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, catalog)
    except BaseException:
        remove_catalog_files(staging)
        raise
    fsync_folder(catalog.parent)


def clear_leftovers(
    folder: Path, *, index_file: str, catalog_file: str, media_dir: str, collection_ids: set[int]
) -> None:
    """Temp files of interrupted saves, and the media of collections no longer in the catalog."""
    removed = remove_stale_temp_files(folder, index_file) + remove_stale_temp_files(folder, index_file + ".stamp.json")
    staging = creating_path(folder / catalog_file)
    if staging.exists():
        remove_catalog_files(staging)
        removed += 1
    media = folder / media_dir
    if media.is_dir():
        for entry in media.iterdir():
            if entry.is_dir() and entry.name.isdigit() and int(entry.name) not in collection_ids:
                logger.info("removing media of removed collection %s", entry.name)
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    if removed:
        logger.info("cleared %d leftovers of interrupted work in %s", removed, folder)
