"""Incremental ingestion of one collection: scan, examine, encode, commit per batch, sweep.

Per file: an unchanged file (same path, size and mtime as last time) is not even hashed; otherwise its bytes
are hashed and a vector already stored for that hash (a rename, a duplicate, a re-run after a crash) is
reused; only genuinely new content is decoded and encoded. Examination and decoding run in a bounded prefetch
pool: beside the model when it runs on a GPU, between its batches when it takes every CPU core (`CoreShare`).
Each batch (vectors + figures + problems) is one transaction, so a kill -9 loses at most the batch in flight and
a re-run picks up where it stopped. Figures not seen in a
complete scan are swept at the end; a cancelled or failed scan sweeps nothing.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Collection, Figure, IngestProblem, Vector, blob_to_vector, bump_generation, vector_to_blob
from engine.catalog.chunks import chunked
from engine.errors import StorageError
from engine.fileio import NotRegularFileError, file_sha256, kind_of
from engine.library.catalog_writes import FigureWriter, preload_articles, upsert_article
from engine.library.prefetch import default_workers, prefetch_map
from engine.storage_errors import as_storage_error
from engine.text import display_text, path_to_text
from engine.types import Encoder, FigureRecord, IngestProgress, IngestReport, SourceProblem

logger = logging.getLogger(__name__)

_MAX_RECORDS_PER_COMMIT = 1000  # when almost everything is reused, still commit (and report) regularly


class IndexWriter(Protocol):
    """Where an ingest makes committed vectors searchable (the library's `LiveIndex`; tests use fakes)."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...


class FigureClassifier(Protocol):
    """Labels new figures from their vectors (`engine.modality.ModalityClassifier`)."""

    def classify(self, vectors: np.ndarray) -> list[tuple[str | None, float | None]]: ...


class SourceReader(Protocol):
    """How an ingest reads a source (`engine.ingest` in the library; tests substitute their own)."""

    def iter_source(self, path: Path, kind: str, *, work_dir: Path) -> Iterable[FigureRecord | SourceProblem]: ...

    def estimate_count(self, path: Path, kind: str) -> int | None: ...


@dataclass(frozen=True)
class SourceSpec:
    """One source of a collection: where, what kind, and the prefix that keeps its keys apart from the others'."""

    path: Path
    kind: str
    key_prefix: str = ""  # "" for a collection's first source; "<position>:" for the later ones


@dataclass
class IngestJob:
    """Everything one ingest run needs; the Library builds it."""

    sessions: sessionmaker[Session]
    encoder: Encoder
    collection_id: int
    sources: tuple[SourceSpec, ...]
    work_dir: Path
    dim: int
    index: IndexWriter
    classifier: FigureClassifier | None
    commit_lock: Any  # serialises catalog writes with other writers of this library
    reader: SourceReader
    open_image: Callable[[Path], Any]


@dataclass
class BatchResult:
    """What one committed batch changed: figures whose vector is new to them, rows replaced, counts."""

    changed_ids: list[int] = field(default_factory=list)
    changed_shas: list[str] = field(default_factory=list)
    replaced_ids: list[int] = field(default_factory=list)
    added: int = 0
    reused: int = 0


@dataclass
class _Examined:
    record: FigureRecord
    size: int
    mtime_ns: int
    sha256: str
    pixels: Any = None  # preprocessed model input when the content is new


@dataclass
class _Tally:
    added: int = 0
    reused: int = 0
    removed: int = 0
    failed: int = 0
    done: int = 0
    problems: list[SourceProblem] = field(default_factory=list)


def stack_batch(items: list[Any]) -> Any:
    """Stack preprocessed images the way the encoder made them (torch tensors or numpy arrays)."""
    if type(items[0]).__module__.startswith("torch"):
        import torch  # only when the encoder is a real model

        return torch.stack(items)
    return np.stack(items)


# Core statements on a bare connection: an ORM session per file cost 0.3-0.4 ms of Python holding the GIL in the
# prefetch thread, which the model's thread then waited for; these cost about 0.05 ms.
_KNOWN_FILE = select(Figure.file_size, Figure.mtime_ns, Figure.image_path, Figure.content_sha256).where(
    Figure.collection_id == bindparam("collection"), Figure.key == bindparam("key")
)
_STORED_VECTOR = select(Vector.content_sha256).where(Vector.content_sha256 == bindparam("sha"))


class _Examiner:
    """Runs in prefetch threads: decides reuse-or-encode for one record and decodes it only when needed."""

    def __init__(self, job: IngestJob, cores: CoreShare):
        self.job = job
        self.cores = cores
        with job.sessions() as session:
            self.engine = session.get_bind()

    def __call__(self, item: FigureRecord | SourceProblem) -> _Examined | SourceProblem:
        if isinstance(item, SourceProblem):
            return item
        path = Path(item.image_path)
        stat = path.stat()
        if not stat_module.S_ISREG(stat.st_mode):  # never open a FIFO or a device: it could block forever
            raise NotRegularFileError(f"{kind_of(stat.st_mode)}, not a regular file; skipped (never opened)")
        with self.engine.connect() as connection:
            known = connection.execute(_KNOWN_FILE, {"collection": self.job.collection_id, "key": item.key}).first()
            if known and (known[0], known[1], known[2]) == (stat.st_size, stat.st_mtime_ns, path_to_text(path)):
                return _Examined(item, stat.st_size, stat.st_mtime_ns, known[3])
            sha = file_sha256(path)
            if connection.execute(_STORED_VECTOR, {"sha": sha}).first() is not None:
                return _Examined(item, stat.st_size, stat.st_mtime_ns, sha)
        self.cores.wait_for_cores()
        pixels = self.job.encoder.preprocess(self.job.open_image(path))
        return _Examined(item, stat.st_size, stat.st_mtime_ns, sha, pixels)


class CoreShare:
    """Who uses the cores while an ingest runs: the model's forward, or the decoding of the next images.

    On a GPU the model leaves the CPU free, so decoding overlaps encoding. On the CPU the model's threads take
    every core, and decoding beside them slowed the model more than decoding between batches costs (2-core bf16,
    1,200-px figures: 0.88 of the bare encoder overlapped vs 0.90 taking turns; noise JPEGs 0.81 vs 0.84). There
    the gate closes while a batch encodes, and every core decodes between batches.
    """

    def __init__(self, encoder: Encoder):
        model_takes_every_core = encoder.device.startswith("cpu")
        self.decode_workers = (os.cpu_count() or 2) if model_takes_every_core else default_workers()
        self._gate = threading.Event() if model_takes_every_core else None
        if self._gate is not None:
            self._gate.set()

    def wait_for_cores(self) -> None:
        """Called by a decoding thread before it decodes: returns at once unless a batch is encoding on the CPU."""
        if self._gate is not None:
            self._gate.wait()

    @contextmanager
    def model_running(self) -> Iterator[None]:
        if self._gate is None:
            yield
            return
        self._gate.clear()
        try:
            yield
        finally:
            self._gate.set()


class _Rate:
    """Items per second over the last few batches, so the ETA follows the current speed."""

    def __init__(self, window: int = 10):
        self.samples: deque[tuple[float, int]] = deque(maxlen=window)

    def update(self, done: int) -> float | None:
        self.samples.append((time.monotonic(), done))
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    def restart(self) -> None:
        self.samples.clear()


def run_ingest(
    job: IngestJob,
    *,
    cancel: Callable[[], bool] | None = None,
    pause: Callable[[], bool] | None = None,
    batch_size: int = 32,
) -> Generator[IngestProgress, None, IngestReport]:
    started = time.monotonic()
    cancel = cancel or (lambda: False)
    tally = _Tally()
    mark = _begin_scan(job)
    total = _estimate_total(job)
    where = str(job.sources[0].path) if len(job.sources) == 1 else f"{len(job.sources)} sources"
    yield IngestProgress("scanning", 0, total, message=f"scanning {where}")

    source_failed: list[bool] = []
    records = _all_records(job, source_failed)
    rate = _Rate()
    batch: list[_Examined] = []
    pending_problems: list[SourceProblem] = []
    cancelled = False
    article_cache: dict = {}
    cores = CoreShare(job.encoder)

    def flush() -> IngestProgress:
        new_problems = _commit_batch(job, batch, pending_problems, mark, tally, article_cache, cores=cores)
        batch.clear()
        pending_problems.clear()
        per_second = rate.update(tally.done)
        eta = (total - tally.done) / per_second if per_second and total and total > tally.done else None
        return IngestProgress("encoding", tally.done, total, per_second, eta, tuple(new_problems))

    examined = prefetch_map(_Examiner(job, cores), records, ahead=max(2 * batch_size, 16), workers=cores.decode_workers)
    for record, result in examined:
        if isinstance(result, SourceProblem):
            pending_problems.append(result)
        elif isinstance(result, BaseException):
            _raise_if_storage(result)
            path = display_text(getattr(record, "image_path", record))
            pending_problems.append(SourceProblem(path, _describe(result)))
        else:
            batch.append(result)
        needs_encoding = sum(1 for e in batch if e.pixels is not None)
        if needs_encoding >= batch_size or len(batch) + len(pending_problems) >= _MAX_RECORDS_PER_COMMIT:
            yield flush()
            if pause is not None and pause():
                yield IngestProgress("paused", tally.done, total)
                if _wait_while_paused(pause, cancel):
                    cancelled = True
                    break
                rate.restart()  # the pause is not part of the speed: no stale rate or ETA after it
            if cancel():
                cancelled = True
                break
    if not cancelled and (batch or pending_problems):
        yield flush()
        cancelled = cancel()

    complete = not cancelled and not source_failed
    if complete:
        yield IngestProgress("indexing", tally.done, total, message="removing figures that are gone")
        tally.removed = _sweep(job, mark)
    report = _finish_scan(job, tally, cancelled, complete, started)
    yield IngestProgress("cancelled" if cancelled else "done", tally.done, total)
    return report


def _begin_scan(job: IngestJob) -> int:
    """A new scan mark for the collection (figures not marked by a complete scan are swept); old problems go."""
    job.work_dir.mkdir(parents=True, exist_ok=True)
    with job.commit_lock, job.sessions.begin() as session:
        collection = session.get(Collection, job.collection_id)
        collection.scan_mark += 1
        collection.status = "incomplete"  # until this run completes: a crash or a cancel leaves it resumable
        session.execute(delete(IngestProblem).where(IngestProblem.collection_id == job.collection_id))
        return collection.scan_mark


def _finish_scan(job: IngestJob, tally: _Tally, cancelled: bool, complete: bool, started: float) -> IngestReport:
    """Stamp the run's end; the collection is "complete" only when every source was read to the end."""
    with job.commit_lock, job.sessions.begin() as session:
        collection = session.get(Collection, job.collection_id)
        collection.last_ingested = time.time()
        collection.status = "complete" if complete else "incomplete"
    return IngestReport(
        collection_id=job.collection_id,
        added=tally.added,
        reused=tally.reused,
        removed=tally.removed,
        failed=tally.failed,
        problems=tuple(tally.problems),
        cancelled=cancelled,
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class EncodedFigure:
    """A figure whose vector was computed elsewhere (corpus shards): what the catalog row and the index need."""

    record: FigureRecord
    size: int
    mtime_ns: int
    sha256: str


def run_encoded(
    job: IngestJob,
    batches: Iterable[tuple[list[EncodedFigure], np.ndarray]],
    *,
    total: int | None = None,
    problems: Iterable[SourceProblem] = (),
    sweep: bool = True,
    cancel: Callable[[], bool] | None = None,
) -> Generator[IngestProgress, None, IngestReport]:
    """Ingest figures that come with their vectors: the same catalog writes, modality labels, index updates and
    (with `sweep`, for a complete set) mark-and-sweep as `run_ingest`, but no file is read and nothing encoded."""
    started = time.monotonic()
    cancel = cancel or (lambda: False)
    tally = _Tally()
    mark = _begin_scan(job)
    article_cache: dict = {}
    pending = list(problems)
    cancelled = False
    for figures, vectors in batches:
        batch = [_Examined(f.record, f.size, f.mtime_ns, f.sha256) for f in figures]
        fresh = {f.sha256: np.asarray(v, dtype=np.float32) for f, v in zip(figures, vectors, strict=True)}
        _commit_batch(job, batch, pending, mark, tally, article_cache, fresh=fresh)
        pending = []
        yield IngestProgress("importing", tally.done, total)
        if cancel():
            cancelled = True
            break
    if pending:
        _commit_batch(job, [], pending, mark, tally, article_cache, fresh={})
    if sweep and not cancelled:
        tally.removed = _sweep(job, mark)
    report = _finish_scan(job, tally, cancelled, not cancelled, started)
    yield IngestProgress("cancelled" if cancelled else "done", tally.done, total)
    return report


def _estimate_total(job: IngestJob) -> int | None:
    counts = [job.reader.estimate_count(spec.path, spec.kind) for spec in job.sources]
    return None if any(c is None for c in counts) else sum(counts)


def _all_records(job: IngestJob, failed: list[bool]) -> Iterator[FigureRecord | SourceProblem]:
    """Every source's records in turn, keys prefixed so that two sources never share one.

    A source that is gone or breaks mid-way is reported and the others are still read; the scan then counts as
    incomplete (nothing is swept).
    """
    for spec in job.sources:
        if not spec.path.exists():
            failed.append(True)
            yield SourceProblem(str(spec.path), "the folder or file is gone; its figures were kept")
            continue
        records = job.reader.iter_source(spec.path, spec.kind, work_dir=job.work_dir)
        for item in _guarded(records, failed, spec.path):
            if spec.key_prefix and isinstance(item, FigureRecord):
                item = replace(item, key=spec.key_prefix + item.key)
            yield item


def _describe(error: BaseException) -> str:
    if isinstance(error, NotRegularFileError):
        return str(error)
    if isinstance(error, OSError):
        return f"cannot read file: {error.strerror or error}"
    return display_text(str(error) or type(error).__name__)


def _raise_if_storage(error: BaseException) -> None:
    """A full disk or a read-only library fails every later item too: stop the run with a clear error instead."""
    if isinstance(error, OSError) and error.filename:
        return  # a file of the source could not be read: that item's problem only
    storage = as_storage_error(error, "indexing")
    if storage is not None:
        raise storage from error


def _guarded(
    source: Iterable[FigureRecord | SourceProblem], failed: list[bool], where: Path
) -> Iterator[FigureRecord | SourceProblem]:
    """A reader that breaks mid-way ends the scan with a reported problem naming the source (and no sweep).

    The readers report bad items themselves; reaching this means a bug or the environment (a full disk while
    extracting a package stops the run: StorageError passes through).
    """
    try:
        yield from source
    except StorageError:
        raise
    except Exception as e:
        storage = as_storage_error(e, f"reading {display_text(where)}")
        if storage is not None:  # a full disk while extracting, a failing drive: every later item would fail too
            raise storage from e
        logger.exception("reading %s failed", where)
        failed.append(True)
        filename = getattr(e, "filename", None)
        yield SourceProblem(display_text(filename or where), f"reading stopped: {display_text(e)}")


def _wait_while_paused(pause: Callable[[], bool] | None, cancel: Callable[[], bool]) -> bool:
    """Block while paused; True if cancelled meanwhile."""
    while pause is not None and pause():
        if cancel():
            return True
        time.sleep(0.05)
    return False


def _encode(job: IngestJob, items: list[_Examined], problems: list[SourceProblem]) -> dict[str, np.ndarray]:
    """Vectors by content hash for items with pixels; a batch the model rejects is retried one by one."""
    unique: dict[str, Any] = {}
    for item in items:
        if item.pixels is not None:
            unique.setdefault(item.sha256, item)
    if not unique:
        return {}
    shas = list(unique)
    try:
        vectors = job.encoder.encode_preprocessed(stack_batch([unique[s].pixels for s in shas]))
        out = dict(zip(shas, np.asarray(vectors, dtype=np.float32), strict=True))
    except Exception:
        logger.warning("a batch failed to encode; retrying image by image", exc_info=True)
        out = {}
        for sha in shas:
            try:
                out[sha] = np.asarray(job.encoder.encode_preprocessed(stack_batch([unique[sha].pixels])))[0]
            except Exception as e:
                where = display_text(unique[sha].record.image_path)
                problems.append(SourceProblem(where, f"the model failed on it: {e}"))
    return _finite_only(out, unique, job.dim, problems)


def _finite_only(
    vectors: dict[str, np.ndarray], items: dict[str, _Examined], dim: int, problems: list[SourceProblem]
) -> dict[str, np.ndarray]:
    """A vector with NaN/inf (or the wrong size) would poison the index and every rebuild: report, never store."""
    good = {}
    for sha, vector in vectors.items():
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape == (dim,) and np.isfinite(vector).all() and np.linalg.norm(vector) > 0:
            good[sha] = vector
        else:
            where = display_text(items[sha].record.image_path)
            problems.append(SourceProblem(where, "the model gave an invalid vector (NaN, infinite or zero); skipped"))
    return good


def _classify(job: IngestJob, fresh: dict[str, np.ndarray]) -> dict[str, tuple[str | None, float | None]]:
    if not fresh or job.classifier is None:
        return {}
    shas = list(fresh)
    try:
        labels = job.classifier.classify(np.stack([fresh[s] for s in shas]))
    except Exception:  # a modality label is a nicety: never lose a batch over it
        logger.warning("modality classification failed", exc_info=True)
        return {}
    return dict(zip(shas, labels, strict=True))


def _commit_batch(
    job: IngestJob,
    batch: list[_Examined],
    problems: list[SourceProblem],
    mark: int,
    tally: _Tally,
    article_cache: dict,
    fresh: dict[str, np.ndarray] | None = None,
    cores: CoreShare | None = None,
) -> list[SourceProblem]:
    """Encode what the batch needs (unless `fresh` vectors come with it), then commit it and update the index."""
    new_problems = list(problems)
    if fresh is None:
        with cores.model_running() if cores else nullcontext():
            fresh = _encode(job, batch, new_problems)
    modality = _classify(job, fresh)
    # The index is updated under the same lock as the commit, so a save from another thread never stamps a
    # generation whose vectors are not in the index yet.
    with job.commit_lock:
        result = _write_batch(job, batch, fresh, modality, new_problems, mark, article_cache)
        if result.replaced_ids:
            job.index.remove(np.asarray(result.replaced_ids, dtype=np.int64))
        if result.changed_ids:
            ids = np.asarray(result.changed_ids, dtype=np.int64)
            job.index.add(ids, _vectors_for(job, result.changed_shas, fresh))
    tally.added += result.added
    tally.reused += result.reused
    tally.failed += len(new_problems)
    tally.done += len(batch) + len(problems)
    tally.problems.extend(new_problems)
    return new_problems


def _write_batch(
    job: IngestJob,
    batch: list[_Examined],
    fresh: dict[str, np.ndarray],
    modality: dict[str, tuple[str | None, float | None]],
    new_problems: list[SourceProblem],
    mark: int,
    article_cache: dict,
) -> BatchResult:
    """One transaction: new vectors, every figure of the batch, the batch's problems."""
    result = BatchResult()
    counted_new: set[str] = set()
    with job.sessions.begin() as session:
        # A vector another batch stored meanwhile (a duplicate examined before that batch committed) is reused.
        stored = set(session.scalars(select(Vector.content_sha256).where(Vector.content_sha256.in_(list(fresh)))))
        session.add_all(
            Vector(content_sha256=sha, data=vector_to_blob(vector))
            for sha, vector in fresh.items()
            if sha not in stored
        )
        session.flush()
        preload_articles(session, [item.record.article for item in batch], article_cache)
        writer = FigureWriter(session, job.collection_id, [item.record.key for item in batch])
        changed: list[Figure] = []
        for item in batch:
            if item.pixels is not None and item.sha256 not in fresh:
                continue  # the model failed on it: already reported
            figure, vector_changed, replaced_id = writer.upsert(
                item.record.key,
                lambda sha=item.sha256: modality.get(sha) or _known_modality(session, sha),
                article_id=upsert_article(session, item.record.article, article_cache),
                image_path=path_to_text(item.record.image_path),
                file_size=item.size,
                mtime_ns=item.mtime_ns,
                content_sha256=item.sha256,
                caption=item.record.caption,
                label=item.record.label,
                figure_id=item.record.figure_id,
                status="ok",
                scan_mark=mark,
            )
            if item.sha256 in fresh and item.sha256 not in counted_new and item.sha256 not in stored:
                counted_new.add(item.sha256)  # a duplicate (in this batch or stored before) counts as reused
                result.added += 1
            else:
                result.reused += 1
            if vector_changed:
                changed.append(figure)
                result.changed_shas.append(item.sha256)
            if replaced_id is not None:
                result.replaced_ids.append(replaced_id)
        writer.finish()
        for problem in new_problems:
            session.add(IngestProblem(collection_id=job.collection_id, path=problem.path, message=problem.message))
        if changed:
            # Only when the searchable set changed (the saved index stays valid otherwise); the figures carry
            # the generation so a stale index can catch up with just them.
            generation = bump_generation(session)
            for figure in changed:
                figure.vector_generation = generation
    result.changed_ids = [figure.id for figure in changed]
    return result


def _known_modality(session: Session, sha: str) -> tuple[str | None, float] | None:
    """The label another figure with this content already has: a confident label, or "unclassified" (label None,
    its best probability kept) — a copy must read the same as its original."""
    row = session.execute(
        select(Figure.modality, Figure.modality_confidence)
        .where(Figure.content_sha256 == sha, Figure.modality_confidence.is_not(None))
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def _vectors_for(job: IngestJob, shas: list[str], fresh: dict[str, np.ndarray]) -> np.ndarray:
    missing = [s for s in set(shas) if s not in fresh]
    known = dict(fresh)
    if missing:
        with job.sessions() as session:
            for sha, blob in session.execute(
                select(Vector.content_sha256, Vector.data).where(Vector.content_sha256.in_(missing))
            ):
                known[sha] = blob_to_vector(blob, job.dim)
    return np.stack([known[s] for s in shas]).astype(np.float32)


def _sweep(job: IngestJob, mark: int) -> int:
    """Delete the collection's figures this complete scan did not see, then unreferenced vectors and articles."""
    with job.commit_lock:
        gone = _delete_unseen(job, mark)
        if gone:
            job.index.remove(np.asarray(gone, dtype=np.int64))
    return len(gone)


def _delete_unseen(job: IngestJob, mark: int) -> list[int]:
    with job.sessions.begin() as session:
        gone = list(
            session.scalars(
                select(Figure.id).where(Figure.collection_id == job.collection_id, Figure.scan_mark != mark)
            )
        )
        if gone:
            for part in chunked(gone):
                session.execute(delete(Figure).where(Figure.id.in_(part)))
            collect_garbage(session)
            bump_generation(session)
    return gone


def collect_garbage(session: Session) -> None:
    """Vectors and articles no figure refers to any more."""
    session.execute(text("DELETE FROM vectors WHERE content_sha256 NOT IN (SELECT content_sha256 FROM figures)"))
    session.execute(
        text("DELETE FROM articles WHERE id NOT IN (SELECT article_id FROM figures WHERE article_id IS NOT NULL)")
    )
