"""Qt adapter over the plain-Python state: runs every slow engine call in a worker and reports by signals.

Workers get immutable values (paths, SearchQuery, ids) and hand back immutable values (SearchPage,
IngestProgress, …); the GUI thread never waits on the engine. Searches are coalesced: at most one runs, and
when it finishes the newest pending query starts — results of a superseded request are dropped by id.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import WorkerBase, create_worker

from app.controller import RequestTracker, SearchState
from app.library_session import open_or_create_library
from engine.errors import LibraryLockedError, OfflineError, PmcSearchError, UserInputError
from engine.types import IngestReport, ModelSpec

logger = logging.getLogger(__name__)

# Long jobs (indexing, model load) each hold a pool thread; keep threads free for searches on 2-core machines.
_MIN_POOL_THREADS = 4
_COUNTS_REFRESH_S = 2.0


def user_message(error: BaseException) -> str:
    """Words for the one place the GUI shows errors: ours are meant for users, others are our bugs."""
    if isinstance(error, (UserInputError, PmcSearchError)):
        return str(error)
    return f"Unexpected error ({type(error).__name__}): {error}. Details are in the log file."


class AppController(QObject):
    library_opening = Signal(str)  # path
    library_opened = Signal(object)  # LibraryInfo
    library_closed = Signal()
    library_failed = Signal()  # opening failed (the reason went to library_locked / model_offline / error)
    library_locked = Signal(str)  # path held by another running instance
    model_offline = Signal(str)  # the OfflineError's explanation
    model_progress = Signal(object)  # engine.hub.DownloadProgress (from the worker thread)
    results_ready = Signal(int, object)  # request id, SearchPage
    searching_changed = Signal(bool)
    collections_changed = Signal(object)  # list[CollectionInfo]
    facets_changed = Signal(object)  # dict from Library.facets()
    ingest_running_changed = Signal(bool)
    ingest_source_started = Signal(object)  # CollectionInfo
    ingest_progress = Signal(object)  # IngestProgress
    ingest_finished = Signal(object)  # IngestReport
    ingest_paused_changed = Signal(bool)
    error = Signal(str)  # one error sink; the window shows it

    def __init__(self, opener: Callable = open_or_create_library, parent: QObject | None = None):
        super().__init__(parent)
        self._opener = opener
        self.library = None
        self.state = SearchState()
        self.requests = RequestTracker()
        self._workers: set[WorkerBase] = set()
        self._search_running = False
        self._search_pending = False
        self._ingest_worker = None
        self._ingest_queue: collections.deque[tuple[Path, str]] = collections.deque()
        self._ingest_cancel = threading.Event()
        self._last_counts_refresh = 0.0
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), _MIN_POOL_THREADS))

    # ------------------------------------------------------------------------------------------- workers
    def run_job(self, func, *args, on_return=None, on_yield=None, on_error=None, **kwargs):
        """Run `func` (plain or generator) in the pool; results come back on the GUI thread by signal."""
        connect = {"errored": on_error or self._on_worker_error}
        if on_return:
            connect["returned"] = on_return
        if on_yield:
            connect["yielded"] = on_yield
        worker = create_worker(func, *args, _connect=connect, _start_thread=False, **kwargs)
        self._workers.add(worker)
        worker.finished.connect(lambda w=worker: self._workers.discard(w))
        worker.start()
        return worker

    def _on_worker_error(self, error: BaseException) -> None:
        logger.error("background job failed: %s", error, exc_info=error)
        self.error.emit(user_message(error))

    @property
    def busy(self) -> bool:
        return bool(self._workers)

    # ------------------------------------------------------------------------------------------- library
    def open_library(
        self, path: Path, spec: ModelSpec, *, device: str = "auto", offline: bool = False, read_only: bool = False
    ) -> None:
        self.close_library()
        self.library_opening.emit(str(path))

        def open_job():
            library = self._opener(
                Path(path), spec, device=device, offline=offline, read_only=read_only,
                progress=self.model_progress.emit,
            )
            return library, library.info()  # counting figures of a big library is a query: not on the GUI thread

        def failed(error: BaseException) -> None:
            self.library_failed.emit()
            if isinstance(error, LibraryLockedError):
                self.library_locked.emit(str(path))
            elif isinstance(error, OfflineError):
                self.model_offline.emit(str(error))
            else:
                self._on_worker_error(error)

        self.run_job(open_job, on_return=self._on_library_opened, on_error=failed)

    def _on_library_opened(self, opened) -> None:
        library, info = opened
        self.library = library
        self.library_opened.emit(info)
        self.refresh_library_views()
        if not self.state.is_empty:
            self.search()

    def refresh_library_views(self) -> None:
        library = self.library
        if library is None:
            return
        self.run_job(
            lambda: (library.collections(), library.facets()),
            on_return=lambda pair: (self.collections_changed.emit(pair[0]), self.facets_changed.emit(pair[1])),
        )

    def close_library(self) -> None:
        if self.library is None:
            return
        self.cancel_ingest()
        self.wait_for_workers(10_000)
        library, self.library = self.library, None
        library.close()
        self.library_closed.emit()

    # ------------------------------------------------------------------------------------------- search
    def set_state(self, state: SearchState) -> None:
        changed = state != self.state
        self.state = state
        if changed:
            self.search()

    def search(self) -> int | None:
        """Run the current state's query; returns its request id (None when there is nothing to run)."""
        query = self.state.to_query()
        if query is None or self.library is None:
            self.requests.invalidate("search")
            if query is None:
                self.results_ready.emit(0, None)
            return None
        request_id = self.requests.next("search")
        if self._search_running:
            self._search_pending = True  # the running one finishes first; then the newest state runs
            return request_id
        self._run_search(request_id, query)
        return request_id

    def _run_search(self, request_id: int, query) -> None:
        self._search_running = True
        self.searching_changed.emit(True)
        library = self.library

        def done(page) -> None:
            self._search_finished()
            if self.requests.is_current("search", request_id):
                self.results_ready.emit(request_id, page)

        def failed(error: BaseException) -> None:
            self._search_finished()
            if self.requests.is_current("search", request_id):
                self._on_worker_error(error)

        self.run_job(library.search, query, on_return=done, on_error=failed)

    def _search_finished(self) -> None:
        self._search_running = False
        self.searching_changed.emit(False)
        if self._search_pending:
            self._search_pending = False
            query = self.state.to_query()
            if query is not None and self.library is not None:
                self._run_search(self.requests.next("search"), query)

    # ------------------------------------------------------------------------------------------- indexing
    @property
    def ingest_running(self) -> bool:
        return self._ingest_worker is not None

    def add_sources(self, sources: list[Path], kind: str = "auto") -> None:
        """Queue folders / PMC packages for indexing; one background job drains the queue."""
        if self.library is None:
            self.error.emit("Open a library before adding figures.")
            return
        for source in sources:
            self._ingest_queue.append((Path(source), kind))
        if self._ingest_worker is None:
            self._start_ingest()

    def _start_ingest(self) -> None:
        self._ingest_cancel.clear()
        library, queue, cancel = self.library, self._ingest_queue, self._ingest_cancel

        def ingest_job() -> Generator[tuple[str, object], None, None]:
            while queue and not cancel.is_set():
                source, kind = queue.popleft()
                try:
                    collection = library.add_collection(source, kind=kind)
                except PmcSearchError as error:  # one bad source must not stop the others
                    yield "error", error
                    continue
                yield "collection", collection
                report = yield from _tag_progress(library.ingest(collection.id, cancel=cancel.is_set))
                yield "report", report
            queue.clear()

        worker = self.run_job(ingest_job, on_yield=self._on_ingest_event)
        self._ingest_worker = worker
        worker.paused.connect(lambda: self.ingest_paused_changed.emit(True))
        worker.resumed.connect(lambda: self.ingest_paused_changed.emit(False))
        worker.finished.connect(self._on_ingest_done)
        self.ingest_running_changed.emit(True)

    def _on_ingest_event(self, event: tuple[str, object]) -> None:
        kind, value = event
        if kind == "progress":
            self.ingest_progress.emit(value)
            now = time.monotonic()
            if now - self._last_counts_refresh > _COUNTS_REFRESH_S:  # collection counts grow while indexing
                self._last_counts_refresh = now
                self.refresh_library_views()
        elif kind == "collection":
            self.ingest_source_started.emit(value)
            self.refresh_library_views()
        elif kind == "report":
            self.ingest_finished.emit(value)
            self.refresh_library_views()
        elif kind == "error":
            self.error.emit(user_message(value))

    def _on_ingest_done(self) -> None:
        self._ingest_worker = None
        self.ingest_running_changed.emit(False)
        self.refresh_library_views()
        if not self.state.is_empty:
            self.search()  # new figures may now match the query on screen

    def pause_ingest(self) -> None:
        if self._ingest_worker is not None:
            self._ingest_worker.pause()

    def resume_ingest(self) -> None:
        if self._ingest_worker is not None:
            self._ingest_worker.resume()

    def cancel_ingest(self) -> None:
        """Stops between batches: what is indexed stays, the rest of the queue is dropped."""
        self._ingest_queue.clear()
        self._ingest_cancel.set()
        if self._ingest_worker is not None:
            self._ingest_worker.resume()  # a paused job must run on to see the cancel

    def remove_collection(self, collection_id: int) -> None:
        library = self.library
        if library is None:
            return

        def removed(_):
            self.refresh_library_views()
            if not self.state.is_empty:
                self.search()

        self.run_job(library.remove_collection, collection_id, on_return=removed)

    # ------------------------------------------------------------------------------------------- shutdown
    def wait_for_workers(self, msecs: int) -> bool:
        return QThreadPool.globalInstance().waitForDone(msecs)

    def shutdown(self, msecs: int = 10_000) -> None:
        self.cancel_ingest()
        for worker in list(self._workers):
            worker.quit()
        self.wait_for_workers(msecs)
        if self.library is not None:
            library, self.library = self.library, None
            library.close()


def _tag_progress(ingest: Generator) -> Generator[tuple[str, object], None, IngestReport]:
    while True:
        try:
            progress = next(ingest)
        except StopIteration as stop:  # the generator's return value is the report
            return stop.value
        yield "progress", progress
