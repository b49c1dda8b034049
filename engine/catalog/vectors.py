"""Reading stored vectors back in chunks: for rebuilding the index and for exact (filtered) search."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog.chunks import chunked
from engine.catalog.db import blob_to_vector

_CHUNK = 20_000
_JOIN = "SELECT f.id, v.data FROM figures f JOIN vectors v ON v.content_sha256 = f.content_sha256"
_BY_IDS = text(f"{_JOIN} WHERE f.id IN :ids").bindparams(bindparam("ids", expanding=True))
_WITH_CONTENT = text(
    "SELECT f.id, f.content_sha256, v.data FROM figures f JOIN vectors v ON v.content_sha256 = f.content_sha256 "
    "WHERE f.id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def iter_figure_vectors(
    sessions: sessionmaker[Session], dim: int, figure_ids: list[int] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids int64 [n], vectors float32 [n, dim]) in chunks, for all figures or the given ones."""
    with sessions() as session:
        if figure_ids is None:
            yield from _chunks(session.execute(text(_JOIN)), dim)
            return
        for part in chunked(figure_ids):
            yield from _chunks(session.execute(_BY_IDS, {"ids": [int(i) for i in part]}), dim)


def _chunks(rows: Iterable, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for figure_id, blob in rows:
        ids.append(figure_id)
        vectors.append(blob_to_vector(blob, dim))
        if len(ids) >= _CHUNK:
            yield np.asarray(ids, dtype=np.int64), np.stack(vectors)
            ids, vectors = [], []
    if ids:
        yield np.asarray(ids, dtype=np.int64), np.stack(vectors)


def figure_vectors_with_content(
    sessions: sessionmaker[Session], dim: int, figure_ids: list[int]
) -> tuple[list[int], list[str], np.ndarray]:
    """(ids, content hashes, vectors float32 [n, dim]) of the given figures, in one query per chunk of ids: what
    ranking needs to score candidates and to show each image once."""
    ids: list[int] = []
    shas: list[str] = []
    vectors: list[np.ndarray] = []
    with sessions() as session:
        for part in chunked(figure_ids):
            for figure_id, sha, blob in session.execute(_WITH_CONTENT, {"ids": [int(i) for i in part]}):
                ids.append(figure_id)
                shas.append(sha)
                vectors.append(blob_to_vector(blob, dim))
    return ids, shas, (np.stack(vectors) if vectors else np.zeros((0, dim), np.float32))
