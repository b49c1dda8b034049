"""engine.index.VectorIndex: ids, replace, delete with slot reuse, filters, persistence with stamps, recall."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.index import IndexStamp, VectorIndex, exact_top_k, low_rank_vectors, recall_at_k
from engine.index.stamp import stamp_path

DIM = 32


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def random_unit(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((n, dim)))


def stamp(generation: int = 1, dim: int = DIM) -> IndexStamp:
    return IndexStamp(model_id="fake-model", dim=dim, space="ip", generation=generation)


def test_add_search_returns_ids_and_cosine_similarity():
    vecs = random_unit(50)
    index = VectorIndex(DIM, capacity=16)
    index.add(np.arange(1000, 1050), vecs)
    assert len(index) == 50 and 1000 in index and 999 not in index
    ids, sims = index.search(vecs[:3], k=5)
    assert ids.dtype == np.int64 and ids.shape == (3, 5) and sims.shape == (3, 5)
    assert list(ids[:, 0]) == [1000, 1001, 1002]
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)
    expected = vecs[:3] @ vecs.T
    np.testing.assert_allclose(sims[0], np.sort(expected[0])[::-1][:5], atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-6).all()  # best first
    assert index.capacity >= 50  # grew from 16 by doubling


def test_k_is_capped_by_size_and_empty_index_answers_empty():
    index = VectorIndex(DIM)
    ids, sims = index.search(random_unit(2), k=10)
    assert ids.shape == (2, 0) and sims.shape == (2, 0)
    index.add(np.array([7, 8]), random_unit(2))
    ids, _ = index.search(random_unit(1, seed=3), k=10)
    assert ids.shape == (1, 2) and set(ids[0]) == {7, 8}


def test_readding_an_id_replaces_its_vector():
    vecs = random_unit(20)
    index = VectorIndex(DIM)
    index.add(np.arange(20), vecs)
    new = random_unit(1, seed=99)
    index.add(np.array([5]), new)
    assert len(index) == 20
    ids, sims = index.search(new, k=1)
    assert ids[0, 0] == 5 and sims[0, 0] == pytest.approx(1.0, abs=1e-5)
    ids, _ = index.search(vecs[5:6], k=1)
    assert ids[0, 0] != 5 or np.allclose(vecs[5], new[0])


def test_duplicate_ids_in_one_call_last_wins():
    vecs = random_unit(3)
    index = VectorIndex(DIM)
    index.add(np.array([1, 1, 2]), vecs)
    assert len(index) == 2
    assert index.search(vecs[1:2], k=1)[0][0, 0] == 1


def test_delete_hides_ids_and_readd_restores():
    vecs = random_unit(30)
    index = VectorIndex(DIM)
    index.add(np.arange(30), vecs)
    index.delete([3, 4, 12345])  # unknown ids are ignored
    assert len(index) == 28 and 3 not in index
    ids, _ = index.search(vecs[3:5], k=28)
    assert not ({3, 4} & set(ids.ravel().tolist()))
    assert list(index.ids()) == [i for i in range(30) if i not in (3, 4)]
    index.add(np.array([3]), vecs[3:4])
    assert 3 in index and index.search(vecs[3:4], k=1)[0][0, 0] == 3


def test_deleted_slots_are_reused_so_churn_does_not_grow():
    index = VectorIndex(DIM, capacity=64)
    next_id = 0
    for round_ in range(20):
        batch = np.arange(next_id, next_id + 50)
        index.add(batch, random_unit(50, seed=round_))
        if round_:
            index.delete(batch - 50)  # the previous round's ids disappear, like files removed from a folder
        next_id += 50
    assert len(index) == 50
    assert index.slots_used <= 100  # bounded by the peak live count, not by 1000 adds
    assert index.capacity <= 128
    ids, _ = index.search(random_unit(1, seed=19), k=50)
    assert set(ids[0].tolist()) == set(range(950, 1000))


def test_filtered_search_only_returns_allowed_ids():
    vecs = random_unit(200)
    index = VectorIndex(DIM)
    index.add(np.arange(200), vecs)
    ids, sims = index.search(vecs[:5], k=10, allowed=lambda i: i % 2 == 0)
    assert (ids % 2 == 0).all() and ids.shape == (5, 10)
    truth, _ = exact_top_k(vecs[:5], vecs[::2], np.arange(0, 200, 2), 10)
    assert recall_at_k(ids, truth) >= 0.9


def test_narrow_filter_falls_back_to_exact_and_pads():
    vecs = random_unit(300)
    index = VectorIndex(DIM)
    index.add(np.arange(300), vecs)
    allowed = {17, 230}
    ids, sims = index.search(vecs[:2], k=5, allowed=allowed.__contains__)
    assert ids.shape == (2, 5)
    for row in range(2):
        assert set(ids[row, :2].tolist()) == allowed
        assert list(ids[row, 2:]) == [-1, -1, -1] and np.isneginf(sims[row, 2:]).all()
        expected = sorted((float(vecs[row] @ vecs[i]) for i in allowed), reverse=True)
        np.testing.assert_allclose(sims[row, :2], expected, atol=1e-5)


def test_bad_input_is_refused():
    index = VectorIndex(DIM)
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), random_unit(3))
    with pytest.raises(ValueError):
        index.add(np.array([-1]), random_unit(1))
    with pytest.raises(ValueError):
        index.add(np.array([1]), np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, DIM + 1), np.float32), k=1)


def test_save_load_roundtrip_keeps_ids_deletes_and_ef(tmp_path):
    vecs = random_unit(100)
    index = VectorIndex(DIM)
    index.add(np.arange(100), vecs)
    index.delete([10, 11])
    index.ef = 77
    path = tmp_path / "lib" / "vectors.hnsw"
    index.save(path, stamp(3))
    assert path.is_file() and stamp_path(path).is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    loaded = VectorIndex.load(path, stamp(3))
    assert loaded is not None and len(loaded) == 98 and 10 not in loaded and loaded.ef == 77
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    a, _ = index.search(vecs[:5], k=5)
    b, _ = loaded.search(vecs[:5], k=5)
    np.testing.assert_array_equal(a, b)
    loaded.add(np.array([500]), vecs[10:11])  # a loaded index still reuses deleted slots
    assert loaded.slots_used == 100


def test_load_returns_none_for_missing_stale_or_corrupt(tmp_path):
    path = tmp_path / "vectors.hnsw"
    assert VectorIndex.load(path, stamp()) is None
    index = VectorIndex(DIM)
    index.add(np.arange(10), random_unit(10))
    index.save(path, stamp(5))
    assert VectorIndex.load(path, stamp(6)) is None  # catalog moved on
    assert VectorIndex.load(path, IndexStamp("other-model", DIM, "ip", 5)) is None
    assert VectorIndex.load(path, stamp(5)) is not None
    path.write_bytes(path.read_bytes()[:100])  # truncated by a crash or a full disk
    assert VectorIndex.load(path, stamp(5)) is None
    index.save(path, stamp(5))
    stamp_path(path).write_text("{not json")
    assert VectorIndex.load(path, stamp(5)) is None
    index.save(path, stamp(5))
    stamp_path(path).unlink()  # a crash between the index replace and the stamp write
    assert VectorIndex.load(path, stamp(5)) is None


def test_save_refuses_a_stamp_for_another_shape(tmp_path):
    index = VectorIndex(DIM)
    with pytest.raises(ValueError):
        index.save(tmp_path / "x.hnsw", stamp(dim=DIM + 1))


def test_tune_ef_reaches_target_recall():
    vecs = low_rank_vectors(3000, dim=64, latent=12, seed=1)
    index = VectorIndex(64, M=8, ef_construction=60)
    index.add(np.arange(3000), vecs)
    ef = index.tune_ef(target_recall=0.95, sample=100)
    assert index.ef == ef >= 10
    queries = low_rank_vectors(100, dim=64, latent=12, seed=2)
    truth, _ = exact_top_k(queries, vecs, np.arange(3000), 10)
    found, _ = index.search(queries, k=10)
    assert recall_at_k(found, truth) >= 0.9
    # Handing over the vectors (as the library can, right after a rebuild) tunes to the same ef, faster.
    assert index.tune_ef(target_recall=0.95, sample=100, reference=(np.arange(3000), vecs)) == ef
    with pytest.raises(ValueError):
        index.tune_ef(reference=(np.arange(10), vecs[:10]))


def test_concurrent_searches_during_adds_stay_consistent():
    vecs = random_unit(2000, seed=4)
    index = VectorIndex(DIM, capacity=16)
    index.add(np.arange(100), vecs[:100])
    errors: list[BaseException] = []

    def searcher():
        try:
            for _ in range(200):
                ids, _ = index.search(vecs[:4], k=5)
                assert ids.shape[1] == 5 and (ids >= 0).all()
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(100, 2000, 100):  # forces several resizes while searches run
        index.add(np.arange(start, start + 100), vecs[start : start + 100])
    for t in threads:
        t.join()
    assert not errors and len(index) == 2000


def test_recall_at_10_on_20k_low_intrinsic_dim_vectors():
    n, dim = 20_000, 128
    vecs = low_rank_vectors(n, dim=dim, latent=24, seed=0)
    queries = low_rank_vectors(200, dim=dim, latent=24, seed=1)
    index = VectorIndex(dim, capacity=n, M=16, ef_construction=100)
    index.add(np.arange(n), vecs)
    index.ef = 128
    found, _ = index.search(queries, k=10)
    truth, _ = exact_top_k(queries, vecs, np.arange(n), 10)
    assert recall_at_k(found, truth) >= 0.95


@pytest.mark.slow
def test_tuned_ef_gives_095_recall_on_20k_768d_vectors():
    n, dim = 20_000, 768
    vecs = low_rank_vectors(n, dim=dim, seed=0)
    index = VectorIndex(dim, capacity=n, M=16, ef_construction=100)
    index.add(np.arange(n), vecs)
    index.tune_ef(target_recall=0.95, sample=200)
    queries = low_rank_vectors(300, dim=dim, seed=7)
    truth, _ = exact_top_k(queries, vecs, np.arange(n), 10)
    assert recall_at_k(index.search(queries, k=10)[0], truth) >= 0.95


def test_a_failed_save_never_leaves_a_wrongly_stamped_index(tmp_path, monkeypatch):
    path = tmp_path / "vectors.hnsw"
    old = VectorIndex(DIM)
    old.add(np.arange(10), random_unit(10))
    old.save(path, stamp(1))
    new = VectorIndex(DIM)
    new.add(np.arange(10, 20), random_unit(10, seed=1))

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("engine.fileio.os.replace", crash)
    with pytest.raises(OSError):
        new.save(path, stamp(2))
    monkeypatch.undo()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert VectorIndex.load(path, stamp(2)) is None  # the new state was never written
    assert VectorIndex.load(path, stamp(1)) is None  # and the old file is no longer trusted: rebuild


def test_readding_live_and_deleted_ids_never_duplicates_them():
    # hnswlib would put a re-added label into a vacant slot and keep its old slot too; the wrapper must not.
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(8, capacity=64)
    index.add(np.arange(40), vectors)
    index.delete(np.arange(0, 10))  # ten vacant slots
    index.add(np.arange(10, 20), vectors[10:20][::-1].copy())  # live ids, new vectors: updated in place
    index.add(np.arange(0, 5), vectors[:5])  # deleted ids come back
    index.add(np.arange(100, 105), vectors[5:10])  # new ids take the remaining vacant slots
    assert len(index) == 40 and index.slots_used == 40  # 30 live + 5 back + 5 new, all in the original slots
    ids, sims = index.search(vectors[10:20][::-1], k=3)
    assert (ids[:, 0] == np.arange(10, 20)).all()  # each updated vector finds its own id first
    assert np.allclose(sims[:, 0], 1.0, atol=1e-4)
    all_ids, _ = index.search(vectors, k=40)
    for row in all_ids:
        assert len(set(row.tolist())) == len(row)  # no id twice in one result list
