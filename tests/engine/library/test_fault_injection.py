"""Issue 15, must-do 6 (first half): ENOSPC and EIO injected at each write step of an ingest.

Steps: the catalog commit (SQLite's COMMIT fails as "database or disk is full" / "disk I/O error"), the index
save (hnswlib has written part of its temp file), the stamp (half of it written), media extraction (a package half
unpacked). After each: `pmc-search index` exits 2 with one sentence; the next open finds catalog and index in
agreement, every figure committed before the fault still there under the same id, no temp file left; a re-run
completes without duplicating anything.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import hnswlib
import pytest
from sqlalchemy import Engine, event, select

from engine.catalog import Figure
from engine.library import Library
from tests.app.test_cli_library import FakeModelCli, restore_logging  # noqa: F401 - fixture
from tests.engine.ingest.fixtures import write_package
from tests.engine.library.helpers import index_consistent_with_catalog
from tests.fakes import FakeEncoder, solid_image

COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "white", "black")
ERRNOS = {errno.ENOSPC: ("database or disk is full", "the disk is full"),
          errno.EIO: ("disk I/O error", "input/output error")}


def _images(folder: Path, count: int, offset: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        solid_image(COLOURS[n % 8], speckle=offset + n + 1).save(folder / f"f{offset + n:03}.png")
    return folder


def _packages(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for n in range(3):
        write_package(folder / f"PMC{n + 1}.tar.gz", top=f"PMC{n + 1}")
    return folder


def _os_error(number: int, where: str) -> OSError:
    return OSError(number, "No space left on device" if number == errno.ENOSPC else "Input/output error", where)


class Faults:
    """Arms one fault at a time; `monkeypatch` undoes the patches, `disarm` the SQLite listener."""

    def __init__(self, monkeypatch, number: int):
        self.monkeypatch, self.number = monkeypatch, number
        self._listener = None

    def catalog_commit(self, after: int = 2) -> None:
        commits = {"n": 0}
        sqlite_words = ERRNOS[self.number][0]

        def on_commit(_conn) -> None:
            commits["n"] += 1
            if commits["n"] > after:
                raise sqlite3.OperationalError(sqlite_words)

        self._listener = on_commit
        event.listen(Engine, "commit", on_commit)

    def index_save(self) -> None:
        number = self.number

        def save_index(_self, path: str) -> None:
            Path(path).write_bytes(b"\0" * 4096)  # part of the file made it to disk
            raise _os_error(number, path)

        self.monkeypatch.setattr(hnswlib.Index, "save_index", save_index)

    def stamp(self) -> None:
        from engine.fileio import atomic_write
        from engine.index import stamp as stamp_module

        number = self.number

        def write_half(path, data: bytes):
            def writer(handle):
                handle.write(data[: len(data) // 2])
                raise _os_error(number, str(path))

            return atomic_write(path, writer)

        self.monkeypatch.setattr(stamp_module, "atomic_write_bytes", write_half)

    def media_extraction(self) -> None:
        import tarfile

        number = self.number

        def extractall(self_tar, path, members=None, **_kwargs):
            member = members[0]
            target = Path(path) / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"partial")
            raise _os_error(number, str(target))

        self.monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)

    def disarm(self) -> None:
        self.monkeypatch.undo()
        if self._listener is not None:
            event.remove(Engine, "commit", self._listener)
            self._listener = None


def _leftovers(folder: Path) -> list[str]:
    patterns = ("*.tmp", ".*.tmp", "*.creating*", ".*.creating*", "*.partial", ".*.partial", ".*.salvage*")
    return sorted({str(p.relative_to(folder)) for pattern in patterns for p in folder.rglob(pattern)})


def _figures(folder: Path) -> dict[str, int]:
    with Library.open(folder, read_only=True) as library, library._sessions() as session:
        return {key: figure_id for key, figure_id in session.execute(select(Figure.key, Figure.id))}


@pytest.mark.parametrize("number", sorted(ERRNOS), ids=["ENOSPC", "EIO"])
@pytest.mark.parametrize("step", ["catalog_commit", "index_save", "stamp", "media_extraction"])
def test_a_write_failure_at_each_step_loses_nothing_committed(tmp_path, monkeypatch, capsys, step, number):
    cli = FakeModelCli()
    lib = tmp_path / "lib"
    first = _images(tmp_path / "first", 12, offset=0)
    assert cli(["--library", str(lib), "index", str(first), "--model", "fake", "-q"]) == 0
    before = _figures(lib)
    second = _packages(tmp_path / "second") if step == "media_extraction" else _images(tmp_path / "second", 24, 100)
    capsys.readouterr()

    faults = Faults(monkeypatch, number)
    getattr(faults, step)()
    try:
        code = cli(["--library", str(lib), "index", str(second), "-q", "--batch-size", "4"])
    finally:
        faults.disarm()
    err = capsys.readouterr().err
    assert code == 2, err
    assert ERRNOS[number][1] in err and "Traceback" not in err, err

    with Library.open(lib) as library:  # opening for writing clears what the failure left
        library.attach_encoder(FakeEncoder())
        assert index_consistent_with_catalog(library)
        after_fault = _keys_and_ids(library)
    assert _leftovers(lib) == []
    assert {k: after_fault[k] for k in before} == before  # nothing committed before the fault is lost or renumbered

    assert cli(["--library", str(lib), "index", str(second), "-q"]) == 0
    final = _figures(lib)
    assert {k: final[k] for k in after_fault} == after_fault  # nor anything committed during it
    assert len(final) == len(set(final.values())) == len(before) + (15 if step == "media_extraction" else 24)
    with Library.open(lib) as library:
        assert index_consistent_with_catalog(library)
    assert _leftovers(lib) == []


def _keys_and_ids(library) -> dict[str, int]:
    with library._sessions() as session:
        return {key: figure_id for key, figure_id in session.execute(select(Figure.key, Figure.id))}
