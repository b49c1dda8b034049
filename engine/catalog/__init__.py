"""The SQLite catalog (SQLAlchemy 2.0 ORM): the source of truth for figures, articles and vectors. No torch."""

from engine.catalog.db import (
    all_meta,
    blob_to_vector,
    bump_generation,
    get_meta,
    open_engine,
    session_factory,
    set_meta,
    vector_to_blob,
)
from engine.catalog.migrations import CURRENT_VERSION
from engine.catalog.schema import (
    Article,
    Base,
    Collection,
    CollectionSource,
    Figure,
    IngestProblem,
    LibraryMeta,
    QuarantinedVector,
    Vector,
)
from engine.catalog.vectors import BadVector, iter_figure_vectors

__all__ = [
    "CURRENT_VERSION",
    "Article",
    "BadVector",
    "Base",
    "Collection",
    "CollectionSource",
    "Figure",
    "IngestProblem",
    "LibraryMeta",
    "QuarantinedVector",
    "Vector",
    "all_meta",
    "blob_to_vector",
    "bump_generation",
    "get_meta",
    "iter_figure_vectors",
    "open_engine",
    "session_factory",
    "set_meta",
    "vector_to_blob",
]
