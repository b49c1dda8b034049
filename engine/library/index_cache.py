"""The hnswlib file as a cache of the catalog's vectors.

The stamp carries the catalog generation; every commit that changes the searchable figures bumps it and
records it on the figures it changed (`vector_generation`). On open:
  - stamp matches: the file is used as is;
  - same model, older generation (e.g. a kill -9 mid-ingest, before the index was saved): the file is loaded
    and caught up: figures changed since its generation are (re-)added, ids no longer in the catalog deleted;
  - missing, corrupt or another model: rebuilt from the stored vectors.
Never a single image is re-encoded.

From `REDUCED_FROM` vectors on, the index is built in reduced mode (engine/index/reduced.py): the graph walks
`REDUCED_DIM`-d projections fitted on the library and re-ranks exactly with the full vectors. Measured with
bench/ann.py on 1M low-intrinsic-dimension vectors it reaches recall@10 0.95 at well under 1 ms on one thread,
where the full-dimensional graph needs ≈1.2 ms, within 1.15x the raw vectors' memory; below that size the
full-dimensional graph is fast enough and needs no projection.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Figure
from engine.catalog.vectors import iter_figure_vectors
from engine.index import IndexStamp, VectorIndex
from engine.index.reduced import FIT_SAMPLE
from engine.index.stamp import read_stamp

logger = logging.getLogger(__name__)

INDEX_FILE = "index.hnsw"
SPACE = "ip"
REDUCED_FROM = 100_000
REDUCED_DIM = 48

LOADED, CAUGHT_UP, REBUILT = "loaded", "caught up", "rebuilt"


def stamp_for(model_id: str, dim: int, generation: int) -> IndexStamp:
    return IndexStamp(model_id=model_id, dim=dim, space=SPACE, generation=generation)


def _load(path: Path, stamp: IndexStamp) -> VectorIndex | None:
    try:
        return VectorIndex.load(path, stamp)
    except Exception as e:  # a damaged cache is never fatal: it is rebuilt
        logger.warning("index file %s unreadable (%s); rebuilding", path, e)
        return None


def _catch_up(index: VectorIndex, sessions: sessionmaker[Session], dim: int, since: int) -> None:
    with sessions() as session:
        catalog_ids = set(session.scalars(select(Figure.id)))
        changed = set(session.scalars(select(Figure.id).where(Figure.vector_generation > since)))
    in_index = set(index.ids().tolist())
    gone = in_index - catalog_ids
    todo = sorted(changed | (catalog_ids - in_index))
    logger.info("index catching up: %d figures to add or replace, %d to delete", len(todo), len(gone))
    if gone:
        index.delete(np.asarray(sorted(gone), dtype=np.int64))
    for ids, vectors in iter_figure_vectors(sessions, dim, todo):
        index.add(ids, vectors)


def load_or_rebuild(
    folder: Path, sessions: sessionmaker[Session], stamp: IndexStamp, *, save: bool = True
) -> tuple[VectorIndex, str]:
    """The library's index, and how it was obtained: LOADED, CAUGHT_UP or REBUILT."""
    path = Path(folder) / INDEX_FILE
    index = _load(path, stamp)
    if index is not None:
        logger.debug("loaded index %s (%d vectors, ef=%d)", path, len(index), index.ef)
        return index, LOADED
    how = REBUILT
    found = read_stamp(path)
    older = found[0] if found else None
    if (
        older is not None
        and (older.model_id, older.dim, older.space) == (stamp.model_id, stamp.dim, stamp.space)
        and older.generation < stamp.generation
    ):
        index = _load(path, older)
        if index is not None and _rebuild_instead(index, sessions):
            index = None
        if index is not None:
            _catch_up(index, sessions, stamp.dim, older.generation)
            how = CAUGHT_UP
    if index is None:
        logger.info("index %s missing, corrupt or for another model; rebuilding from the catalog", path)
        index = build_from_catalog(sessions, stamp.dim)
    if save:
        index.save(path, stamp)
    return index, how


def _catalog_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Figure)) or 0


def _rebuild_instead(index: VectorIndex, sessions: sessionmaker[Session]) -> bool:
    """A library that has outgrown the full-dimensional graph is rebuilt in reduced mode rather than caught up."""
    return index.reduced_dim is None and _catalog_count(sessions) >= REDUCED_FROM


def build_from_catalog(sessions: sessionmaker[Session], dim: int) -> VectorIndex:
    """A new, tuned index of every stored vector: reduced mode from REDUCED_FROM vectors on."""
    count = _catalog_count(sessions)
    reduced = count >= REDUCED_FROM and dim > REDUCED_DIM
    index = VectorIndex(dim, space=SPACE, capacity=max(count, 1024), reduced_dim=REDUCED_DIM if reduced else None)
    id_chunks, vector_chunks = [], []
    for ids, vectors in iter_figure_vectors(sessions, dim):
        if reduced and not id_chunks:
            index.fit_projection(vectors[: FIT_SAMPLE])
        index.add(ids, vectors)
        if not reduced:
            id_chunks.append(ids)
            vector_chunks.append(vectors)
    if len(index):
        # The vectors just added are the exact-search reference: reading them back out of hnswlib is ~50x slower
        # (a reduced index keeps them itself).
        reference = (np.concatenate(id_chunks), np.concatenate(vector_chunks)) if id_chunks else None
        index.tune_ef(target_recall=0.95, reference=reference)
    return index
