"""The figure library: one folder holding a SQLite catalog, an hnswlib index cache and extracted media.

Thread-safe facade for GUI workers and the CLI. Catalog writes are serialised by one lock and each call uses
its own Session; searches run concurrently with an ingest (SQLite WAL readers, hnswlib queries). Values that
leave this class are the immutable dataclasses of `engine.types`, never ORM objects.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from engine.catalog import (
    Article,
    Collection,
    Figure,
    Vector,
    all_meta,
    blob_to_vector,
    bump_generation,
    get_meta,
    open_engine,
    session_factory,
    set_meta,
)
from engine.errors import LibraryError, LibraryModelMismatchError, UserInputError
from engine.library import queries
from engine.library.ingest import IngestJob, collect_garbage, run_ingest
from engine.library.live_index import LiveIndex
from engine.library.lock import LibraryLock
from engine.prompt_vectors import CachedPromptEncoder
from engine.search import Searcher, build_query_vector, keyword_text
from engine.search.captions import captions_for_vector
from engine.types import (
    CaptionMatch,
    CollectionInfo,
    Encoder,
    Facets,
    IngestProgress,
    IngestReport,
    LibraryInfo,
    ModelSpec,
    QueryTerm,
    SearchFilters,
    SearchPage,
    SearchQuery,
    SearchResult,
    SourceProblem,
)

logger = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite"
LOCK_FILE = "library.lock"
MEDIA_DIR = "media"


def is_library(path: str | Path) -> bool:
    return (Path(path) / CATALOG_FILE).is_file()


class _CatalogMeta:
    """The catalog's key/value table as the small store `CachedPromptEncoder` keeps prompt vectors in."""

    def __init__(self, library: Library):
        self._library = library

    def get(self, key: str) -> str | None:
        with self._library._sessions() as session:
            return get_meta(session, key)

    def set(self, key: str, value: str) -> None:
        with self._library._write_lock, self._library._sessions.begin() as session:
            set_meta(session, key, value)


class Library:
    """Create with `Library.create`, open with `Library.open`; use as a context manager or call `close()`.

    Implements `engine.library.FigureLibrary`, the interface front ends program against.
    """

    def __init__(self, path: Path, *, read_only: bool, lock: LibraryLock | None):
        self.path = Path(path)
        self.read_only = read_only
        self._lock = lock
        self._engine = open_engine(self.path / CATALOG_FILE, read_only=read_only, create=not read_only)
        self._sessions = session_factory(self._engine)
        with self._sessions() as session:
            meta = all_meta(session)
        if "model_id" not in meta:
            raise LibraryError(f"{self.path} has a catalog but no model recorded; it was never finished")
        self.model_spec = ModelSpec(
            name=meta.get("model_name", "pmc-clip"),
            weights=meta.get("model_weights") or None,
            tokenizer=meta.get("model_tokenizer") or None,
        )
        self.model_id: str = meta["model_id"]
        self.dim: int = int(meta["dim"])
        self.encoder: Encoder | None = None
        self._classifier: Any = None
        self._write_lock = threading.RLock()
        self._closed = False
        self._index = LiveIndex(
            self.path, self._sessions, model_id=self.model_id, dim=self.dim, write_lock=self._write_lock,
            read_only=read_only,
        )
        self.index_origin = self._index.origin  # "loaded", "caught up" or "rebuilt": how the index was obtained
        self._searcher = Searcher(self._sessions, self._index.current, self.dim)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, path: str | Path, model: ModelSpec, *, model_id: str, dim: int) -> Library:
        path = Path(path)
        if is_library(path):
            raise UserInputError(f"{path} already holds a library; open it instead")
        if dim <= 0:
            raise ValueError("dim must be positive")
        path.mkdir(parents=True, exist_ok=True)
        lock = LibraryLock(path / LOCK_FILE)
        lock.acquire()
        try:
            engine = open_engine(path / CATALOG_FILE, create=True)
            try:
                with session_factory(engine).begin() as session:
                    set_meta(session, "model_name", model.name)
                    set_meta(session, "model_weights", model.weights or "")
                    set_meta(session, "model_tokenizer", model.tokenizer or "")
                    set_meta(session, "model_id", model_id)
                    set_meta(session, "dim", str(int(dim)))
                    set_meta(session, "generation", "0")
                    set_meta(session, "created", str(time.time()))
            finally:
                engine.dispose()
            return cls(path, read_only=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Library:
        path = Path(path)
        if not is_library(path):
            raise UserInputError(f"there is no library at {path}; build one with `pmc-search index FOLDER`")
        lock = None
        if not read_only:
            lock = LibraryLock(path / LOCK_FILE)
            lock.acquire()
        try:
            return cls(path, read_only=read_only, lock=lock)
        except BaseException:
            if lock:
                lock.release()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._index.save()
        finally:
            self._engine.dispose()
            if self._lock:
                self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ model
    def attach_encoder(self, encoder: Encoder) -> None:
        if encoder.model_id != self.model_id or int(encoder.dim) != self.dim:
            raise LibraryModelMismatchError(
                f"this library was built with model {self.model_id!r} ({self.dim}-d vectors); "
                f"the encoder is {encoder.model_id!r} ({encoder.dim}-d). Open it with its own model, "
                "or make a new library for this one"
            )
        self.encoder = encoder
        self._classifier = None

    def _require_encoder(self) -> Encoder:
        if self.encoder is None:
            raise LibraryError("no model attached to this library (call attach_encoder first)")
        return self.encoder

    def modality_classifier(self):
        """The zero-shot modality classifier of this library's model (prompt vectors cached in the catalog)."""
        if self._classifier is None:
            from engine.modality import ModalityClassifier

            encode = CachedPromptEncoder(
                self._require_encoder().encode_texts, _CatalogMeta(self), self.dim, writable=not self.read_only
            )
            self._classifier = ModalityClassifier(encode)
        return self._classifier

    # ------------------------------------------------------------------ collections
    def _writable(self) -> None:
        if self.read_only:
            raise LibraryError("this library is open read-only")

    def collections(self) -> list[CollectionInfo]:
        with self._sessions() as session:
            return queries.collections(session)

    def add_collection(self, source: str | Path, *, kind: str = "auto", name: str | None = None) -> CollectionInfo:
        """Register a source (folder, PMC packages, PMC-OA jsonl, ROCO); an already registered one is returned."""
        self._writable()
        from engine.ingest import detect_source_kind

        source_path = Path(source).expanduser().resolve()
        if not source_path.exists():
            raise UserInputError(f"{source} does not exist")
        if kind == "auto":
            kind = detect_source_kind(source_path)
        with self._write_lock, self._sessions.begin() as session:
            existing = session.scalars(
                select(Collection).where(Collection.source == str(source_path), Collection.kind == kind)
            ).first()
            if existing is None:
                existing = Collection(name=name or source_path.name, kind=kind, source=str(source_path), scan_mark=0)
                session.add(existing)
                session.flush()
            count = session.scalar(select(func.count()).where(Figure.collection_id == existing.id)) or 0
            return queries.collection_info(existing, count)

    def remove_collection(self, collection_id: int) -> None:
        self._writable()
        with self._write_lock:
            with self._sessions.begin() as session:
                collection = session.get(Collection, collection_id)
                if collection is None:
                    raise UserInputError(f"there is no collection {collection_id}")
                ids = list(session.scalars(select(Figure.id).where(Figure.collection_id == collection_id)))
                session.execute(delete(Figure).where(Figure.collection_id == collection_id))
                session.delete(collection)
                session.flush()
                collect_garbage(session)
                bump_generation(session)
            if ids:
                self._index.remove(np.asarray(ids, dtype=np.int64))
            self._index.save()
        shutil.rmtree(self.path / MEDIA_DIR / str(collection_id), ignore_errors=True)

    # ------------------------------------------------------------------ ingestion
    def ingest(
        self,
        collection_id: int,
        *,
        cancel: Callable[[], bool] | None = None,
        pause: Callable[[], bool] | None = None,
        batch_size: int = 32,
    ) -> Generator[IngestProgress, None, IngestReport]:
        """Yield progress while (re-)ingesting one collection incrementally; the generator returns the report."""
        job = self._ingest_job(collection_id)
        try:
            report = yield from run_ingest(job, cancel=cancel, pause=pause, batch_size=batch_size)
            self._index.retune_if_grown()
        finally:
            self._index.save()  # also after a cancel or an error: what was committed is searchable
        return report

    def import_vectors(
        self, collection_id: int, vectors_dir: str | Path, *, cancel: Callable[[], bool] | None = None
    ) -> Generator[IngestProgress, None, IngestReport]:
        """Fill a collection from `pmc-search embed-corpus` shards instead of encoding (see vector_import)."""
        from engine.library.corpus_shards import open_shards
        from engine.library.ingest import run_encoded
        from engine.library.vector_import import check_shards, shard_batches, shard_problems

        job = self._ingest_job(collection_id)
        shards = open_shards(vectors_dir)
        check_shards(shards, job.encoder, model_id=self.model_id, dim=self.dim, source=job.source)
        try:
            batches = shard_batches(shards)
            _, first_vectors = next(shards.iter_parts(), ([], None))
            if first_vectors is not None:
                self._index.prepare_bulk(len(self._index) + shards.count, first_vectors)
            report = yield from run_encoded(
                job, batches, total=shards.count, problems=shard_problems(shards), cancel=cancel
            )
            self._index.retune_if_grown()
        finally:
            self._index.save()
        return report

    def _ingest_job(self, collection_id: int) -> IngestJob:
        self._writable()
        encoder = self._require_encoder()
        from engine import ingest as readers
        from engine.imaging import open_image

        with self._sessions() as session:
            collection = session.get(Collection, collection_id)
            if collection is None:
                raise UserInputError(f"there is no collection {collection_id}")
            source, kind = Path(collection.source), collection.kind
        if not source.exists():
            raise UserInputError(f"the source of collection {collection.name!r} is gone: {source}")
        return IngestJob(
            sessions=self._sessions,
            encoder=encoder,
            collection_id=collection_id,
            source=source,
            kind=kind,
            work_dir=self.path / MEDIA_DIR / str(collection_id),
            dim=self.dim,
            index=self._index,
            classifier=self.modality_classifier(),
            commit_lock=self._write_lock,
            reader=readers,
            open_image=open_image,
        )

    # ------------------------------------------------------------------ search
    def _query_vector(self, terms: tuple[QueryTerm, ...]) -> np.ndarray:
        """Encode text and image terms with the model; figure terms use their stored vectors (no re-encoding)."""
        from engine.imaging import open_image

        stored = {t.figure_id: self.stored_vector(t.figure_id) for t in terms if t.figure_id is not None}
        return build_query_vector(self.encoder, terms, open_image, stored)

    def search(self, query: SearchQuery) -> SearchPage:
        vector = self._query_vector(query.terms)
        return self._searcher.search(
            vector,
            keywords=keyword_text(query.terms),
            filters=query.filters,
            min_score=query.min_score,
            sort=query.sort,
            offset=query.offset,
            limit=query.limit,
            hybrid=query.hybrid,
            exclude=tuple(t.figure_id for t in query.terms if t.figure_id is not None and t.weight > 0),
        )

    def stored_vector(self, figure_id: int) -> np.ndarray:
        with self._sessions() as session:
            blob = session.scalar(
                select(Vector.data)
                .join(Figure, Figure.content_sha256 == Vector.content_sha256)
                .where(Figure.id == figure_id)
            )
        if blob is None:
            raise UserInputError(f"there is no figure {figure_id}")
        return blob_to_vector(blob, self.dim)

    def similar_to(self, figure_id: int, *, limit: int = 50, filters: SearchFilters | None = None) -> SearchPage:
        """Figures that look like a figure already in the library (itself left out), from its stored vector."""
        query = SearchQuery(
            terms=(QueryTerm(figure_id=figure_id),), filters=filters or SearchFilters(), limit=limit, hybrid=False
        )
        return self.search(query)

    def captions_for_image(self, image: Any, *, limit: int = 10) -> list[CaptionMatch]:
        """Captions in the library that describe something like the image (see engine.search.captions)."""
        encoder = self._require_encoder()
        term = QueryTerm(figure_id=image) if isinstance(image, int) else QueryTerm(image=image)
        vector = self._query_vector((term,))
        return captions_for_vector(self._sessions, self._searcher, encoder, vector, limit=limit)

    def figure(self, figure_id: int) -> SearchResult:
        result = self._searcher.figure(figure_id)
        if result is None:
            raise UserInputError(f"there is no figure {figure_id}")
        return result

    # ------------------------------------------------------------------ facts
    def info(self) -> LibraryInfo:
        with self._sessions() as session:
            figures = session.scalar(select(func.count()).select_from(Figure)) or 0
            articles = session.scalar(select(func.count()).select_from(Article)) or 0
        return LibraryInfo(
            path=self.path,
            model_id=self.model_id,
            dim=self.dim,
            figures=figures,
            articles=articles,
            collections=tuple(self.collections()),
            index_size=len(self._index),
            device=self.encoder.device if self.encoder else None,
            device_reason=self.encoder.device_reason if self.encoder else None,
            read_only=self.read_only,
            model_spec=self.model_spec,
        )

    def facets(self) -> Facets:
        with self._sessions() as session:
            return queries.facets(session)

    def problems(self, collection_id: int | None = None) -> list[SourceProblem]:
        with self._sessions() as session:
            return queries.problems(session, collection_id)
