"""The GUI's pattern: an ingest in one worker thread while other threads search the same Library."""

from __future__ import annotations

import threading

from engine.types import QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, index_consistent_with_catalog, new_library, write_images
from tests.fakes import FakeEncoder


def test_searches_run_while_an_ingest_commits(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"{n:03d}.png": ("red", "green", "blue")[n % 3] for n in range(48)})
    with new_library(tmp_path / "lib", FakeEncoder(delay=0.002)) as library:
        collection = library.add_collection(folder)
        errors: list[BaseException] = []
        report = {}

        def ingest() -> None:
            try:
                report["value"] = drain(library.ingest(collection.id, batch_size=8))[1]
            except BaseException as e:  # surfaced by the assertion below
                errors.append(e)

        worker = threading.Thread(target=ingest)
        worker.start()
        seen_counts = []
        while worker.is_alive():
            page = library.search(SearchQuery((QueryTerm("green"),), limit=5))
            seen_counts.append(library.info().figures)
            assert all(r.image_path.exists() for r in page.results)
        worker.join()
        assert errors == []
        assert report["value"].added == 48
        assert seen_counts == sorted(seen_counts)  # figures only ever appear, batch by batch
        assert index_consistent_with_catalog(library)
        top = library.search(SearchQuery((QueryTerm("green"),), limit=16, hybrid=False)).results
        assert all(int(r.image_path.stem) % 3 == 1 for r in top)


def test_reingesting_every_collection_adds_only_what_is_new(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    write_images(one, {"a.png": "red"})
    write_images(two, {"b.png": "blue"}, speckle_from=5)
    with new_library(tmp_path / "lib") as library:
        library.add_collection(one)
        library.add_collection(two)

        def reingest_all():
            return [drain(library.ingest(c.id))[1] for c in library.collections()]

        reports = reingest_all()
        assert [r.added for r in reports] == [1, 1]
        write_images(two, {"c.png": "green"}, speckle_from=9)
        reports = reingest_all()
        assert [(r.added, r.reused) for r in reports] == [(0, 1), (1, 1)]
