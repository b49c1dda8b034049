"""`check_library`: a full check of a library folder, and its repair (`pmc-search check [--repair]`, the GUI dialog).

Checked: the catalog file (`PRAGMA integrity_check`: every page and index entry), the facts it records (model,
vector size), every stored vector (length, NaN), and the index cache (seal, checksum, library, size).

Repaired, in this order, under the library lock:
1. a damaged catalog is salvaged row by row into a new file (`engine.catalog.salvage`); the damaged file is kept
   beside it as `catalog.sqlite.damaged-<time>`; what could not be read is counted;
2. lost facts are restored from the index stamp (model id, vector size) or the stored vectors (vector size);
3. unusable vectors are quarantined and the index cache is dropped.
Then, through the caller's `reopen` (which attaches the model): the index is rebuilt, quarantined images are
encoded again, and, when figures were lost, each collection whose source is still there is read again: figures
come back with the vectors that survived, and only images whose vectors were lost are encoded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog.salvage import SalvageReport, integrity_problems, salvage
from engine.catalog.vectors import vector_problem
from engine.catalog.verified import forget
from engine.errors import LibraryDamagedError, UserInputError
from engine.fileio import file_crc32, fsync_folder
from engine.index.stamp import read_stamp, stamp_path
from engine.library.index_cache import INDEX_FILE
from engine.library.library import CATALOG_FILE, LOCK_FILE
from engine.library.lock import LibraryLock
from engine.library.protocol import FigureLibrary
from engine.library.upkeep import library_facts, remove_catalog_files
from engine.progress import run_to_end
from engine.text import path_from_text

logger = logging.getLogger(__name__)


@dataclass
class CheckReport:
    path: Path
    catalog: list[str] = field(default_factory=list)  # integrity_check messages; [] = sound
    facts: str | None = None  # what is wrong with the recorded model or vector size
    bad_vectors: int = 0  # stored vectors of the wrong length or with NaN, not yet quarantined
    quarantined: int = 0
    index: str | None = None  # the index cache's problem (it is rebuilt on the next open in any case)
    figures_before: int | None = None  # what the last saved index held, when its stamp is readable
    repaired: bool = False
    salvage: SalvageReport | None = None
    backup: Path | None = None
    figures_after: int | None = None
    reencoded: int = 0
    restored: int = 0  # figures brought back by reading the sources again
    unrepaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.catalog and not self.facts and not self.bad_vectors and not self.quarantined and not self.index

    @property
    def figures_lost(self) -> int | None:
        if self.figures_before is None or self.figures_after is None:
            return None
        return max(0, self.figures_before - self.figures_after)

    def lines(self) -> list[str]:
        return _describe(self)


def _meta(catalog: Path) -> tuple[dict[str, str], bool]:
    conn = sqlite3.connect(f"file:{catalog.as_posix()}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM library_meta").fetchall())
        has_collections = conn.execute("SELECT 1 FROM collections LIMIT 1").fetchone() is not None
    finally:
        conn.close()
    return meta, has_collections


def _scan_vectors(catalog: Path, dim: int) -> tuple[int, int, list[tuple[str, str]]]:
    """(vectors checked, quarantined already, [(sha, why)] of unusable ones not yet quarantined)."""
    conn = sqlite3.connect(f"file:{catalog.as_posix()}?mode=ro", uri=True)
    try:
        quarantined = {row[0] for row in conn.execute("SELECT content_sha256 FROM quarantined_vectors")}
        bad, checked = [], 0
        for sha, blob in conn.execute("SELECT content_sha256, data FROM vectors"):
            checked += 1
            _, why = vector_problem(blob, dim)
            if why is not None and sha not in quarantined:
                bad.append((sha, why))
    finally:
        conn.close()
    return checked, len(quarantined), bad


def _index_problem(folder: Path, meta: dict[str, str]) -> tuple[str | None, int | None]:
    """(what is wrong with the index cache or None, the figure count its stamp records when believable)."""
    index = folder / INDEX_FILE
    if not index.exists() and not stamp_path(index).exists():
        return "no index file (it is built on the next open)", None
    found = read_stamp(index)
    if found is None:
        return "the index stamp is missing, unreadable or altered (the index is rebuilt on the next open)", None
    stamp, extra = found
    if stamp.library != meta.get("library_id", stamp.library):
        return "the index belongs to another library (it is rebuilt on the next open)", None
    count = extra.get("count") if isinstance(extra.get("count"), int) else None
    try:
        garbled = index.stat().st_size != extra.get("bytes") or file_crc32(index) != extra.get("crc32")
    except OSError:
        garbled = True
    if garbled:
        return "the index file is garbled (it is rebuilt on the next open)", count
    return None, count


def inspect_library(path: Path) -> CheckReport:
    """The full check, changing nothing."""
    path = Path(path)
    catalog = path / CATALOG_FILE
    if not catalog.is_file():
        raise UserInputError(f"there is no library at {path}")
    report = CheckReport(path=path, catalog=integrity_problems(catalog))
    meta: dict[str, str] = {}
    if not report.catalog:
        meta, has_collections = _meta(catalog)
        try:
            facts = library_facts(path, meta, has_content=lambda: has_collections)
            _, report.quarantined, bad = _scan_vectors(catalog, facts.dim)
            report.bad_vectors = len(bad)
        except LibraryDamagedError as e:
            report.facts = str(e)
    report.index, report.figures_before = _index_problem(path, meta)
    return report


def check_library(
    path: str | Path,
    *,
    repair: bool = False,
    reopen: Callable[[Path], FigureLibrary] | None = None,
    rescan: bool = True,
) -> CheckReport:
    """Check the library at `path`; with `repair`, repair it (see the module docstring) and report what was lost.

    `reopen(path)` opens the repaired library with its model attached (`open_or_create` with an encoder factory):
    without it the repair stops at a consistent catalog, and the next open rebuilds the index.
    """
    path = Path(path)
    report = inspect_library(path)
    if not repair or report.healthy:
        return report
    lock = LibraryLock(path / LOCK_FILE)
    lock.acquire()
    try:
        _repair_files(path, report)
    finally:
        lock.release()
    if reopen is not None:
        _reopen_and_restore(path, report, reopen, rescan)
    report.repaired = not report.unrepaired
    return report


def _repair_files(path: Path, report: CheckReport) -> None:
    catalog = path / CATALOG_FILE
    stamp = read_stamp(path / INDEX_FILE)  # read before the index is dropped: it may know the model
    if report.catalog:
        _salvage_in_place(catalog, report)
    meta, has_collections = _meta(catalog)
    _restore_facts(catalog, meta, stamp, report, has_collections)
    meta, _ = _meta(catalog)
    if not report.unrepaired:
        facts = library_facts(path, meta, has_content=lambda: has_collections)
        _, _, bad = _scan_vectors(catalog, facts.dim)
        _quarantine(catalog, bad)
    for name in (INDEX_FILE, INDEX_FILE + ".stamp.json"):
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()  # rebuilt from the repaired catalog on the next open
    forget(catalog)


def _salvage_in_place(catalog: Path, report: CheckReport) -> None:
    fresh = catalog.with_name(f".{catalog.name}.salvage")
    remove_catalog_files(fresh)
    report.salvage = salvage(catalog, fresh)
    backup = catalog.with_name(f"{catalog.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        damaged = catalog.with_name(catalog.name + suffix)
        if damaged.exists():
            os.replace(damaged, backup.with_name(backup.name + suffix))
    os.replace(fresh, catalog)
    fsync_folder(catalog.parent)
    report.backup = backup
    logger.warning("catalog %s salvaged; the damaged file is kept as %s", catalog, backup.name)


def _restore_facts(catalog: Path, meta: dict[str, str], stamp, report: CheckReport, has_collections: bool) -> None:
    updates: dict[str, str] = {}
    if not (meta.get("model_id") or "").strip():
        if stamp is None:
            if has_collections:
                report.unrepaired.append(
                    "the catalog no longer records which model built this library, and no index stamp says so; "
                    "make a new library"
                )
            return
        updates["model_id"] = stamp[0].model_id
        updates["model_name"] = meta.get("model_name") or stamp[0].model_id  # registry names are their own ids
    if not (meta.get("dim") or "").isdigit() or int(meta["dim"]) <= 0:
        dim = stamp[0].dim if stamp is not None else _common_vector_size(catalog)
        if dim is None:
            report.unrepaired.append("the vector size of this library cannot be recovered; make a new library")
            return
        updates["dim"] = str(dim)
    if not (meta.get("generation") or "").isdigit():
        updates["generation"] = str(int(time.time()))  # any number above the last one: the index is rebuilt
    if updates:
        with sqlite3.connect(catalog) as conn:
            conn.executemany("INSERT OR REPLACE INTO library_meta (key, value) VALUES (?, ?)", updates.items())
        conn.close()
        logger.warning("restored library facts %s", sorted(updates))


def _common_vector_size(catalog: Path) -> int | None:
    conn = sqlite3.connect(f"file:{catalog.as_posix()}?mode=ro", uri=True)
    try:
        sizes = Counter(row[0] for row in conn.execute("SELECT length(data) FROM vectors LIMIT 10000"))
    finally:
        conn.close()
    size = sizes.most_common(1)[0][0] if sizes else None
    return size // 4 if size and size % 4 == 0 else None


def _quarantine(catalog: Path, bad: list[tuple[str, str]]) -> None:
    if not bad:
        return
    with sqlite3.connect(catalog) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO quarantined_vectors (content_sha256, reason, found_at) VALUES (?, ?, ?)",
            [(sha, why, time.time()) for sha, why in bad],
        )
    conn.close()


def _reopen_and_restore(path: Path, report: CheckReport, reopen: Callable[[Path], FigureLibrary], rescan: bool) -> None:
    library = reopen(path)  # rebuilds the index; re-encodes quarantined images (open_or_create)
    try:
        before = library.info().figures
        lost_rows = report.salvage is not None and report.salvage.lost("figures") > 0
        short = report.figures_before is not None and report.figures_before > before
        if rescan and (lost_rows or short):
            for collection in library.collections():
                if any(path_from_text(source).exists() for source in collection.sources or (collection.source,)):
                    run_to_end(library.ingest(collection.id))
            report.restored = max(0, library.info().figures - before)
        report.figures_after = library.info().figures
        quarantined = getattr(library, "quarantined_count", lambda: 0)()
        if quarantined:
            report.unrepaired.append(
                f"{quarantined} image(s) could not be encoded again (file gone or changed); index their folders again"
            )
    finally:
        library.close()


def _describe(report: CheckReport) -> list[str]:
    lines = [f"library:   {report.path}"]
    if report.healthy:
        return [*lines, "catalog:   sound (integrity_check ok)", "vectors:   all usable", "index:     as stamped"]
    lines.append("catalog:   " + ("sound" if not report.catalog else f"DAMAGED ({'; '.join(report.catalog[:3])})"))
    if report.facts:
        lines.append(f"facts:     {report.facts}")
    if report.bad_vectors or report.quarantined:
        lines.append(f"vectors:   {report.bad_vectors} unusable, {report.quarantined} quarantined")
    if report.index:
        lines.append(f"index:     {report.index}")
    if report.salvage is not None:
        for table in ("figures", "vectors", "articles", "collections"):
            counts = report.salvage.tables.get(table)
            if counts is not None:
                lines.append(f"salvaged:  {table}: {counts.recovered} recovered, {counts.unreadable} unreadable, "
                             f"{counts.dropped} dropped")
    if report.backup is not None:
        lines.append(f"kept:      the damaged catalog as {report.backup.name}")
    if report.restored:
        lines.append(f"restored:  {report.restored} figures by reading their sources again")
    if report.figures_after is not None:
        before = "unknown" if report.figures_before is None else str(report.figures_before)
        lost = "unknown" if report.figures_lost is None else str(report.figures_lost)
        lines.append(f"figures:   {report.figures_after} now, {before} in the last saved index, {lost} lost")
    lines += [f"not fixed: {why}" for why in report.unrepaired]
    return lines
