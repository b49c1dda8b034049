"""Issue 15, item 7: a garbled catalog is found by quick_check on open and by `check`, and `check --repair`
salvages it, brings lost figures back from the sources and reports what was lost."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from engine.errors import LibraryDamagedError
from engine.library import Library, open_or_create
from engine.library.repair import check_library
from engine.types import ModelSpec
from tests.engine.library.helpers import drain, index_consistent_with_catalog, new_library, write_images
from tests.fakes import FakeEncoder

COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "white", "black")


def factory(spec, device, offline, progress):
    return FakeEncoder()


def reopen(path):
    return open_or_create(path, ModelSpec(), factory)


def _library(tmp_path, count=120):
    src = tmp_path / "src"
    write_images(src, {f"img{n:03}.png": COLOURS[n % len(COLOURS)] for n in range(count)})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(src)
        drain(library.ingest(collection.id))
    return tmp_path / "lib"


def garble(catalog, table: str, pages: int = 2) -> None:
    """Overwrite `pages` leaf pages (8 KB) in the middle of a table's b-tree, as a failing disk or a stray write
    would: most pages of a file are leaves, so that is where a garbled region usually lands."""
    with sqlite3.connect(catalog) as db:
        leaves = [row[0] for row in db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,)
        )]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    assert len(leaves) > pages, "the table needs more leaves than the pages garbled"
    middle = len(leaves) // 2
    with open(catalog, "r+b") as handle:
        for page in leaves[middle : middle + pages]:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)


def test_a_healthy_library_checks_sound(tmp_path):
    report = check_library(_library(tmp_path, count=8))
    assert report.healthy and "sound" in "\n".join(report.lines())


@pytest.mark.parametrize("table", ["figures", "vectors"])
def test_a_garbled_region_is_found_on_open_and_salvaged_by_repair(tmp_path, table):
    folder = _library(tmp_path)
    garble(folder / "catalog.sqlite", table)
    with pytest.raises(LibraryDamagedError, match="check --repair"):
        Library.open(folder, read_only=True)
    found = check_library(folder)
    assert found.catalog and not found.repaired
    report = check_library(folder, repair=True, reopen=reopen)
    assert report.repaired, report.lines()
    assert report.backup is not None and report.backup.exists()
    assert report.figures_before == 120 and report.figures_after == 120 and report.figures_lost == 0
    assert report.salvage.lost(table) > 0 or report.restored > 0  # what was lost is counted, then restored
    assert check_library(folder).healthy
    with Library.open(folder) as library:
        assert library.info().figures == 120 and index_consistent_with_catalog(library)


def test_repair_without_sources_reports_the_figures_lost(tmp_path):
    folder = _library(tmp_path)
    garble(folder / "catalog.sqlite", "figures")
    shutil.rmtree(tmp_path / "src")  # the source is gone (a disconnected drive): nothing to read again
    report = check_library(folder, repair=True, reopen=reopen)
    assert report.repaired and report.figures_before == 120
    assert 0 < report.figures_lost < 120 and report.figures_after == 120 - report.figures_lost
    assert any("lost" in line for line in report.lines())


def test_lost_facts_are_restored_from_the_index_stamp(tmp_path):
    folder = _library(tmp_path, count=8)
    with sqlite3.connect(folder / "catalog.sqlite") as db:
        db.execute("DELETE FROM library_meta WHERE key IN ('model_id', 'dim', 'model_name')")
    with pytest.raises(LibraryDamagedError, match="lost the record of its model"):
        Library.open(folder)
    report = check_library(folder, repair=True, reopen=reopen)
    assert report.repaired
    with Library.open(folder) as library:
        assert (library.model_id, library.dim) == ("fake", 32) and library.info().figures == 8
