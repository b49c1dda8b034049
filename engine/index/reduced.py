"""The pieces of a dimension-reduced ANN index: a projection fitted on the library, and the full vectors kept for
an exact re-rank.

The graph is walked over `reduced_dim`-dimensional projections (a few times fewer multiply-adds per distance,
which is what a query spends its time on, on AVX2 and AVX-512 alike); its `ef` best candidates are then
re-scored exactly against the stored full vectors and the top k returned. The projection is not centred: for
unit vectors x, q and the top right-singular vectors V of the library's vectors, <Vᵀx, Vᵀq> approximates <x, q>
itself (centring would add a per-vector term and break that). Recall is measured after the re-rank, so
`VectorIndex.tune_ef` picks the ef that makes up for what the projection drops.

The full vectors are held in float16: a re-ranked similarity is then within ~1e-4 of the float32 one (unit
vectors; measured in tests/engine/index/test_reduced_index.py), far below any gap a ranking turns on, and the
index takes ≈0.7x the memory of the raw float32 vectors. With float32 copies it measured 1.18x at 1M vectors
(bench/ann.py: 3072 bytes of vector + 192 of projection + 140 of graph links and label + hnswlib's and Python's
per-element bookkeeping of ≈150 bytes), over the 1.15x budget.
"""

from __future__ import annotations

import functools

import numpy as np

FIT_SAMPLE = 50_000  # vectors a projection is fitted on (more changes nothing measurable)


def fit_projection(sample: np.ndarray, reduced_dim: int) -> np.ndarray:
    """[dim, reduced_dim] float32: the top right-singular vectors of `sample` (uncentred)."""
    sample = np.asarray(sample, dtype=np.float32)
    if sample.ndim != 2 or len(sample) < reduced_dim:
        raise ValueError(f"a {reduced_dim}-d projection needs at least {reduced_dim} sample vectors, not {len(sample)}")
    # The eigenvectors of the dim x dim second-moment matrix: cheaper than an SVD of the sample, same subspace.
    moment = sample.T.astype(np.float64) @ sample.astype(np.float64)
    _values, vectors = np.linalg.eigh(moment)
    return np.ascontiguousarray(vectors[:, ::-1][:, :reduced_dim], dtype=np.float32)


class FullVectors:
    """Full vectors by integer id, in one preallocated matrix; rows of deleted ids are reused.

    `row_of` is a dense id -> row array (catalog ids are small, growing integers), 4 bytes per id, where a dict
    would cost ~100 bytes per vector. Rows beyond those written are never touched, so they take no memory.
    """

    def __init__(self, dim: int, capacity: int, dtype: type = np.float16):
        self.dim = dim
        self.rows = np.empty((max(int(capacity), 16), dim), dtype=dtype)
        self.row_of = np.full(16, -1, dtype=np.int32)
        self.used = 0
        self._free: list[int] = []

    def _grow_ids(self, max_id: int) -> None:
        if max_id >= len(self.row_of):
            grown = np.full(max(max_id + 1, 2 * len(self.row_of)), -1, dtype=np.int32)
            grown[: len(self.row_of)] = self.row_of
            self.row_of = grown

    def _grow_rows(self, needed: int) -> None:
        if needed > len(self.rows):
            grown = np.empty((max(needed, 2 * len(self.rows)), self.dim), dtype=self.rows.dtype)
            grown[: self.used] = self.rows[: self.used]
            self.rows = grown

    def put(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self._grow_ids(int(ids.max()))
        rows = self.row_of[ids].astype(np.int64)
        new = np.flatnonzero(rows < 0)
        reuse = min(len(new), len(self._free))
        if reuse:
            rows[new[:reuse]] = [self._free.pop() for _ in range(reuse)]
        fresh = new[reuse:]
        if len(fresh):
            self._grow_rows(self.used + len(fresh))
            rows[fresh] = np.arange(self.used, self.used + len(fresh))
            self.used += len(fresh)
        self.rows[rows] = vectors
        self.row_of[ids] = rows

    def remove(self, ids: np.ndarray) -> None:
        for i in np.asarray(ids, dtype=np.int64).tolist():
            if 0 <= i < len(self.row_of) and self.row_of[i] >= 0:
                self._free.append(int(self.row_of[i]))
                self.row_of[i] = -1

    def get(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """float32 [len(ids), dim]."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.rows[self.row_of[ids]]
        if rows.dtype == np.float16:
            # numpy's float16 cast converts one value at a time: 0.27 ms for the 192 candidates a 1M library
            # re-ranks, a third of the query. A lookup in a 256 KB table of every float16 value is exact and
            # takes half that.
            return np.take(_float16_table(), rows.view(np.uint16))
        return rows.astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        ids = np.flatnonzero(self.row_of >= 0)
        return {"ids": ids.astype(np.int64), "vectors": self.rows[self.row_of[ids]]}

    @classmethod
    def from_arrays(cls, ids: np.ndarray, vectors: np.ndarray) -> FullVectors:
        store = cls(vectors.shape[1], len(ids), dtype=vectors.dtype.type)
        store.put(ids, vectors)
        return store


@functools.cache
def _float16_table() -> np.ndarray:
    """float32 value of every float16 bit pattern, indexed by the pattern."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
