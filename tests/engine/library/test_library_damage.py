"""Issue 15, items 6-7 and 9: a library survives interrupted creation, damaged facts and leftovers of kills."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess

import pytest

from engine.errors import LibraryDamagedError, LibraryReadOnlyError, UnfinishedLibraryError, UserInputError
from engine.library import Library, open_or_create
from engine.types import ModelSpec, QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, index_consistent_with_catalog, new_library, write_images
from tests.fakes import FakeEncoder


def factory(spec, device, offline, progress):
    return FakeEncoder()


def _small_library(tmp_path):
    write_images(tmp_path / "src", {f"{c}.png": c for c in ("red", "green", "blue")})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(tmp_path / "src")
        drain(library.ingest(collection.id))
    return tmp_path / "lib"


def test_a_half_created_library_is_created_again_by_the_next_writing_run(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    sqlite3.connect(folder / "catalog.sqlite").execute("CREATE TABLE x (y)").connection.close()  # killed early
    with pytest.raises(UnfinishedLibraryError, match="never finished.*index FOLDER"):
        open_or_create(folder, ModelSpec(name="fake"), factory, read_only=True)
    with open_or_create(folder, ModelSpec(name="fake"), factory) as library:
        assert library.model_id == "fake" and library.info().figures == 0


def test_a_zero_byte_catalog_is_unfinished_not_a_schema_to_upgrade(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "catalog.sqlite").write_bytes(b"")
    with pytest.raises(UnfinishedLibraryError):
        Library.open(folder, read_only=True)
    with open_or_create(folder, ModelSpec(name="fake"), factory) as library:
        assert library.dim == FakeEncoder().dim


def test_creation_never_leaves_a_catalog_without_its_model(tmp_path, monkeypatch):
    import engine.library.library as library_module

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # stands for a kill after the tables exist, before the model is recorded

    monkeypatch.setattr(library_module, "set_meta", killed)
    with pytest.raises(KeyboardInterrupt):
        Library.create(tmp_path / "lib", ModelSpec(name="fake"), model_id="fake", dim=32)
    assert not (tmp_path / "lib" / "catalog.sqlite").exists()
    assert [p.name for p in (tmp_path / "lib").iterdir()] == ["library.lock"]


def test_a_non_numeric_dim_is_reported_as_damage_with_the_way_out(tmp_path):
    folder = _small_library(tmp_path)
    with sqlite3.connect(folder / "catalog.sqlite") as db:
        db.execute("UPDATE library_meta SET value = 'abc' WHERE key = 'dim'")
    with pytest.raises(LibraryDamagedError, match="invalid vector size.*check --repair"):
        Library.open(folder, read_only=True)


def test_a_folder_in_place_of_the_lock_file_is_cleared_when_empty_and_named_when_not(tmp_path):
    folder = _small_library(tmp_path)
    (folder / "library.lock").unlink()
    (folder / "library.lock").mkdir()
    Library.open(folder).close()
    assert (folder / "library.lock").is_file()
    (folder / "library.lock").unlink()
    (folder / "library.lock").mkdir()
    (folder / "library.lock" / "keep.txt").write_text("mine")
    with pytest.raises(UserInputError, match="is a folder"):  # exit 2, with what to do
        Library.open(folder)


def test_leftovers_of_a_killed_save_and_remove_are_cleared_on_the_next_open(tmp_path):
    folder = _small_library(tmp_path)
    stray = folder / ".index.hnsw.12345.tmp"
    stray.write_bytes(b"\0" * 4096)
    orphan_media = folder / "media" / "99" / "pmc-packages"
    orphan_media.mkdir(parents=True)
    (orphan_media / "x.jpg").write_bytes(b"x")
    with Library.open(folder) as library:
        assert index_consistent_with_catalog(library)
    assert not stray.exists() and not (folder / "media" / "99").exists()
    assert (folder / "media" / "1").is_dir()  # a live collection's media stays


@pytest.fixture
def read_only_view(tmp_path):
    """Make a read-only view of a folder: permissions for a normal user, a read-only bind mount for root."""
    mounts: list[str] = []
    chmodded: list = []

    def make(folder):
        if os.name != "posix":
            pytest.skip("needs POSIX")
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
                chmodded.append(path)
            return folder
        view = tmp_path / "read-only-view"
        view.mkdir()
        for command in (["mount", "--bind", str(folder), str(view)], ["mount", "-o", "remount,ro,bind", str(view)]):
            if subprocess.run(command, capture_output=True).returncode != 0:
                pytest.skip("cannot make a read-only mount here")
            if command[1] == "--bind":
                mounts.append(str(view))
        return view

    yield make
    for view in mounts:
        if subprocess.run(["umount", view], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", view], capture_output=True)  # still in use: detach it anyway
    for path in chmodded:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_read_only_copy_without_wal_files_can_be_queried(tmp_path, read_only_view):
    folder = read_only_view(_small_library(tmp_path))
    assert not (folder / "catalog.sqlite-wal").exists() and not (folder / "catalog.sqlite-shm").exists()
    with pytest.raises(LibraryReadOnlyError, match="read-only folder"):
        Library.open(folder)
    with open_or_create(folder, ModelSpec(), factory, read_only=True) as library:
        assert library.info().figures == 3 and library.info().read_only
        page = library.search(SearchQuery(terms=(QueryTerm(text="red"),), limit=1))
        assert page.results[0].image_path.name == "red.png"


def test_quick_check_runs_on_open_unless_the_catalog_is_as_we_left_it(tmp_path, monkeypatch):
    from engine.catalog import db

    folder = _small_library(tmp_path)
    checks = []
    real = db._quick_check
    monkeypatch.setattr(db, "_quick_check", lambda conn, path: (checks.append(path), real(conn, path)))
    Library.open(folder, read_only=True).close()
    assert checks == []  # closed by a writer since: known good, not read again
    with open(folder / "catalog.sqlite", "r+b") as handle:  # any outside write brings the check back
        handle.seek(100)
        same = handle.read(4)
        handle.seek(100)
        handle.write(same)
    Library.open(folder, read_only=True).close()
    assert len(checks) == 1
