"""Creating, opening, locking and model checks; the index file as a rebuildable cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import LibraryLockedError, LibraryModelMismatchError, UserInputError
from engine.library import Library
from engine.library.index_cache import INDEX_FILE
from engine.types import ModelSpec, QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, new_library, write_images
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[3]


def test_create_records_the_model_and_open_reads_it(tmp_path):
    spec = ModelSpec(name="fake", weights="/w/ckpt.pt", tokenizer=None)
    with Library.create(tmp_path / "lib", spec, model_id="fake", dim=32):
        pass
    with Library.open(tmp_path / "lib") as library:
        assert library.model_spec == spec
        assert (library.model_id, library.dim) == ("fake", 32)
    with pytest.raises(UserInputError, match="already holds a library"):
        Library.create(tmp_path / "lib", spec, model_id="fake", dim=32)
    with pytest.raises(UserInputError, match="no library"):
        Library.open(tmp_path / "nothing-here")


def test_attach_encoder_refuses_another_model(tmp_path):
    with new_library(tmp_path / "lib") as library:
        with pytest.raises(LibraryModelMismatchError):
            library.attach_encoder(FakeEncoder(dim=64))
        with pytest.raises(LibraryModelMismatchError):
            library.attach_encoder(FakeEncoder(model_id="other"))


def test_second_writer_in_process_is_refused_read_only_is_not(tmp_path):
    with new_library(tmp_path / "lib"):
        with pytest.raises(LibraryLockedError, match=str(os.getpid())):
            Library.open(tmp_path / "lib")
        with Library.open(tmp_path / "lib", read_only=True) as reader:
            assert reader.info().figures == 0
    with Library.open(tmp_path / "lib"):  # released on close
        pass


def test_lock_held_by_another_process_is_refused(tmp_path):
    new_library(tmp_path / "lib").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                sys.path.insert(0, {str(REPO)!r})
                from engine.library import Library
                lib = Library.open({str(tmp_path / "lib")!r})
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LibraryLockedError, match=str(holder.pid)):
            Library.open(tmp_path / "lib")
    finally:
        holder.kill()
        holder.wait()
    with Library.open(tmp_path / "lib"):  # the dead holder's lock is stale and taken over
        pass


def test_stale_lock_file_from_a_dead_pid_is_taken_over(tmp_path):
    new_library(tmp_path / "lib").close()
    (tmp_path / "lib" / "library.lock").write_text("999999\n")
    with Library.open(tmp_path / "lib") as library:
        assert (tmp_path / "lib" / "library.lock").read_text().strip() == str(os.getpid())
        assert library.info().figures == 0


def _ingest_some(tmp_path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, {f"{c}{i}.png": c for i, c in enumerate(["red", "green", "blue", "white"] * 2)})
    with new_library(tmp_path / "lib") as library:
        drain(library.ingest(library.add_collection(folder).id))
    return tmp_path / "lib"


@pytest.mark.parametrize("damage", ["delete", "garble", "stale-stamp"])
def test_missing_corrupt_or_stale_index_is_rebuilt_from_stored_vectors(tmp_path, damage):
    path = _ingest_some(tmp_path)
    index_file = path / INDEX_FILE
    assert index_file.exists()
    if damage == "delete":
        index_file.unlink()
    elif damage == "garble":
        index_file.write_bytes(b"\0" * 100)
    else:
        from sqlalchemy import text

        from engine.catalog import open_engine

        engine = open_engine(path / "catalog.sqlite")
        with engine.begin() as conn:  # as if a batch committed after the index was last saved
            conn.execute(text("UPDATE library_meta SET value = value + 1 WHERE key = 'generation'"))
        engine.dispose()
    encoder = FakeEncoder()
    with Library.open(path) as library:
        library.attach_encoder(encoder)
        assert library.info().index_size == 8
        top = library.search(SearchQuery((QueryTerm("blue"),), limit=2, hybrid=False)).results
        assert all("blue" in r.image_path.name for r in top)
    assert encoder.images_encoded == 0  # rebuilt without re-encoding


def test_read_only_open_never_writes(tmp_path):
    path = _ingest_some(tmp_path)
    (path / INDEX_FILE).unlink()
    with Library.open(path, read_only=True) as library:
        library.attach_encoder(FakeEncoder())
        assert library.info().index_size == 8  # rebuilt in memory
        with pytest.raises(Exception, match="read-only"):
            library.add_collection(tmp_path / "images")
    assert not (path / INDEX_FILE).exists()


def test_ef_is_tuned_after_ingest_and_restored_on_open(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"{n}.png": ("red", "green", "blue", "white")[n % 4] for n in range(40)})
    with new_library(tmp_path / "lib") as library:
        index = library._index.current()
        index.ef = 999  # anything the tuner would never choose
        drain(library.ingest(library.add_collection(folder).id))
        tuned = index.ef
        assert tuned != 999
    with Library.open(tmp_path / "lib", read_only=True) as library:
        assert library._index.current().ef == tuned


def test_modality_prompts_are_encoded_once_per_library(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {"a.png": "red", "b.png": "blue"})
    first = FakeEncoder()
    with new_library(tmp_path / "lib", first) as library:
        drain(library.ingest(library.add_collection(folder).id))
        assert first.texts_encoded > 10  # the modality prompts
        labels = {r.figure_id: r.modality for r in library.search(SearchQuery((QueryTerm("red"),))).results}
    write_images(folder, {"c.png": "green"}, speckle_from=7)
    second = FakeEncoder()
    with Library.open(tmp_path / "lib") as library:
        library.attach_encoder(second)
        drain(library.ingest(1))
        assert second.texts_encoded == 0  # read back from the catalog
        again = {r.figure_id: r.modality for r in library.search(SearchQuery((QueryTerm("red"),))).results}
    assert all(again[i] == label for i, label in labels.items())
