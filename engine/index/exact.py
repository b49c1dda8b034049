"""Exact (brute-force) inner-product top-k: the ground truth for recall, and the fallback for narrow filters."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int, *, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of `queries @ vectors.T`, best first: (ids [Q, k'] int64, scores [Q, k'] float32), k' = min(k, N).

    Works through `vectors` in chunks so a 1M x 768 matrix never needs a 1M x Q score matrix at once.
    """
    ids = np.asarray(ids, dtype=np.int64)
    blocks = ((ids[s : s + chunk], vectors[s : s + chunk]) for s in range(0, len(ids), chunk))
    return exact_top_k_blocks(queries, blocks, k)


def exact_top_k_blocks(
    queries: np.ndarray, blocks: Iterable[tuple[np.ndarray, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Like `exact_top_k` over (ids, vectors) blocks fetched lazily (e.g. from an index's stored vectors)."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    q = len(queries)
    best_scores = np.full((q, 0), -np.inf, dtype=np.float32)
    best_ids = np.empty((q, 0), dtype=np.int64)
    for block_ids_1d, block_vectors in blocks:
        if len(block_ids_1d) == 0 or k <= 0:
            continue
        block = np.asarray(block_vectors, dtype=np.float32)
        scores = queries @ block.T
        block_ids = np.broadcast_to(np.asarray(block_ids_1d, dtype=np.int64), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, block_ids], axis=1)
        keep = min(k, all_scores.shape[1])
        part = np.argpartition(-all_scores, keep - 1, axis=1)[:, :keep]
        best_scores = np.take_along_axis(all_scores, part, axis=1)
        best_ids = np.take_along_axis(all_ids, part, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, axis=1), np.take_along_axis(best_scores, order, axis=1)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of `truth` that appears in the same row of `found`."""
    if truth.size == 0:
        return 1.0
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size
