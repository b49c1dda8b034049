"""Checking a catalog file fully, and salvaging what a damaged one still holds (the `.recover` idea, in Python).

SQLite's command-line `.recover` walks every table's pages and copies out the rows it can still decode; Python's
sqlite3 module has no such call, so this does the same through ordinary queries: each table is read by rowid
windows, a window that fails is split in halves down to single rows, and whatever reads back is copied into a
freshly made catalog of the current schema (constraints and the full-text index rebuilt on the way). What could
not be read is counted, never guessed. Rows that reference lost rows (a figure whose vector row is gone) are
dropped and counted too, so the salvaged catalog is consistent and passes `integrity_check`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog.db import open_engine
from engine.catalog.schema import Base

logger = logging.getLogger(__name__)

# Copied in this order (referenced tables first); schema_version and the FTS tables come from the fresh schema.
SALVAGED_TABLES = (
    "library_meta",
    "collections",
    "collection_sources",
    "articles",
    "vectors",
    "figures",
    "ingest_problems",
    "quarantined_vectors",
)
_WINDOW = 512  # rowids read per query
_PROBE_BUDGET = 2_000_000  # single-rowid reads per table before giving up on a hopeless one
_BEYOND = 100_000  # how far past the last readable rowid to look when the b-tree cannot say where it ends

_ORPHANS = (
    ("figures", "collection_id NOT IN (SELECT id FROM collections)"),
    ("figures", "content_sha256 NOT IN (SELECT content_sha256 FROM vectors)"),
    ("ingest_problems", "collection_id NOT IN (SELECT id FROM collections)"),
    ("collection_sources", "collection_id NOT IN (SELECT id FROM collections)"),
)


@dataclass
class TableSalvage:
    recovered: int = 0
    unreadable: int = 0  # rowids whose page could not be read (a row may or may not have been there)
    dropped: int = 0  # rows read but refused: a duplicate key, or a reference to a row that was lost


@dataclass
class SalvageReport:
    tables: dict[str, TableSalvage] = field(default_factory=dict)

    def lost(self, table: str) -> int:
        found = self.tables.get(table)
        return 0 if found is None else found.unreadable + found.dropped

    def recovered(self, table: str) -> int:
        found = self.tables.get(table)
        return 0 if found is None else found.recovered


def _connect_read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{Path(path).as_posix()}?mode=ro", uri=True)
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")  # a garbled text cell must not stop the read
    return conn


def integrity_problems(path: Path, limit: int = 100) -> list[str]:
    """`PRAGMA integrity_check` messages ([] when the file is sound): every page, every index entry."""
    try:
        conn = _connect_read_only(path)
        try:
            rows = [r[0] for r in conn.execute(f"PRAGMA integrity_check({int(limit)})")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return [f"the file cannot be read as a catalog: {e}"]
    return [] if rows == ["ok"] else rows


def salvage(damaged: Path, fresh: Path) -> SalvageReport:
    """Copy every readable row of `damaged` into a new catalog at `fresh` (which must not exist)."""
    open_engine(fresh, create=True, verify=False).dispose()  # the current schema, FTS triggers included
    report = SalvageReport()
    src = _connect_read_only(damaged)
    dst = sqlite3.connect(fresh)
    try:
        dst.execute("PRAGMA foreign_keys=OFF")  # references are checked below, after everything is in
        for table in SALVAGED_TABLES:
            report.tables[table] = _copy_table(src, dst, table)
        _drop_orphans(dst, report)
        dst.commit()
    finally:
        src.close()
        dst.close()
    for table, counts in report.tables.items():
        if counts.unreadable or counts.dropped:
            logger.warning("salvage %s: %d rows recovered, %d unreadable, %d dropped", table, counts.recovered,
                           counts.unreadable, counts.dropped)
    return report


def _columns(src: sqlite3.Connection, table: str) -> list[str]:
    wanted = [c.name for c in Base.metadata.tables[table].columns]
    try:
        present = {row[1] for row in src.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return wanted  # the schema page is unreadable: try the columns this version writes
    return [c for c in wanted if c in present]


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> TableSalvage:
    counts = TableSalvage()
    columns = _columns(src, table)
    if not columns:
        return counts
    names = ", ".join(f'"{c}"' for c in columns)
    select = f'SELECT {names} FROM "{table}" WHERE rowid BETWEEN ? AND ?'
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    reader = _RowidReader(src, table, select)
    for row in reader.rows():
        cursor = dst.execute(insert, row)
        if cursor.rowcount == 1:
            counts.recovered += 1
        else:
            counts.dropped += 1
    counts.unreadable = reader.unreadable
    return counts


class _RowidReader:
    """Every readable row of a table, in rowid windows split in halves around unreadable pages."""

    def __init__(self, src: sqlite3.Connection, table: str, select: str):
        self.src, self.table, self.select = src, table, select
        self.unreadable = 0
        self._probes = 0

    def _bounds(self) -> tuple[int, int] | None:
        try:
            lo, hi = self.src.execute(f'SELECT min(rowid), max(rowid) FROM "{self.table}"').fetchone()
            return (lo, hi) if lo is not None else None
        except sqlite3.DatabaseError:
            pass
        seen = []  # the b-tree's edge pages are damaged: take the rowids a plain scan reaches, then look beyond
        try:
            for (rowid,) in self.src.execute(f'SELECT rowid FROM "{self.table}"'):
                seen.append(rowid)
        except sqlite3.DatabaseError:
            pass
        return (min(seen, default=1), max(seen, default=0) + _BEYOND)

    def rows(self):
        bounds = self._bounds()
        if bounds is None:
            return
        lo, hi = bounds
        for start in range(lo, hi + 1, _WINDOW):
            yield from self._window(start, min(start + _WINDOW - 1, hi))

    def _window(self, a: int, b: int):
        try:
            rows = self.src.execute(self.select, (a, b)).fetchall()
        except sqlite3.DatabaseError:
            if a == b or self._probes > _PROBE_BUDGET:
                self.unreadable += b - a + 1 if self._probes > _PROBE_BUDGET else 1
                return
            self._probes += 1
            middle = (a + b) // 2
            yield from self._window(a, middle)
            yield from self._window(middle + 1, b)
            return
        yield from rows


def _drop_orphans(dst: sqlite3.Connection, report: SalvageReport) -> None:
    for table, condition in _ORPHANS:
        cursor = dst.execute(f"DELETE FROM {table} WHERE {condition}")
        if cursor.rowcount:
            report.tables[table].dropped += cursor.rowcount
            report.tables[table].recovered -= cursor.rowcount
    dst.execute(
        "UPDATE figures SET article_id = NULL "
        "WHERE article_id IS NOT NULL AND article_id NOT IN (SELECT id FROM articles)"
    )
    dst.execute("DELETE FROM vectors WHERE content_sha256 NOT IN (SELECT content_sha256 FROM figures)")
    dst.execute("DELETE FROM articles WHERE id NOT IN (SELECT article_id FROM figures WHERE article_id IS NOT NULL)")
    # A collection whose source rows were lost still names its first source itself: enough to read it again.
    dst.execute(
        "INSERT INTO collection_sources (collection_id, position, kind, source) "
        "SELECT id, 0, kind, source FROM collections WHERE id NOT IN (SELECT collection_id FROM collection_sources)"
    )
