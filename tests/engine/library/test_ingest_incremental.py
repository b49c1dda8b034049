"""Incremental ingestion of a folder: only new content is encoded; renames, duplicates and removals handled."""

from __future__ import annotations

import os
import shutil

from engine.types import QueryTerm, SearchQuery
from tests.engine.library.helpers import (
    all_figures,
    drain,
    index_consistent_with_catalog,
    new_library,
    write_images,
)
from tests.fakes import FakeEncoder, solid_image


def _paths(library) -> set[str]:
    """Every figure file the catalog holds (search shows copies of one image once, so it is asked directly)."""
    return {os.path.basename(str(r.image_path)) for r in all_figures(library)}


def test_first_ingest_then_unchanged_rerun_encodes_nothing(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {"a.png": "red", "b.png": "green", "sub/c.png": "blue", "sub/d.png": "white"})
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        collection = library.add_collection(folder)
        progress, report = drain(library.ingest(collection.id, batch_size=2))
        assert (report.added, report.reused, report.removed, report.failed) == (4, 0, 0, 0)
        assert progress[-1].phase == "done" and progress[-1].done == 4 and progress[0].total == 4
        assert encoder.images_encoded == 4
        assert library.info().figures == 4 and library.info().index_size == 4

        _, again = drain(library.ingest(collection.id))
        assert (again.added, again.reused, again.removed) == (0, 4, 0)
        assert encoder.images_encoded == 4  # nothing re-encoded
        assert library.add_collection(folder).id == collection.id  # same source -> same collection


def test_renamed_duplicate_modified_and_removed_files(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {"a.png": "red", "b.png": "green", "c.png": "blue", "d.png": "white"})
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        collection = library.add_collection(folder)
        drain(library.ingest(collection.id))
        assert encoder.images_encoded == 4

        os.rename(folder / "a.png", folder / "renamed.png")  # rename: same bytes
        shutil.copy(folder / "b.png", folder / "b-copy.png")  # duplicate
        solid_image("yellow", speckle=9).save(folder / "c.png")  # modified in place
        os.utime(folder / "c.png", ns=(1, 1))  # even with an old mtime, the size/hash tell
        os.remove(folder / "d.png")  # removed
        _, report = drain(library.ingest(collection.id))

        assert encoder.images_encoded == 5  # only the modified c.png
        assert report.added == 1
        assert report.reused == 3  # renamed, b unchanged, b-copy
        assert report.removed == 2  # the old a.png key and d.png
        assert _paths(library) == {"renamed.png", "b.png", "b-copy.png", "c.png"}
        green = library.search(SearchQuery((QueryTerm("green"),), limit=10, hybrid=False)).results
        assert [r.image_path.name for r in green] == ["b.png"]  # one card for the two copies of one image
        yellow = library.search(SearchQuery((QueryTerm("yellow"),), limit=1, hybrid=False)).results[0]
        assert yellow.image_path.name == "c.png" and yellow.why.similarity > 0.9
        assert index_consistent_with_catalog(library)


def test_duplicates_within_one_run_are_encoded_once(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    image = solid_image("cyan", speckle=3)
    for name in ("x.png", "y.png", "z.png"):
        image.save(folder / name)
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        _, report = drain(library.ingest(library.add_collection(folder).id))
        assert encoder.images_encoded == 1
        assert (report.added, report.reused) == (1, 2)
        assert library.info().figures == 3


def test_corrupt_image_is_skipped_and_reported_while_the_rest_index(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"ok{i}.png": "red" for i in range(5)})
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(folder)
        progress, report = drain(library.ingest(collection.id, batch_size=2))
        assert report.added == 5 and report.failed == 2
        reported = {os.path.basename(p.path) for p in report.problems}
        assert reported == {"broken.png", "truncated.jpg"}
        assert {os.path.basename(p.path) for step in progress for p in step.errors} == reported
        assert {os.path.basename(p.path) for p in library.problems(collection.id)} == reported
        assert library.info().figures == 5

        (folder / "broken.png").unlink()
        (folder / "truncated.jpg").unlink()
        _, clean = drain(library.ingest(collection.id))
        assert clean.failed == 0 and library.problems() == []  # problems describe the latest run


def test_cancel_between_batches_then_resume(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"img{i:02d}.png": ("red", "green", "blue")[i % 3] for i in range(12)})
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        collection = library.add_collection(folder)
        batches = []

        def cancel() -> bool:
            return len(batches) >= 2

        steps = library.ingest(collection.id, cancel=cancel, batch_size=3)
        progress = []
        while True:
            try:
                item = next(steps)
            except StopIteration as finished:
                report = finished.value
                break
            progress.append(item)
            if item.phase == "encoding":
                batches.append(item)
        assert report.cancelled and progress[-1].phase == "cancelled"
        assert report.added == 6 and library.info().figures == 6 and report.removed == 0
        _, resumed = drain(library.ingest(collection.id, batch_size=3))
        assert (resumed.added, resumed.reused) == (6, 6)
        assert encoder.images_encoded == 12 and library.info().figures == 12
        assert index_consistent_with_catalog(library)


def test_pause_blocks_until_released(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"img{i}.png": "red" for i in range(6)})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(folder)
        polls = []

        def pause() -> bool:
            polls.append(1)
            return len(polls) < 4  # paused for the first three polls

        _, report = drain(library.ingest(collection.id, pause=pause, batch_size=3))
        assert report.added == 6 and len(polls) >= 4


def test_remove_collection_drops_its_figures_vectors_and_index_entries(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    write_images(first, {"a.png": "red", "b.png": "green"})
    write_images(second, {"c.png": "blue"}, speckle_from=10)
    with new_library(tmp_path / "lib") as library:
        one = library.add_collection(first)
        two = library.add_collection(second)
        drain(library.ingest(one.id))
        drain(library.ingest(two.id))
        library.remove_collection(one.id)
        assert [c.id for c in library.collections()] == [two.id]
        assert _paths(library) == {"c.png"}
        assert library.info().index_size == 1
        from sqlalchemy import func, select

        from engine.catalog import Vector

        with library._sessions() as session:
            assert session.scalar(select(func.count()).select_from(Vector)) == 1


def test_modified_files_after_deletions_never_duplicate_index_entries(tmp_path):
    """hnswlib reuses deleted slots; replacing a live id there would leave the old slot live too."""
    folder = tmp_path / "images"
    write_images(folder, {"a.png": "red", "b.png": "green", "c.png": "blue", "d.png": "white"})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(folder)
        drain(library.ingest(collection.id))
        (folder / "b.png").unlink()
        drain(library.ingest(collection.id))  # leaves a deleted slot in the index
        for round_ in range(3):
            solid_image(("yellow", "cyan", "magenta")[round_], speckle=60 + round_).save(folder / "a.png")
            (folder / "d.png").unlink(missing_ok=True)
            drain(library.ingest(collection.id))
            results = library.search(SearchQuery((QueryTerm("x"),), limit=10, hybrid=False)).results
            ids = [r.figure_id for r in results]
            assert len(ids) == len(set(ids)) == library.info().figures
            assert index_consistent_with_catalog(library)
        top = library.search(SearchQuery((QueryTerm("magenta"),), limit=1, hybrid=False)).results[0]
        assert top.image_path.name == "a.png" and top.why.similarity > 0.9
