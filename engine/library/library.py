"""The figure library: one folder holding a SQLite catalog, an hnswlib index cache and extracted media.

Thread-safe facade for GUI workers and the CLI. Catalog writes are serialised by one lock and each call uses
its own Session; searches run concurrently with an ingest (SQLite WAL readers, hnswlib queries). Values that
leave this class are the immutable dataclasses of `engine.types`, never ORM objects.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from engine.catalog import (
    Article,
    Collection,
    CollectionSource,
    Figure,
    QuarantinedVector,
    Vector,
    all_meta,
    blob_to_vector,
    bump_generation,
    get_meta,
    open_engine,
    session_factory,
    set_meta,
)
from engine.catalog.verified import remember_good
from engine.errors import LibraryError, LibraryModelMismatchError, LibraryReadOnlyError, UserInputError
from engine.library import queries
from engine.library.index_cache import INDEX_FILE
from engine.library.ingest import IngestJob, SourceSpec, collect_garbage, run_ingest
from engine.library.live_index import LiveIndex
from engine.library.lock import LibraryLock
from engine.library.query_checks import checked_query
from engine.library.query_plan import QueryContext, is_blank, plan
from engine.library.recent_pages import RecentPages
from engine.library.relabel import relabel_if_stale
from engine.library.upkeep import build_catalog_atomically, clear_leftovers, library_facts, remove_catalog_files
from engine.library.vector_repair import ReencodeReport, reencode_quarantined
from engine.paths import CATALOG_FILE, is_library
from engine.prompt_vectors import CachedPromptEncoder
from engine.search import Searcher, build_query_vector
from engine.search.background import NULL_PROMPTS
from engine.search.captions import captions_for_vector
from engine.search.results import load_figures, to_result
from engine.search.verdict import TEXT_SCALE, QueryFacts, verdict
from engine.text import clean_text, path_from_text, path_to_text
from engine.types import (
    CaptionMatch,
    CollectionInfo,
    Encoder,
    Facets,
    IngestProgress,
    IngestReport,
    LibraryInfo,
    MatchLevel,
    ModelSpec,
    QueryTerm,
    SearchFilters,
    SearchPage,
    SearchQuery,
    SearchResult,
    SourceProblem,
    WhyMatched,
)

logger = logging.getLogger(__name__)

LOCK_FILE = "library.lock"
MEDIA_DIR = "media"


def _source_paths(source: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [source] if isinstance(source, (str, Path)) else list(source)
    if not items:
        raise UserInputError("no folder or file was given to add")
    paths = []
    for item in items:
        path = Path(item).expanduser().resolve()
        if not path.exists():
            raise UserInputError(f"{item} does not exist")
        if path not in paths:
            paths.append(path)
    return paths


def _source_kind(path: Path, kind: str) -> str:
    if kind != "auto":
        return kind
    from engine.ingest import detect_source_kind

    return detect_source_kind(path)


def _find_collection(session, paths: list[Path], kinds: list[str]) -> Collection | None:
    wanted = [(path_to_text(p), k) for p, k in zip(paths, kinds, strict=True)]
    candidates = session.scalars(
        select(Collection).where(Collection.source == wanted[0][0], Collection.kind == wanted[0][1])
    ).unique()
    return next((c for c in candidates if [(s.source, s.kind) for s in c.sources] == wanted), None)


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


def _write_new_catalog(catalog: Path, model: ModelSpec, model_id: str, dim: int) -> None:
    engine = open_engine(catalog, create=True, verify=False)
    try:
        with session_factory(engine).begin() as session:
            set_meta(session, "model_name", clean_text(model.name) or "")
            set_meta(session, "model_weights", path_to_text(model.weights) if model.weights else "")
            set_meta(session, "model_tokenizer", path_to_text(model.tokenizer) if model.tokenizer else "")
            set_meta(session, "model_id", model_id)
            set_meta(session, "dim", str(int(dim)))
            set_meta(session, "generation", "0")
            set_meta(session, "created", str(time.time()))
            set_meta(session, "library_id", uuid.uuid4().hex)
    finally:
        engine.dispose()


class Library:
    """Create with `Library.create`, open with `Library.open`; use as a context manager or call `close()`.

    Implements `engine.library.FigureLibrary`, the interface front ends program against.
    """

    def __init__(self, path: Path, *, read_only: bool, lock: LibraryLock | None):
        self.path = Path(path)
        self.read_only = read_only
        self._lock = lock
        self._engine = open_engine(self.path / CATALOG_FILE, read_only=read_only, create=not read_only)
        try:
            self._sessions = session_factory(self._engine)
            # Only a writable library holds the lock, so only its own commits can change what a page shows.
            self._recent_pages = None if read_only else RecentPages(self._sessions)
            self._open_parts(read_only)
        except BaseException:
            self._engine.dispose()
            raise

    def _open_parts(self, read_only: bool) -> None:
        with self._sessions() as session:
            meta = all_meta(session)
            collection_ids = set(session.scalars(select(Collection.id)))
        facts = library_facts(self.path, meta, has_content=lambda: bool(collection_ids))
        if not read_only:
            clear_leftovers(
                self.path,
                index_file=INDEX_FILE,
                catalog_file=CATALOG_FILE,
                media_dir=MEDIA_DIR,
                collection_ids=collection_ids,
            )
        self.model_spec, self.model_id, self.dim = facts.spec, facts.model_id, facts.dim
        self.encoder: Encoder | None = None
        self._classifier: Any = None
        self._nulls: np.ndarray | None = None
        self._write_lock = threading.RLock()
        self._closed = False
        self._index = LiveIndex(
            self.path,
            self._sessions,
            model_id=self.model_id,
            dim=self.dim,
            write_lock=self._write_lock,
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
            # Built under a temp name and renamed once the model is recorded: a kill leaves no half-library.
            build_catalog_atomically(path / CATALOG_FILE, lambda tmp: _write_new_catalog(tmp, model, model_id, dim))
            return cls(path, read_only=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def discard_unfinished(cls, path: str | Path) -> None:
        """Delete the catalog of a library whose creation was interrupted (UnfinishedLibraryError), under its lock."""
        path = Path(path)
        lock = LibraryLock(path / LOCK_FILE)
        lock.acquire()
        try:
            logger.warning("%s was never finished; creating it again", path)
            remove_catalog_files(path / CATALOG_FILE)
        finally:
            lock.release()

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
            if not self.read_only:
                remember_good(self.path / CATALOG_FILE)  # as we leave it: the next open skips quick_check
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
        self._nulls = None
        if not self.read_only:
            relabel_if_stale(self._sessions, self._write_lock, self.modality_classifier(), self.dim)

    def _require_encoder(self) -> Encoder:
        if self.encoder is None:
            raise LibraryError("no model attached to this library (call attach_encoder first)")
        return self.encoder

    def modality_classifier(self):
        """The zero-shot modality classifier of this library's model (prompt vectors cached in the catalog)."""
        if self._classifier is None:
            from engine.modality import classifier_for

            encoder = self._require_encoder()
            store = _CatalogMeta(self)
            encode = CachedPromptEncoder(encoder.encode_texts, store, self.dim, writable=not self.read_only)
            self._classifier = classifier_for(encoder, encode)
        return self._classifier

    # ------------------------------------------------------------------ collections
    def _writable(self) -> None:
        if self.read_only:
            raise LibraryReadOnlyError(f"the library at {self.path} is open read-only: it can be searched, not changed")

    def collections(self) -> list[CollectionInfo]:
        with self._sessions() as session:
            return queries.collections(session)

    def add_collection(
        self, source: str | Path | Sequence[str | Path], *, kind: str = "auto", name: str | None = None
    ) -> CollectionInfo:
        """Register a source (folder, PMC packages, PMC-OA jsonl, ROCO), or several as ONE collection (the packages
        a user imported in one action); a collection with exactly these sources is returned instead of a second."""
        self._writable()
        paths = _source_paths(source)
        kinds = [_source_kind(p, kind) for p in paths]
        with self._write_lock, self._sessions.begin() as session:
            existing = _find_collection(session, paths, kinds)
            if existing is None:
                default_name = paths[0].name if len(paths) == 1 else f"{len(paths)} imports"
                existing = Collection(
                    name=clean_text(name or default_name),
                    kind=kinds[0],
                    source=path_to_text(paths[0]),
                    scan_mark=0,
                    status="incomplete",
                )
                existing.sources = [
                    CollectionSource(position=i, kind=k, source=path_to_text(p))
                    for i, (p, k) in enumerate(zip(paths, kinds, strict=True))
                ]
                session.add(existing)
                session.flush()
            return queries.collection_infos(session, [existing])[0]

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
        check_shards(shards, job.encoder, model_id=self.model_id, dim=self.dim, source=job.sources[0].path)
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

        with self._sessions() as session:
            collection = session.get(Collection, collection_id)
            if collection is None:
                raise UserInputError(f"there is no collection {collection_id}")
            sources = tuple(
                SourceSpec(path_from_text(s.source), s.kind, f"{s.position}:" if s.position else "")
                for s in collection.sources
            ) or (SourceSpec(path_from_text(collection.source), collection.kind, ""),)  # no rows: its first source
            name = collection.name
        if not any(spec.path.exists() for spec in sources):
            raise UserInputError(f"the source of collection {name!r} is gone: {sources[0].path}")
        return IngestJob(
            sessions=self._sessions,
            encoder=encoder,
            collection_id=collection_id,
            sources=sources,
            work_dir=self.path / MEDIA_DIR / str(collection_id),
            dim=self.dim,
            index=self._index,
            classifier=self.modality_classifier(),
            commit_lock=self._write_lock,
            reader=readers,
            open_image=encoder.load_image,
        )

    def reencode_quarantined(self) -> ReencodeReport:
        """Encode again the images whose stored vectors were found unusable, and put them back in the index."""
        self._writable()
        encoder = self._require_encoder()
        report = reencode_quarantined(
            self._sessions, encoder, encoder.load_image, self._index.add, self._write_lock, self.dim
        )
        if report.reencoded:
            self._index.save()
        return report

    def quarantined_count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(QuarantinedVector)) or 0

    # ------------------------------------------------------------------ search
    def _query_context(self) -> QueryContext:
        return QueryContext(
            sessions=self._sessions,
            encoder=self.encoder,
            stored_vector=self.stored_vector,
            null_vectors=self._null_vectors,
            open_image=self._open_query_image,
        )

    def _open_query_image(self, path: Path) -> Any:
        # Decoded like the library's own figures, so a query file that is in the library gets its stored vector.
        return self._require_encoder().load_image(path)

    def _null_vectors(self) -> np.ndarray:
        """The null prompts' vectors (engine.search.background), encoded once per library and kept in its catalog."""
        if self._nulls is None:
            encode = CachedPromptEncoder(
                self._require_encoder().encode_texts, _CatalogMeta(self), self.dim, writable=not self.read_only
            )
            self._nulls = encode(list(NULL_PROMPTS))
        return self._nulls

    def search(self, query: SearchQuery) -> SearchPage:
        query = checked_query(query)  # out-of-range numbers, NaN weights, undecodable text: UserInputError
        if is_blank(query.terms):
            empty = verdict(TEXT_SCALE, None, 0, QueryFacts())
            return SearchPage(results=(), total_candidates=0, offset=query.offset, elapsed_ms=0.0, verdict=empty)
        recent = self._recent_pages
        key = recent.key(query, self.encoder) if recent is not None else None
        if key is None:
            return self._searcher.search(plan(self._query_context(), query))
        started = time.perf_counter()
        cached = recent.get(key)
        if cached is not None:  # a repeated query: the page as it was, the time this answer took
            return dataclasses.replace(cached, elapsed_ms=(time.perf_counter() - started) * 1000)
        version = recent.version
        page = self._searcher.search(plan(self._query_context(), query))
        recent.put(key, page, version)
        return page

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
        """Figures that look like a figure already in the library (it and its copies left out), from its stored
        vector."""
        query = SearchQuery(
            terms=(QueryTerm(figure_id=figure_id),), filters=filters or SearchFilters(), limit=limit, hybrid=False
        )
        return self.search(query)

    def captions_for_image(self, image: Any, *, limit: int = 10) -> list[CaptionMatch]:
        """Captions in the library that describe something like the image — a PIL image, an image file, or the id of
        a figure in the library (see engine.search.captions)."""
        encoder = self._require_encoder()
        term = QueryTerm(figure_id=image) if isinstance(image, int) else QueryTerm(image=image)
        context = self._query_context()
        stored = {image: self.stored_vector(image)} if isinstance(image, int) else {}
        vector = build_query_vector(encoder, (term,), context.open_image, stored)
        background = self._searcher.text_background(self._null_vectors())
        return captions_for_vector(self._sessions, self._searcher, encoder, vector, background, limit=limit)

    def browse(self, collection_id: int, *, offset: int = 0, limit: int = 200) -> SearchPage:
        """A collection's figures without a query, in reading order (article by article), one page at a time."""
        started = time.perf_counter()
        with self._sessions() as session:
            if session.get(Collection, collection_id) is None:
                raise UserInputError(f"there is no collection {collection_id}")
            ids, total = queries.collection_figure_ids(session, collection_id, offset, limit)
            figures = load_figures(session, ids)
            no_query = WhyMatched(similarity=0.0)  # browsing asks nothing: no score, no match level shown
            results = tuple(to_result(figures[i], 0.0, no_query, MatchLevel.NONE, ()) for i in ids if i in figures)
        return SearchPage(results, total, offset, (time.perf_counter() - started) * 1000, verdict=None)

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
