"""The hnswlib file as a cache of the catalog's vectors.

The stamp carries the catalog generation; any commit that changes the searchable figures bumps it. On open,
an index whose stamp disagrees (or that is missing or corrupt, e.g. after a kill -9 mid-ingest) is rebuilt
from the stored vectors, without re-encoding a single image.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from engine.catalog.vectors import iter_figure_vectors
from engine.index import IndexStamp, VectorIndex

logger = logging.getLogger(__name__)

INDEX_FILE = "index.hnsw"
SPACE = "ip"


def stamp_for(model_id: str, dim: int, generation: int) -> IndexStamp:
    return IndexStamp(model_id=model_id, dim=dim, space=SPACE, generation=generation)


def load_or_rebuild(
    folder: Path, sessions: sessionmaker[Session], stamp: IndexStamp, *, save: bool = True
) -> tuple[VectorIndex, bool]:
    """The library's index, and whether it had to be rebuilt from the catalog."""
    path = Path(folder) / INDEX_FILE
    try:
        index = VectorIndex.load(path, stamp)
    except Exception as e:  # a damaged cache is never fatal: it is rebuilt
        logger.warning("index file %s unreadable (%s); rebuilding", path, e)
        index = None
    if index is not None:
        logger.debug("loaded index %s (%d vectors, ef=%d)", path, len(index), index.ef)
        return index, False
    logger.info("index %s missing or stale; rebuilding from the catalog", path)
    index = VectorIndex(stamp.dim, space=SPACE)
    for ids, vectors in iter_figure_vectors(sessions, stamp.dim):
        index.add(ids, vectors)
    if len(index):
        index.tune_ef(target_recall=0.95)
    if save:
        index.save(path, stamp)
    return index, True
