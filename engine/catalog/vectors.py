"""Reading stored vectors back in chunks: for rebuilding the index and for exact (filtered) search.

A stored vector is checked as it is read: one of the wrong length or with NaN/infinity (a damaged page, a model
bug in an older version) is skipped and reported through `on_bad`, so it can never stop a rebuild; the library
quarantines it and encodes the image again. Vectors already quarantined are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog.chunks import chunked

_CHUNK = 20_000
_JOIN = (
    "SELECT f.id, v.content_sha256, v.data FROM figures f JOIN vectors v ON v.content_sha256 = f.content_sha256 "
    "WHERE f.content_sha256 NOT IN (SELECT content_sha256 FROM quarantined_vectors)"
)
_BY_IDS = text(f"{_JOIN} AND f.id IN :ids").bindparams(bindparam("ids", expanding=True))
_DUPLICATES = (
    "SELECT id, content_sha256 FROM figures WHERE content_sha256 IN "
    "(SELECT content_sha256 FROM figures GROUP BY content_sha256 HAVING COUNT(*) > 1) ORDER BY content_sha256, id"
)
_SHAS_OF = text("SELECT id, content_sha256 FROM figures WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
_SHARING = text("SELECT id, content_sha256 FROM figures WHERE content_sha256 IN :shas").bindparams(
    bindparam("shas", expanding=True)
)


@dataclass(frozen=True)
class BadVector:
    figure_id: int
    content_sha256: str
    reason: str


def iter_figure_vectors(
    sessions: sessionmaker[Session],
    dim: int,
    figure_ids: list[int] | None = None,
    on_bad: Callable[[BadVector], None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids int64 [n], vectors float32 [n, dim]) in chunks, for all figures or the given ones; bad rows skipped."""
    with sessions() as session:
        if figure_ids is None:
            yield from _chunks(session.execute(text(_JOIN)), dim, on_bad)
            return
        for part in chunked(figure_ids):
            yield from _chunks(session.execute(_BY_IDS, {"ids": [int(i) for i in part]}), dim, on_bad)


def vector_problem(blob: bytes, dim: int) -> tuple[np.ndarray | None, str | None]:
    """(vector, None) for a usable stored vector, else (None, why)."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) != 4 * dim:
        size = len(blob) if isinstance(blob, bytes | bytearray | memoryview) else type(blob).__name__
        return None, f"has {size} bytes, not {4 * dim}"
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32, copy=False)
    if not np.isfinite(vector).all():
        return None, "holds NaN or infinity"
    return vector, None


def _chunks(
    rows: Iterable, dim: int, on_bad: Callable[[BadVector], None] | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for figure_id, sha, blob in rows:
        vector, why = vector_problem(blob, dim)
        if vector is None:
            if on_bad is not None:
                on_bad(BadVector(figure_id, sha, why))
            continue
        ids.append(figure_id)
        vectors.append(vector)
        if len(ids) >= _CHUNK:
            yield np.asarray(ids, dtype=np.int64), np.stack(vectors)
            ids, vectors = [], []
    if ids:
        yield np.asarray(ids, dtype=np.int64), np.stack(vectors)


def duplicate_groups(session: Session) -> dict[int, int]:
    """alias → lead for every figure whose content another figure shares (the lead: the smallest id)."""
    lead_of: dict[int, int] = {}
    current_sha, lead = None, None
    for figure_id, sha in session.execute(text(_DUPLICATES)):
        if sha != current_sha:
            current_sha, lead = sha, figure_id
        else:
            lead_of[figure_id] = lead
    return lead_of


def content_of(session: Session, figure_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in chunked(figure_ids):
        out.update((row[0], row[1]) for row in session.execute(_SHAS_OF, {"ids": [int(i) for i in part]}))
    return out


def figures_sharing(session: Session, shas: list[str]) -> dict[str, list[int]]:
    """sha → every figure id with that content, smallest first."""
    out: dict[str, list[int]] = {}
    for part in chunked(shas):
        for figure_id, sha in session.execute(_SHARING, {"shas": list(part)}):
            out.setdefault(sha, []).append(figure_id)
    return {sha: sorted(ids) for sha, ids in out.items()}


def figure_vectors_with_content(
    sessions: sessionmaker[Session], dim: int, figure_ids: list[int]
) -> tuple[list[int], list[str], np.ndarray]:
    """(ids, content hashes, vectors float32 [n, dim]) of the given figures, in one query per chunk of ids: what
    ranking needs to score candidates and to show each image once. Unusable or quarantined vectors are left out."""
    ids: list[int] = []
    shas: list[str] = []
    vectors: list[np.ndarray] = []
    with sessions() as session:
        for part in chunked(figure_ids):
            for figure_id, sha, blob in session.execute(_BY_IDS, {"ids": [int(i) for i in part]}):
                vector, _problem = vector_problem(blob, dim)
                if vector is not None:
                    ids.append(figure_id)
                    shas.append(sha)
                    vectors.append(vector)
    return ids, shas, (np.stack(vectors) if vectors else np.zeros((0, dim), np.float32))
