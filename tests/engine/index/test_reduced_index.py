"""Reduced mode: the graph walks a projection fitted on the vectors and re-ranks exactly with the full vectors."""

from __future__ import annotations

import numpy as np
import pytest

from engine.index import IndexStamp, VectorIndex, exact_top_k, low_rank_vectors, recall_at_k
from engine.index.hnsw import full_vectors_path
from engine.index.reduced import FullVectors, fit_projection
from engine.library import Library

N = 8000


@pytest.fixture(scope="module")
def data():
    vectors = low_rank_vectors(N, 256, latent=12, seed=0)
    queries = low_rank_vectors(100, 256, latent=12, seed=1)
    truth, _ = exact_top_k(queries, vectors, np.arange(N), 10)
    index = VectorIndex(256, capacity=N, M=16, ef_construction=100, reduced_dim=32)
    index.add(np.arange(N), vectors)
    return vectors, queries, truth, index


def test_tuned_reduced_index_reaches_the_recall_and_returns_exact_similarities(data):
    vectors, queries, truth, index = data
    ef = index.tune_ef(target_recall=0.95)
    found, sims = index.search(queries, k=10)
    assert recall_at_k(found, truth) >= 0.93  # tuned on 3-vector mixes, checked on fresh queries
    # re-ranked with the float16 copies: within 2e-4 of the float32 inner products
    np.testing.assert_allclose(sims, np.take_along_axis(queries @ vectors.T, found, axis=1), atol=2e-4)
    assert (np.diff(sims, axis=1) <= 1e-7).all()  # best first
    index.ef = 10
    assert recall_at_k(index.search(queries, k=10)[0], truth) < recall_at_k(found, truth)  # ef matters
    index.ef = ef


def test_filters_deletes_and_a_save_load_round_trip(data, tmp_path):
    vectors, queries, _, index = data
    found, _ = index.search(queries[:5], k=10, allowed=lambda i: i % 3 == 0)
    assert (found % 3 == 0).all()
    first = int(index.search(queries[:1], k=1)[0][0, 0])
    index.delete([first])
    assert first not in index.search(queries[:1], k=10)[0]
    stamp = IndexStamp("m", 256, "ip", 3)
    index.save(tmp_path / "index.hnsw", stamp)
    loaded = VectorIndex.load(tmp_path / "index.hnsw", stamp)
    assert loaded is not None and loaded.reduced_dim == 32 and len(loaded) == N - 1 and loaded.ef == index.ef
    np.testing.assert_array_equal(loaded.search(queries, k=10)[0], index.search(queries, k=10)[0])
    index.add(np.asarray([first]), vectors[first : first + 1])  # back again, in a reused row
    assert int(index.search(queries[:1], k=1)[0][0, 0]) == first
    full_vectors_path(tmp_path / "index.hnsw").write_bytes(b"damaged")
    assert VectorIndex.load(tmp_path / "index.hnsw", stamp) is None  # rebuilt, never trusted


def test_full_vectors_reuse_rows_of_deleted_ids():
    store = FullVectors(4, capacity=2)
    store.put(np.array([5, 9]), np.eye(4, dtype=np.float32)[:2])
    store.remove(np.array([5]))
    store.put(np.array([7]), np.full((1, 4), 3, np.float32))
    assert store.used == 2  # the freed row was reused
    np.testing.assert_array_equal(store.get([9, 7]), [[0, 1, 0, 0], [3, 3, 3, 3]])
    assert store.rows.dtype == np.float16 and store.get([9]).dtype == np.float32
    arrays = store.to_arrays()
    assert arrays["ids"].tolist() == [7, 9]


def test_full_vectors_come_back_as_exactly_the_float32_of_their_float16():
    every_half = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every_half[np.isfinite(every_half)]  # subnormals, zeros of both signs, the largest values
    store = FullVectors(8, 16)
    vectors = np.resize(finite, (len(finite) // 8, 8))
    store.put(np.arange(len(vectors)), vectors)
    got = store.get(np.arange(len(vectors)))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, vectors.astype(np.float32))
    assert np.signbit(got).sum() == np.signbit(vectors).sum()  # -0.0 stays -0.0


def test_the_projection_keeps_inner_products_of_in_span_vectors():
    sample = low_rank_vectors(2000, 64, latent=4, noise=0.0, seed=2)
    projection = fit_projection(sample, 8)
    x, q = sample[:10], sample[10:20]
    np.testing.assert_allclose((x @ projection) @ (q @ projection).T, x @ q.T, atol=1e-4)
    with pytest.raises(ValueError, match="needs at least"):
        fit_projection(sample[:3], 8)


def test_a_library_that_grows_past_the_threshold_switches_to_the_reduced_index(tmp_path, monkeypatch):
    from engine.library import index_cache
    from tests.engine.library.helpers import drain, new_library, write_images

    monkeypatch.setattr(index_cache, "REDUCED_FROM", 12)
    monkeypatch.setattr(index_cache, "REDUCED_DIM", 4)
    colours = ["red", "green", "blue", "yellow", "white", "black", "cyan", "magenta"]
    write_images(tmp_path / "images", {f"f{n:02d}.png": colours[n % 8] for n in range(20)})
    with new_library(tmp_path / "lib") as library:
        _, report = drain(library.ingest(library.add_collection(tmp_path / "images").id))
        assert report.added == 20
        index = library._index.current()
        assert index.reduced_dim == 4 and len(index) == 20
        figure = next(iter(index.ids().tolist()))
        found = index.search(library.stored_vector(figure)[None, :], k=1)
        assert int(found[0][0, 0]) == figure and found[1][0, 0] == pytest.approx(1.0, abs=1e-3)
    with Library.open(tmp_path / "lib") as reopened:
        assert reopened.index_origin == "loaded" and reopened._index.current().reduced_dim == 4


def test_vectors_no_longer_than_the_projection_never_switch_however_many_there_are(tmp_path, monkeypatch):
    """A model whose vectors have REDUCED_DIM dimensions or fewer keeps the full graph past the threshold, and an
    ingest does not rebuild it again and again trying to switch."""
    from engine.library import index_cache
    from tests.engine.library.helpers import drain, new_library, write_images

    monkeypatch.setattr(index_cache, "REDUCED_FROM", 4)
    monkeypatch.setattr(index_cache, "REDUCED_DIM", 10_000)  # longer than the fake encoder's vectors
    assert not index_cache.wants_reduced(10**9, 768) and index_cache.wants_reduced(4, 10_001)
    rebuilds = []
    build = index_cache.build_from_catalog
    monkeypatch.setattr(index_cache, "build_from_catalog", lambda *a, **k: rebuilds.append(1) or build(*a, **k))
    write_images(tmp_path / "images", {f"f{n}.png": "red" for n in range(8)})
    with new_library(tmp_path / "lib") as library:
        rebuilds.clear()  # creating the library builds its (empty) index once
        collection = library.add_collection(tmp_path / "images")
        drain(library.ingest(collection.id))
        drain(library.ingest(collection.id))
        assert library._index.current().reduced_dim is None and rebuilds == []
