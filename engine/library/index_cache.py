"""The hnswlib file as a cache of the catalog's vectors.

The stamp carries the library's id and the catalog generation; every commit that changes the searchable figures
bumps the generation and records it on the figures it changed (`vector_generation`). On open:
  - stamp matches, seal and file checksum hold, and the index holds as many ids as the catalog has searchable
    figures: the file is used as is;
  - same library and model, older generation (e.g. a kill -9 mid-ingest, before the index was saved): the file
    is loaded and caught up: figures changed since its generation are (re-)added, ids no longer in the catalog
    deleted;
  - missing, garbled, edited, another library's, or another model's: rebuilt from the stored vectors.
Never a single image is re-encoded to get the index back. A stored vector that is unusable (wrong length, NaN) is
skipped and quarantined, so it can never stop a rebuild; the library encodes its image again.

Figures with identical content share one graph node (`engine.index.shared`): the catalog says which.

From `REDUCED_FROM` vectors on, the index is built in reduced mode (engine/index/reduced.py): the graph walks
`REDUCED_DIM`-d projections fitted on the library and re-ranks exactly with the full vectors. Measured with
bench/ann.py on 1M low-intrinsic-dimension vectors it reaches recall@10 0.95 at well under 1 ms on one thread,
where the full-dimensional graph needs ≈1.2 ms, within 1.15x the raw vectors' memory; below that size the
full-dimensional graph is fast enough and needs no projection. A smaller index that has grown past the threshold
is rebuilt in reduced mode rather than caught up.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import BadVector, Figure, QuarantinedVector
from engine.catalog.vectors import content_of, duplicate_groups, figures_sharing, iter_figure_vectors
from engine.index import IndexStamp, VectorIndex
from engine.index.reduced import FIT_SAMPLE
from engine.index.shared import SharedVectorIndex
from engine.index.stamp import read_stamp

logger = logging.getLogger(__name__)

INDEX_FILE = "index.hnsw"
SPACE = "ip"
REDUCED_FROM = 100_000
REDUCED_DIM = 48

LOADED, CAUGHT_UP, REBUILT = "loaded", "caught up", "rebuilt"


def wants_reduced(count: int, dim: int) -> bool:
    """Whether an index of `count` vectors of `dim` dimensions belongs in reduced mode (a vector no longer than the
    projection has nothing to reduce)."""
    return count >= REDUCED_FROM and dim > REDUCED_DIM


def stamp_for(model_id: str, dim: int, generation: int, library_id: str = "") -> IndexStamp:
    return IndexStamp(model_id=model_id, dim=dim, space=SPACE, generation=generation, library=library_id)


def _load(path: Path, stamp: IndexStamp) -> SharedVectorIndex | None:
    try:
        return SharedVectorIndex.load(path, stamp)
    except Exception as e:  # a damaged cache is never fatal: it is rebuilt
        logger.warning("index file %s unreadable (%s); rebuilding", path, e)
        return None


def searchable_count(session: Session) -> int:
    """Figures the index must hold: all but those whose stored vector is quarantined."""
    quarantined = select(QuarantinedVector.content_sha256)
    query = select(func.count()).select_from(Figure).where(Figure.content_sha256.not_in(quarantined))
    return session.scalar(query) or 0


def _searchable_ids(session: Session) -> set[int]:
    quarantined = select(QuarantinedVector.content_sha256)
    return set(session.scalars(select(Figure.id).where(Figure.content_sha256.not_in(quarantined))))


def add_grouped(
    index: SharedVectorIndex, sessions: sessionmaker[Session], ids: np.ndarray, vectors: np.ndarray
) -> None:
    """Add figures' vectors; a figure whose content a figure in the index (or in this batch) has shares its node."""
    id_list = [int(i) for i in np.asarray(ids).reshape(-1)]
    with sessions() as session:
        shas = content_of(session, id_list)
        sharing = figures_sharing(session, sorted(set(shas.values())))
    batch = set(id_list)
    lead_of: dict[int, int] = {}
    for figure_id in id_list:
        group = sharing.get(shas.get(figure_id, ""), [figure_id])
        present = [g for g in group if g in index and g not in batch]
        lead = present[0] if present else min(g for g in group if g in batch)
        if lead != figure_id:
            lead_of[figure_id] = lead
    index.add(np.asarray(id_list, dtype=np.int64), vectors, lead_of)


def _catch_up(
    index: SharedVectorIndex, sessions: sessionmaker[Session], dim: int, since: int, bad: list[BadVector]
) -> None:
    with sessions() as session:
        catalog_ids = _searchable_ids(session)
        changed = set(session.scalars(select(Figure.id).where(Figure.vector_generation > since)))
    in_index = set(index.ids().tolist())
    gone = in_index - catalog_ids
    todo = sorted((changed & catalog_ids) | (catalog_ids - in_index))
    logger.info("index catching up: %d figures to add or replace, %d to delete", len(todo), len(gone))
    if gone:
        index.delete(np.asarray(sorted(gone), dtype=np.int64))
    for ids, vectors in iter_figure_vectors(sessions, dim, todo, on_bad=bad.append):
        add_grouped(index, sessions, ids, vectors)
    spoiled = [b.figure_id for b in bad if b.figure_id in index]
    if spoiled:  # the index still holds what the vector was before it went bad: it must not be found
        index.delete(np.asarray(spoiled, dtype=np.int64))


def build_from_catalog(
    sessions: sessionmaker[Session], dim: int, bad: list[BadVector] | None = None
) -> SharedVectorIndex:
    """A new, tuned index of every usable stored vector (unusable ones go to `bad`); reduced mode from
    REDUCED_FROM vectors on."""
    bad = [] if bad is None else bad
    with sessions() as session:
        count = searchable_count(session)
        lead_of = duplicate_groups(session)
    reduced = wants_reduced(count, dim)
    graph = VectorIndex(dim, space=SPACE, capacity=max(count, 1024), reduced_dim=REDUCED_DIM if reduced else None)
    id_chunks, vector_chunks = [], []
    orphans: dict[int, np.ndarray] = {}  # aliases, kept in case their lead turns out unusable
    for ids, vectors in iter_figure_vectors(sessions, dim, on_bad=bad.append):
        if reduced and not len(graph) and not orphans:  # the first chunk: fit the projection on the library
            graph.fit_projection(vectors[:FIT_SAMPLE])
        own = np.fromiter((int(i) not in lead_of for i in ids), dtype=bool, count=len(ids))
        graph.add(ids[own], vectors[own])
        if not reduced:  # a reduced index keeps the full vectors itself
            id_chunks.append(ids[own])
            vector_chunks.append(vectors[own])
        orphans.update(zip(ids[~own].tolist(), vectors[~own], strict=True))
    linked = {alias: lead for alias, lead in lead_of.items() if alias in orphans and lead in graph}
    alone = [alias for alias in orphans if alias not in linked]
    if alone:
        ids, vectors = np.asarray(alone, dtype=np.int64), np.stack([orphans[a] for a in alone])
        graph.add(ids, vectors)
        if not reduced:
            id_chunks.append(ids)
            vector_chunks.append(vectors)
    if len(graph) > 1:
        # The vectors just added are the exact-search reference: reading them back out of hnswlib is ~50x slower.
        reference = (np.concatenate(id_chunks), np.concatenate(vector_chunks)) if id_chunks else None
        graph.tune_ef(target_recall=0.95, reference=reference)
    return SharedVectorIndex(graph, linked)


def quarantine(sessions: sessionmaker[Session], bad: list[BadVector]) -> None:
    """Record unusable stored vectors, so their figures stay out of the index until their images are re-encoded."""
    reasons = {b.content_sha256: b.reason for b in bad}
    with sessions.begin() as session:
        known = set(session.scalars(select(QuarantinedVector.content_sha256)))
        for sha, reason in reasons.items():
            logger.warning("stored vector %s %s; quarantined until its image is encoded again", sha[:12], reason)
            if sha not in known:
                session.add(QuarantinedVector(content_sha256=sha, reason=reason, found_at=time.time()))


def _matches_catalog(index: SharedVectorIndex, sessions: sessionmaker[Session], skipped: int = 0) -> bool:
    """Whether the index holds as many ids as the catalog has searchable figures (`skipped`: bad, not yet
    quarantined)."""
    with sessions() as session:
        expected = searchable_count(session) - skipped
    if len(index) != expected:
        logger.warning("index holds %d ids, the catalog %d searchable figures; rebuilding", len(index), expected)
        return False
    return True


def load_or_rebuild(
    folder: Path, sessions: sessionmaker[Session], stamp: IndexStamp, *, save: bool = True
) -> tuple[SharedVectorIndex, str]:
    """The library's index, and how it was obtained: LOADED, CAUGHT_UP or REBUILT. `save` also means the catalog
    may be written (unusable vectors quarantined)."""
    path = Path(folder) / INDEX_FILE
    index = _load(path, stamp)
    if index is not None and _matches_catalog(index, sessions):
        logger.debug("loaded index %s (%d ids, ef=%d)", path, len(index), index.ef)
        return index, LOADED
    bad: list[BadVector] = []
    index, how = _caught_up(path, sessions, stamp, bad), CAUGHT_UP
    if index is None or not _matches_catalog(index, sessions, skipped=len({b.figure_id for b in bad})):
        logger.info("index %s missing, damaged or for another library or model; rebuilding from the catalog", path)
        bad = []
        index, how = build_from_catalog(sessions, stamp.dim, bad), REBUILT
    if bad and save:
        quarantine(sessions, bad)
    if save:
        index.save(path, stamp)
    return index, how


def _caught_up(path: Path, sessions: sessionmaker[Session], stamp: IndexStamp, bad: list[BadVector]):
    found = read_stamp(path)
    older = found[0] if found else None
    same_kind = older is not None and (older.model_id, older.dim, older.space, older.library) == (
        stamp.model_id, stamp.dim, stamp.space, stamp.library
    )
    if not same_kind or older.generation >= stamp.generation:
        return None
    index = _load(path, older)
    if index is not None and index.reduced_dim is None:
        with sessions() as session:
            if wants_reduced(searchable_count(session), stamp.dim):  # outgrown the full-dimensional graph: rebuild
                return None
    if index is not None:
        _catch_up(index, sessions, stamp.dim, older.generation, bad)
    return index
