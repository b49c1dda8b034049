"""`VectorIndex`: an hnswlib HNSW graph keyed by int64 catalog ids, with deletes that free slots for reuse.

Thread-safety: hnswlib searches may run concurrently, but add, delete, resize and ef changes may not run beside
anything. A readers-writer lock enforces that: `search`, `ids`, `save` are readers; `add`, `delete`, `tune_ef`
and setting `ef` are writers. A resize therefore never moves memory under a running query.

Reduced mode (`reduced_dim`, "ip" space only): the graph holds projections of the vectors onto the library's top
`reduced_dim` directions and each query's `ef` candidates are re-ranked exactly with the full vectors, kept beside
the graph in float16 (engine/index/reduced.py). Similarities are then the full inner products (within ~1e-4).

Similarity: for the "ip" and "cosine" spaces hnswlib returns the distance 1 - <q, x>, so the similarity handed back
is 1 - distance (the cosine similarity when vectors are L2-normalised, as the encoders guarantee). For "l2" it is
the negated squared distance, so "bigger is better" still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import hnswlib
import numpy as np

from engine.fileio import atomic_output, file_crc32
from engine.index.exact import exact_top_k_blocks, recall_at_k
from engine.index.reduced import FullVectors, fit_projection
from engine.index.rwlock import ReadWriteLock
from engine.index.stamp import IndexStamp, read_stamp, stamp_path, write_stamp

logger = logging.getLogger(__name__)

SPACES = ("ip", "cosine", "l2")
_EF_LADDER = (10, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512, 768, 1024)
_FETCH_CHUNK = 8192  # stored vectors fetched per get_items call during exact scans


class VectorIndex:
    def __init__(
        self,
        dim: int,
        *,
        space: str = "ip",
        capacity: int = 1024,
        M: int = 16,
        ef_construction: int = 200,
        reduced_dim: int | None = None,
        projection: np.ndarray | None = None,
    ) -> None:
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, not {space!r}")
        if dim <= 0:
            raise ValueError(f"dim must be positive, not {dim}")
        if reduced_dim is not None and (space != "ip" or not 0 < reduced_dim < dim):
            raise ValueError(f"reduced_dim needs the ip space and 0 < reduced_dim < {dim}, not {reduced_dim}")
        self.dim = dim
        self.space = space
        self.reduced_dim = reduced_dim
        self._projection = None if projection is None else np.asarray(projection, dtype=np.float32)
        self._full = FullVectors(dim, capacity) if reduced_dim else None
        self._lock = ReadWriteLock()
        self._index = hnswlib.Index(space=space, dim=reduced_dim or dim)
        # allow_replace_deleted: later adds reuse the slots of deleted ids, so add/delete churn never grows the file.
        self._index.init_index(
            max_elements=max(int(capacity), 16), ef_construction=ef_construction, M=M, allow_replace_deleted=True
        )
        self._live: set[int] = set()
        self._deleted: set[int] = set()  # labels marked deleted that hnswlib may still hold (until a slot reuse)
        self.saved_extra: dict = {}  # the stamp fields of the file this index was loaded from
        self._ef = 64
        self._index.set_ef(self._ef)

    # ------------------------------------------------------------------------------------------- size and ids

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        try:
            return int(item) in self._live  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    def ids(self) -> np.ndarray:
        with self._lock.reading():
            return np.fromiter(sorted(self._live), dtype=np.int64, count=len(self._live))

    @property
    def capacity(self) -> int:
        return int(self._index.max_elements)

    @property
    def slots_used(self) -> int:
        """Graph slots in use, live and deleted-but-not-yet-reused; bounded by the peak live count."""
        return int(self._index.element_count)

    # ------------------------------------------------------------------------------------------- writes

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors under catalog ids. Re-adding a live id replaces its vector; the last of
        duplicate ids in one call wins."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(ids_arr), self.dim):
            raise ValueError(f"vectors must have shape ({len(ids_arr)}, {self.dim}), not {vecs.shape}")
        if len(ids_arr) == 0:
            return
        if (ids_arr < 0).any():
            raise ValueError("ids must be non-negative catalog ids")
        if not np.isfinite(vecs).all():
            raise ValueError("vectors contain NaN or infinity")
        # Keep the last occurrence of each id: parallel inserts of one label would race inside hnswlib.
        _, last_rev = np.unique(ids_arr[::-1], return_index=True)
        keep = np.sort(len(ids_arr) - 1 - last_rev)
        ids_arr, vecs = ids_arr[keep], np.ascontiguousarray(vecs[keep])
        with self._lock.writing():
            graph_vecs = self._graph_vectors_locked(vecs)
            new_count = sum(1 for i in ids_arr.tolist() if i not in self._live)
            needed = max(self.slots_used, len(self._live) + new_count)
            if needed > self.capacity:
                new_capacity = max(needed, 2 * self.capacity)
                logger.debug("resizing index %d -> %d", self.capacity, new_capacity)
                self._index.resize_index(new_capacity)
            self._add_locked(ids_arr, graph_vecs)
            if self._full is not None:
                self._full.put(ids_arr, vecs)
            self._live.update(ids_arr.tolist())

    def _graph_vectors_locked(self, vecs: np.ndarray) -> np.ndarray:
        """What the graph stores: the vectors, or (reduced mode) their projections, fitted on the first batch
        when `fit_projection` was not called."""
        if self.reduced_dim is None:
            return vecs
        if self._projection is None:
            self._projection = fit_projection(vecs, self.reduced_dim)
        return np.ascontiguousarray(vecs @ self._projection)

    def fit_projection(self, sample: np.ndarray) -> None:
        """Reduced mode: fit the projection on `sample` (e.g. the library's vectors) before the first add."""
        with self._lock.writing():
            if self._live or self._deleted:
                raise ValueError("the projection must be fitted before vectors are added")
            self._projection = fit_projection(sample, int(self.reduced_dim or 0))

    def _add_locked(self, ids_arr: np.ndarray, vecs: np.ndarray) -> None:
        # hnswlib's replace_deleted=True puts a label into a vacant slot even when the label already has a slot of
        # its own, leaving two slots under one label (duplicate results, broken lookups later). So only labels hnswlib
        # has never seen (or has already recycled) may take vacant slots; labels it still holds are updated in place,
        # after un-deleting them when they were deleted.
        id_list = ids_arr.tolist()
        is_live = np.fromiter((i in self._live for i in id_list), dtype=bool, count=len(id_list))
        maybe_deleted = [i for i in id_list if i in self._deleted]
        still_held: set[int] = set()
        if maybe_deleted:  # rare: an id deleted and added again; ask hnswlib which labels it still holds
            still_held = {int(i) for i in self._index.get_ids_list()} & set(maybe_deleted)
            for label in still_held:
                self._index.unmark_deleted(label)
            self._deleted.difference_update(maybe_deleted)
        in_place = is_live | np.fromiter((i in still_held for i in id_list), dtype=bool, count=len(id_list))
        if in_place.any():
            self._index.add_items(vecs[in_place], ids_arr[in_place].astype(np.uint64), replace_deleted=False)
        if (~in_place).any():
            self._index.add_items(vecs[~in_place], ids_arr[~in_place].astype(np.uint64), replace_deleted=True)

    def delete(self, ids: Iterable[int] | np.ndarray) -> None:
        """Remove ids from results; their slots are reused by later adds. Unknown ids are ignored."""
        with self._lock.writing():
            for raw in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).reshape(-1):
                label = int(raw)
                if label in self._live:
                    self._index.mark_deleted(label)
                    self._live.discard(label)
                    self._deleted.add(label)
                    if self._full is not None:
                        self._full.remove(np.asarray([label]))

    # ------------------------------------------------------------------------------------------- search

    @property
    def ef(self) -> int:
        return self._ef

    @ef.setter
    def ef(self, value: int) -> None:
        with self._lock.writing():
            self._set_ef_locked(value)

    def _set_ef_locked(self, value: int) -> None:
        self._ef = max(int(value), 1)
        self._index.set_ef(self._ef)

    def search(
        self, queries: np.ndarray, k: int, allowed: Callable[[int], bool] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest ids [Q, k'] int64 and similarities [Q, k'] float32, best first; k' = min(k, len(self)).

        With `allowed`, only ids it accepts are returned; when fewer than k' are allowed, a row is padded with
        id -1 and similarity -inf. A filter too narrow for the graph walk falls back to an exact scan of the
        allowed ids, so a narrow filter returns the right answers rather than none.
        """
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries must have {self.dim} columns, not {q.shape[1]}")
        with self._lock.reading():
            k_eff = min(int(k), len(self._live))
            if k_eff <= 0 or len(q) == 0:
                return np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32)
            try:
                return self._knn_locked(q, k_eff, allowed)
            except RuntimeError:  # too few reachable (allowed) live points for this ef: answer exactly instead
                return self._exact_locked(q, k_eff, allowed)

    def _knn_locked(
        self, q: np.ndarray, k: int, allowed: Callable[[int], bool] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        # With a filter, one thread: the filter is a Python callable and would serialise on the GIL anyway.
        options = {} if allowed is None else {"num_threads": 1, "filter": allowed}
        if self.reduced_dim is None:
            labels, distances = self._index.knn_query(q, k=k, **options)
            return labels.astype(np.int64), self._similarity(distances)
        # Reduced: the ef best candidates of the projected walk, re-ranked with the full vectors.
        pool = min(max(k, self._ef), len(self._live))
        labels, _ = self._index.knn_query(np.ascontiguousarray(q @ self._projection), k=pool, **options)
        labels = labels.astype(np.int64)
        scores = np.einsum("qcd,qd->qc", self._full.get(labels.ravel()).reshape(*labels.shape, self.dim), q)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(labels, order, axis=1), np.take_along_axis(scores, order, axis=1).astype(np.float32)

    def _similarity(self, distances: np.ndarray) -> np.ndarray:
        d = np.asarray(distances, dtype=np.float32)
        return -d if self.space == "l2" else (1.0 - d)

    def _exact_locked(
        self, q: np.ndarray, k: int, allowed: Callable[[int], bool] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        candidates = sorted(self._live) if allowed is None else [i for i in sorted(self._live) if allowed(i)]
        found_ids, scores = exact_top_k_blocks(q, self._stored_blocks(candidates), k)
        if self.space == "cosine":  # stored vectors are normalised by hnswlib; normalise queries to match
            norms = np.linalg.norm(q, axis=1, keepdims=True)
            scores = scores / np.where(norms > 0, norms, 1.0)
        elif self.space == "l2":
            found_ids, scores = self._l2_rescore(q, found_ids)
        pad = k - found_ids.shape[1]
        if pad > 0:
            found_ids = np.pad(found_ids, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        return found_ids.astype(np.int64), scores.astype(np.float32)

    def _l2_rescore(self, q: np.ndarray, found_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Rare path (l2 space and a failed graph walk): rank by squared distance over the inner-product shortlist.
        scores = np.empty(found_ids.shape, dtype=np.float32)
        for row, ids_row in enumerate(found_ids):
            vecs = self._fetch(ids_row.tolist())
            scores[row] = -((vecs - q[row]) ** 2).sum(axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")
        return np.take_along_axis(found_ids, order, axis=1), np.take_along_axis(scores, order, axis=1)

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of live ids, [n, dim] float32 (as hnswlib holds them)."""
        with self._lock.reading():
            return self._fetch([int(i) for i in ids])

    def _fetch(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.empty((0, self.dim), np.float32)
        if self._full is not None:
            return self._full.get(ids)
        return np.asarray(self._index.get_items(ids), dtype=np.float32).reshape(len(ids), self.dim)

    def _stored_blocks(self, ids: list[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(ids), _FETCH_CHUNK):
            chunk = ids[start : start + _FETCH_CHUNK]
            yield np.asarray(chunk, dtype=np.int64), self._fetch(chunk)

    def tune_ef(
        self,
        target_recall: float = 0.95,
        sample: int = 200,
        *,
        k: int = 10,
        seed: int = 0,
        reference: tuple[np.ndarray, np.ndarray] | None = None,
        mix: tuple[float, ...] | None = None,
    ) -> int:
        """Pick the smallest ef whose recall@k against exact search reaches `target_recall`, set it, return it.

        Queries are normalised sums of 3 random stored vectors (`sample` of them). A stored vector itself would be
        a poor query: the graph walk lands on its own node and finds its neighbours too easily (3k low-rank vectors:
        recall 0.95 at ef 10 where fresh queries needed ef 32). Measured on 10k and 30k low-rank 768-d vectors,
        3-vector mixes track fresh queries' recall within 0.02 and err low (the safe side); 2-vector midpoints
        erred high. Holds the write lock throughout: searches wait.

        `mix`: the weights of the stored vectors summed into a query: by default (1, 1, 1), and (1, 0.75) in reduced
        mode, where even-handed mixes are much harder than fresh queries and grow harder with the library. Measured
        on low-rank 768-d vectors (fresh-query recall at the ef chosen for 0.95): at 100k, 3-vector mixes chose 160
        (0.994), (1, 1) and (1, 0.75) chose 96 (0.971); at 1M, (1, 1) chose 384 (0.994, where 192 reaches 0.973),
        (1, 0.75) chose 192 (0.973, 0.86 ms), (1, 0.5) 128 (0.937: too low).

        `reference=(ids, vectors)`: the vectors just added, when the caller still holds them. Exact search then
        reads them directly; otherwise it reads them back from hnswlib, whose get_items is slow (≈0.1 ms per
        768-d vector here: 133 s of a 1M-vector tuning). They must be exactly the index's live contents.
        """
        weights = np.asarray(mix or ((1.0, 0.75) if self.reduced_dim else (1.0, 1.0, 1.0)), dtype=np.float32)
        count = len(weights)
        with self._lock.writing():
            live = sorted(self._live)
            if len(live) <= 1:
                return self._ef
            k = min(k, len(live))
            rng = np.random.default_rng(seed)
            live_arr = np.asarray(live, dtype=np.int64)
            if reference is not None:
                ref_ids = np.asarray(reference[0], dtype=np.int64).reshape(-1)
                ref_vecs = np.asarray(reference[1], dtype=np.float32)
                if len(ref_ids) != len(live) or ref_vecs.shape != (len(ref_ids), self.dim):
                    raise ValueError("reference must hold exactly the index's live ids and their vectors")
                rows = rng.integers(0, len(ref_ids), size=(min(sample, len(live)), count))
                queries = np.einsum("qmd,m->qd", ref_vecs[rows], weights)
                step = 65536  # bounds the [sample, step] score matrix
                blocks = ((ref_ids[i : i + step], ref_vecs[i : i + step]) for i in range(0, len(ref_ids), step))
            else:
                mixes = rng.choice(live_arr, size=(min(sample, len(live)), count))
                queries = sum(weights[j] * self._fetch(mixes[:, j].tolist()) for j in range(count))
                blocks = self._stored_blocks(live)
            if self.space == "l2":
                queries /= float(weights.sum())
            else:
                norms = np.linalg.norm(queries, axis=1, keepdims=True)
                queries /= np.where(norms > 0, norms, 1.0)
            truth, _ = exact_top_k_blocks(queries, blocks, k)
            if self.space == "l2":
                truth, _ = self._l2_rescore(queries, truth)  # shortlist only: good enough for an ef choice
            chosen, recall = _EF_LADDER[-1], 0.0
            for ef in _EF_LADDER:
                if ef < k:
                    continue
                self._set_ef_locked(ef)  # the reduced walk's candidate pool follows ef too
                try:
                    labels, _ = self._knn_locked(queries, k)
                except RuntimeError:
                    continue
                recall = recall_at_k(labels.astype(np.int64), truth)
                if recall >= target_recall:
                    chosen = ef
                    break
            else:
                logger.warning("ef %d reaches only recall@%d %.3f < %.3f", chosen, k, recall, target_recall)
            self._set_ef_locked(chosen)
            logger.info("tuned ef=%d (recall@%d %.3f on %d queries, %d vectors)", chosen, k, recall, len(queries),
                        len(live))
            return chosen

    # ------------------------------------------------------------------------------------------- persistence

    def save(self, path: Path, stamp: IndexStamp, extra: dict | None = None) -> None:
        """Write the index atomically (temp file + os.replace) and its stamp beside it; `extra` goes in the stamp.

        The old stamp is removed first and the new one written last, so a crash at any point leaves either a
        complete, correctly stamped pair or an index `load` refuses (and the library rebuilds). The stamp carries
        the file's size and CRC-32, checked before the next load hands the file to hnswlib.
        """
        path = Path(path)
        if stamp.dim != self.dim or stamp.space != self.space:
            raise ValueError(f"stamp {stamp} does not describe this index (dim {self.dim}, space {self.space})")
        with self._lock.reading():
            stamp_path(path).unlink(missing_ok=True)
            with atomic_output(path) as tmp:
                self._index.save_index(str(tmp))
                size, crc = tmp.stat().st_size, file_crc32(tmp)
            deleted = sorted(set(int(i) for i in self._index.get_ids_list()) - self._live)
            # Labels hnswlib has recycled since are no longer held: forget them (writers are excluded meanwhile),
            # or add/remove churn would grow this set without bound.
            self._deleted = set(deleted)
            fields = {"bytes": size, "crc32": crc, "count": len(self._live), "ef": self._ef, "deleted": deleted}
            if self._full is not None:
                with atomic_output(full_vectors_path(path)) as tmp:
                    with open(tmp, "wb") as handle:
                        np.savez(handle, projection=self._projection, **self._full.to_arrays())
                    full_size, full_crc = tmp.stat().st_size, file_crc32(tmp)
                fields.update(reduced_dim=self.reduced_dim, full_bytes=full_size, full_crc32=full_crc)
        write_stamp(path, stamp, {**(extra or {}), **fields})

    @classmethod
    def load(cls, path: Path, expected: IndexStamp) -> VectorIndex | None:
        """The saved index when its stamp equals `expected`; None when missing, stale or corrupt (rebuild it).

        The stamp's extra fields are kept on the result as `saved_extra`.
        """
        path = Path(path)
        found = read_stamp(path)
        if found is None or not path.is_file():
            return None
        stamp, extra = found
        if stamp != expected:
            logger.info("index %s is stale (%s, expected %s)", path, stamp, expected)
            return None
        try:
            if not _file_matches(path, int(extra["bytes"]), int(extra["crc32"])):
                return None
            obj = cls.__new__(cls)
            obj.dim, obj.space, obj._lock = expected.dim, expected.space, ReadWriteLock()
            obj.reduced_dim = int(extra["reduced_dim"]) if extra.get("reduced_dim") else None
            obj._index = hnswlib.Index(space=expected.space, dim=obj.reduced_dim or expected.dim)
            obj._index.load_index(str(path), allow_replace_deleted=True)
            deleted = {int(i) for i in extra.get("deleted", [])}
            obj._live = {int(i) for i in obj._index.get_ids_list()} - deleted
            obj._deleted = deleted
            obj._projection, obj._full = None, None
            if obj.reduced_dim and not obj._load_full_vectors(path, extra):
                return None
            if len(obj._live) != int(extra["count"]):
                logger.warning("index %s holds %d ids, its stamp says %d; ignoring it", path, len(obj._live),
                               extra["count"])
                return None
            obj._ef = 64
            obj._set_ef_locked(int(extra.get("ef", 64)))  # hnswlib does not persist ef: set it after every load
            obj.saved_extra = extra
        except (RuntimeError, OSError, ValueError, KeyError, TypeError, MemoryError) as e:
            logger.warning("cannot load index %s (%s); it will be rebuilt", path, e)
            return None
        return obj

    def _load_full_vectors(self, path: Path, extra: dict) -> bool:
        full_path = full_vectors_path(path)
        if not _file_matches(full_path, int(extra["full_bytes"]), int(extra["full_crc32"])):
            return False
        with np.load(full_path, allow_pickle=False) as data:
            ids, vectors = data["ids"], np.asarray(data["vectors"])
            self._projection = np.asarray(data["projection"], dtype=np.float32)
        if set(ids.tolist()) != self._live or vectors.shape != (len(ids), self.dim):
            logger.warning("%s does not hold the index's vectors; ignoring the index", full_path)
            return False
        self._full = FullVectors.from_arrays(ids, vectors)
        return True


def _file_matches(path: Path, size: int, crc: int) -> bool:
    """Size and CRC-32 as stamped: hnswlib trusts the offsets in its file and can segfault on a garbled one."""
    if path.stat().st_size != size:
        logger.warning("index file %s has the wrong size for its stamp; ignoring it", path)
        return False
    if file_crc32(path) != crc:
        logger.warning("index file %s does not match its checksum (garbled); ignoring it", path)
        return False
    return True


def full_vectors_path(index_path: Path) -> Path:
    """Where a reduced index keeps its full vectors and projection, beside the graph file."""
    return index_path.with_name(index_path.name + ".full.npz")
