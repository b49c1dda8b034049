"""The library's open ANN index: the `IndexWriter` an ingest feeds, and the saves that keep its file current.

The catalog is the source of truth; this object holds the hnswlib cache of its vectors while the library is
open. Ingests add and remove vectors as their batches commit; the file is saved (stamped with the catalog
generation) now and then during a long ingest, after each ingest, and on close, but only when the generation
moved since the last save.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import get_meta, set_meta
from engine.catalog.vectors import iter_figure_vectors
from engine.index import VectorIndex
from engine.index.shared import SharedVectorIndex
from engine.library import index_cache

logger = logging.getLogger(__name__)

SAVE_INTERVAL_S = 600.0  # a long ingest saves this often, so a crash leaves little for the next open to catch up
SMALL_INDEX = 50_000  # up to this size ef is re-tuned after every change; above it, when the size has doubled


class LiveIndex:
    """Owns the VectorIndex of one open library. `write_lock` is the library's catalog write lock: a save reads the
    generation under it, so it never stamps a generation whose vectors are not in the index yet."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session], *, model_id: str, dim: int, write_lock: Any,
                 read_only: bool):
        self._folder = Path(folder)
        self._sessions = sessions
        self._model_id, self._dim = model_id, dim
        self._write_lock = write_lock
        self._read_only = read_only
        self._swap_lock = threading.Lock()
        self._library_id = self._identity()
        generation = self._generation()
        stamp = index_cache.stamp_for(model_id, dim, generation, self._library_id)
        index, self.origin = index_cache.load_or_rebuild(self._folder, sessions, stamp, save=not read_only)
        self._index: SharedVectorIndex = index
        self._tuned_size = len(index)  # a rebuilt index was tuned; a loaded one carries its tuned ef
        self._saved_generation = generation if self.origin == index_cache.LOADED or not read_only else None
        self._last_save = time.monotonic()

    def _generation(self) -> int:
        with self._sessions() as session:
            raw = get_meta(session, "generation") or "0"
        return int(raw) if raw.isdigit() else 0  # a damaged counter: the index is rebuilt and stamped anew

    def _identity(self) -> str:
        """The library's id, which the index stamp carries (libraries made before it existed get one now)."""
        with self._sessions() as session:
            found = get_meta(session, "library_id")
        if found or self._read_only:
            return found or ""
        with self._write_lock, self._sessions.begin() as session:
            set_meta(session, "library_id", uuid.uuid4().hex)
            return get_meta(session, "library_id") or ""

    def current(self) -> SharedVectorIndex:
        with self._swap_lock:
            return self._index

    def __len__(self) -> int:
        return len(self.current())

    # ------------------------------------------------------------------ IndexWriter (what an ingest calls)
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        index_cache.add_grouped(self.current(), self._sessions, ids, vectors)
        if time.monotonic() - self._last_save > SAVE_INTERVAL_S:
            self.save()

    def remove(self, ids: np.ndarray) -> None:
        self.current().delete(ids)

    # ------------------------------------------------------------------ upkeep
    def save(self) -> None:
        """Write the index file if the catalog changed since the last save (never for a read-only library)."""
        if self._read_only:
            return
        with self._write_lock:
            generation = self._generation()
            if generation == self._saved_generation:
                return
            stamp = index_cache.stamp_for(self._model_id, self._dim, generation, self._library_id)
            self.current().save(self._folder / index_cache.INDEX_FILE, stamp)
            self._saved_generation = generation
            self._last_save = time.monotonic()

    def retune_if_grown(self) -> None:
        """Re-pick ef for recall@10 >= 0.95 when the index has changed enough for the old choice to be stale.

        Tuning runs exact search for a sample of queries, so it is repeated freely on small indexes and only when
        the size has doubled on large ones.
        """
        index = self.current()
        size = len(index)
        if index.reduced_dim is None and index_cache.wants_reduced(size, self._dim):
            self._rebuild_reduced()
            return
        small_and_changed = size <= SMALL_INDEX and size != self._tuned_size
        if size > 1 and (small_and_changed or size >= 2 * self._tuned_size):
            index.tune_ef(target_recall=0.95)
            self._tuned_size = size

    def prepare_bulk(self, expected: int, sample: np.ndarray) -> None:
        """Before adding many vectors at once (a shard import): an index that will pass REDUCED_FROM is made
        reduced now, with its projection fitted on `sample`, so the bulk goes straight into the reduced graph
        instead of a full-dimensional one rebuilt afterwards."""
        index = self.current()
        if index.reduced_dim is not None or not index_cache.wants_reduced(expected, self._dim):
            return
        with self._write_lock:
            graph = VectorIndex(self._dim, space=index_cache.SPACE, capacity=expected,
                                reduced_dim=index_cache.REDUCED_DIM)
            graph.fit_projection(sample)
            reduced = SharedVectorIndex(graph)
            for ids, vectors in iter_figure_vectors(self._sessions, self._dim):
                index_cache.add_grouped(reduced, self._sessions, ids, vectors)
            with self._swap_lock:
                self._index = reduced
            self._saved_generation = None

    def _rebuild_reduced(self) -> None:
        """A library that grew past REDUCED_FROM gets the reduced index, built from the catalog (no encoding).
        Searches use the old index until the new one is swapped in."""
        with self._write_lock:  # no ingest commits while the catalog is read for the new index
            index = index_cache.build_from_catalog(self._sessions, self._dim)
            with self._swap_lock:
                self._index = index
            self._tuned_size = len(index)
            self._saved_generation = None  # the file on disk is the old index
        self.save()
