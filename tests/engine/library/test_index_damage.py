"""Issue 15, item 7 (index and vectors) and item 9 (duplicates): damage is detected and repaired, never loaded."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np

from engine.index import VectorIndex
from engine.index.shared import SharedVectorIndex
from engine.library import Library, open_or_create
from engine.library.index_cache import CAUGHT_UP, LOADED, REBUILT
from engine.types import ModelSpec, QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, index_consistent_with_catalog, new_library, write_images
from tests.fakes import FakeEncoder, solid_image

COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "white", "black")


def factory(spec, device, offline, progress):
    return FakeEncoder()


def _library(tmp_path, name="lib", count=24):
    src = tmp_path / f"src-{name}"
    write_images(src, {f"img{n:03}.png": COLOURS[n % len(COLOURS)] for n in range(count)})
    with new_library(tmp_path / name) as library:
        collection = library.add_collection(src)
        drain(library.ingest(collection.id))
    return tmp_path / name


def _query_in_subprocess(folder) -> subprocess.CompletedProcess:
    """Opening and querying in a child: if a damaged index ever reached hnswlib and crashed it, the test would see
    the signal instead of dying with it."""
    script = textwrap.dedent(f"""
        from engine.library import Library
        from engine.types import QueryTerm, SearchQuery
        from tests.fakes import FakeEncoder
        with Library.open({str(folder)!r}) as library:
            library.attach_encoder(FakeEncoder())
            page = library.search(SearchQuery(terms=(QueryTerm(text="red"),), limit=3))
            print(library.index_origin, len(library._index.current()), [r.image_path.name for r in page.results])
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_a_same_size_garbled_index_is_rebuilt_never_loaded(tmp_path):
    folder = _library(tmp_path)
    index_file = folder / "index.hnsw"
    data = bytearray(index_file.read_bytes())
    rng = np.random.default_rng(0)
    data[64 : len(data) - 64] = rng.integers(0, 256, len(data) - 128, dtype=np.uint8).tobytes()
    index_file.write_bytes(bytes(data))
    result = _query_in_subprocess(folder)
    assert result.returncode == 0, result.stderr
    origin, size, names = result.stdout.split(" ", 2)
    assert origin == REBUILT and int(size) == 24 and "img000.png" in names


def test_an_edited_stamp_is_not_believed(tmp_path):
    folder = _library(tmp_path)
    stamp = folder / "index.hnsw.stamp.json"
    payload = json.loads(stamp.read_text())
    payload["deleted"] = list(range(1, 25))  # "every id is deleted": 0 searchable vectors if believed
    payload["count"] = 0
    stamp.write_text(json.dumps(payload))
    with Library.open(folder) as library:
        assert library.index_origin == REBUILT and len(library._index.current()) == 24
        assert index_consistent_with_catalog(library)


def test_another_librarys_index_with_the_same_generation_is_rebuilt(tmp_path):
    mine = _library(tmp_path, "mine", count=12)
    other = _library(tmp_path, "other", count=20)
    for name in ("index.hnsw", "index.hnsw.stamp.json"):
        shutil.copy(other / name, mine / name)
    with Library.open(mine) as library:
        assert library.index_origin == REBUILT and len(library._index.current()) == 12
        assert index_consistent_with_catalog(library)


def test_an_index_holding_more_ids_than_the_catalog_is_rebuilt(tmp_path):
    folder = _library(tmp_path)
    with sqlite3.connect(folder / "catalog.sqlite") as db:  # figures deleted behind the library's back
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM figures WHERE id > 20")
    with Library.open(folder) as library:
        assert library.index_origin != LOADED and len(library._index.current()) == 20
        assert index_consistent_with_catalog(library)


def _spoil_vector(folder, blob: bytes) -> str:
    with sqlite3.connect(folder / "catalog.sqlite") as db:
        sha = db.execute("SELECT content_sha256 FROM figures WHERE key = 'img001.png'").fetchone()[0]
        db.execute("UPDATE vectors SET data = ? WHERE content_sha256 = ?", (blob, sha))
    (folder / "index.hnsw").unlink()  # the rebuild that must not be bricked by it
    return sha


def test_a_nan_vector_row_is_quarantined_then_reencoded(tmp_path):
    folder = _library(tmp_path)
    _spoil_vector(folder, np.full(32, np.nan, dtype="<f4").tobytes())
    with Library.open(folder) as library:  # no model here: the rebuild leaves the bad row out
        assert library.index_origin == REBUILT and len(library._index.current()) == 23
        assert library.quarantined_count() == 1 and index_consistent_with_catalog(library) is False
    with open_or_create(folder, ModelSpec(), factory) as library:  # with the model: encoded again
        assert library.quarantined_count() == 0 and len(library._index.current()) == 24
        assert index_consistent_with_catalog(library)
        page = library.search(SearchQuery(terms=(QueryTerm(text="red"),), limit=24, min_score=-1e9))  # every figure
        assert "img001.png" in [r.image_path.name for r in page.results]
    with Library.open(folder) as library:
        assert library.index_origin == LOADED and len(library._index.current()) == 24


def test_a_vector_row_of_the_wrong_length_never_bricks_a_rebuild(tmp_path):
    folder = _library(tmp_path)
    _spoil_vector(folder, b"\x00" * 7)
    with Library.open(folder, read_only=True) as library:  # read-only: skipped in memory, nothing written
        assert len(library._index.current()) == 23
        assert library.quarantined_count() == 0


def test_a_stale_index_catches_up_around_a_bad_vector(tmp_path):
    folder = _library(tmp_path)
    with sqlite3.connect(folder / "catalog.sqlite") as db:  # a later commit the index never saw, with a bad row
        sha = db.execute("SELECT content_sha256 FROM figures WHERE key = 'img002.png'").fetchone()[0]
        db.execute("UPDATE vectors SET data = ? WHERE content_sha256 = ?", (b"bad", sha))
        db.execute("UPDATE figures SET vector_generation = vector_generation + 100 WHERE key = 'img002.png'")
        db.execute("UPDATE library_meta SET value = CAST(value AS INTEGER) + 100 WHERE key = 'generation'")
    with Library.open(folder) as library:
        assert library.index_origin == CAUGHT_UP and len(library._index.current()) == 23
        assert library.quarantined_count() == 1


# --------------------------------------------------------------------------------------------- item 9: copies
def _low_rank(n, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)) @ rng.standard_normal((6, dim)) + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_three_thousand_copies_share_one_node_keep_ef_sane_and_stay_out_of_unrelated_searches():
    dim = 32
    others = _low_rank(500, dim, 0)
    copy = _low_rank(1, dim, 1)[0]
    index = SharedVectorIndex(VectorIndex(dim))
    index.add(np.arange(500), others)
    ids = np.arange(1000, 4000)
    index.add(ids, np.tile(copy, (3000, 1)), {int(i): 1000 for i in ids[1:]})
    assert len(index) == 3500 and len(index.graph) == 501
    ef = index.tune_ef(target_recall=0.95)
    assert ef <= 128  # 3,000 separate copies drove it to 1024 with recall 0.015
    hits = sum(int((index.search(others[i], 10)[0][0] >= 1000).sum()) for i in range(100))
    assert hits == 0  # with copies as separate nodes: 650 of these 1,000 results were copies
    found, sims = index.search(copy, 5)
    assert found[0].tolist() == [1000, 1001, 1002, 1003, 1004] and np.allclose(sims, 1.0, atol=1e-5)
    index.delete([1000])  # the lead goes: an alias takes its node
    assert 1000 not in index and 1001 in index.graph and len(index) == 3499
    found, _ = index.search(copy, 3, allowed=lambda i: i >= 3990)
    assert found[0].tolist() == [3990, 3991, 3992]


def test_copies_in_a_library_share_a_node_and_survive_save_load_and_removal(tmp_path):
    src = tmp_path / "src"
    write_images(src, {f"u{n}.png": COLOURS[n % 8] for n in range(10)})
    solid_image("red").save(src / "logo.png")
    for n in range(300):
        shutil.copy(src / "logo.png", src / f"logo{n:03}.png")
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(src)
        _, report = drain(library.ingest(collection.id, batch_size=16))
        assert (report.added, report.reused) == (11, 300)
        index = library._index.current()
        assert len(index) == 311 and len(index.graph) == 11
        assert index_consistent_with_catalog(library)
    with Library.open(tmp_path / "lib") as library:
        assert library.index_origin == LOADED and len(library._index.current().graph) == 11
        for name in ("logo.png", "logo000.png"):
            (src / name).unlink()
        library.attach_encoder(FakeEncoder())
        drain(library.ingest(1))
        assert len(library._index.current()) == 309 and index_consistent_with_catalog(library)
    (tmp_path / "lib" / "index.hnsw").unlink()
    with Library.open(tmp_path / "lib") as library:
        assert library.index_origin == REBUILT and len(library._index.current().graph) == 11
        assert index_consistent_with_catalog(library)
