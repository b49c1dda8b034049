"""Qt adapter over the plain-Python state: runs every slow engine call in a worker and reports by signals.

Workers get immutable values (paths, SearchQuery, ids) and hand back immutable values (SearchPage,
IngestProgress, …); the GUI thread never waits on the engine, not even to close a library. Searches are
coalesced: at most one runs, and when it finishes the newest pending query starts — results of a superseded
request are dropped by id.

Switching libraries is transactional: the new library is opened before the old one is closed, so a switch that
fails (a model that cannot load, a locked folder) leaves the old library open and in use. Only a reopen of the
same folder (another device) must close first; if that reopen fails, the previous way of opening it is restored.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.controller import RequestTracker, SearchState
from app.ingest_events import SourceFailed, SourceFinished, SourceStarted
from app.ingest_queue import IngestQueue, IngestRequest
from app.library_opener import LibraryOpener, library_opener
from app.problems import Problem, describe_error
from engine.errors import DownloadError, LibraryDamagedError, LibraryLockedError, LibraryReadOnlyError
from engine.types import IngestProgress, ModelSpec

if TYPE_CHECKING:
    from superqt.utils import WorkerBase

    from engine.library import FigureLibrary

logger = logging.getLogger(__name__)

# Long jobs (indexing, model load) each hold a pool thread; keep threads free for searches on 2-core machines.
_MIN_POOL_THREADS = 4
_COUNTS_REFRESH_S = 2.0
_INGEST_STOP_WAIT_S = 60.0  # a closing library waits this long for its ingest to reach a batch boundary


@dataclass(frozen=True)
class OpenRequest:
    """How a library was (or is to be) opened: enough to open it again the same way."""

    path: Path
    spec: ModelSpec
    device: str = "auto"
    offline: bool = False
    read_only: bool = False


class AppController(QObject):
    library_opening = Signal(str)  # path
    library_opened = Signal(object)  # LibraryInfo
    library_closed = Signal()
    library_failed = Signal()  # opening failed (the reason went to library_locked / model_missing / error)
    library_locked = Signal(str)  # path held by another running instance
    library_read_only = Signal(str)  # why a library is opened read-only although writing was asked for
    library_damaged = Signal(str, str)  # path, what is wrong: the window offers the repair
    # The model's files are not here and cannot be downloaded now (offline, no connection): app.problems.Problem
    model_missing = Signal(object)
    model_progress = Signal(object)  # engine.hub.DownloadProgress (from the worker thread)
    results_ready = Signal(int, object)  # request id, SearchPage
    captions_ready = Signal(str, object)  # what was described (its label), list[CaptionMatch]
    figure_ready = Signal(object)  # SearchResult of a figure asked for by id
    searching_changed = Signal(bool)
    collections_changed = Signal(object)  # list[CollectionInfo]
    facets_changed = Signal(object)  # engine.types.Facets
    ingest_running_changed = Signal(bool)
    ingest_source_started = Signal(object)  # CollectionInfo
    ingest_progress = Signal(object)  # IngestProgress
    ingest_finished = Signal(object)  # IngestReport
    ingest_paused_changed = Signal(bool)
    error = Signal(object)  # app.problems.Problem: one error sink; the window shows it

    def __init__(self, opener: LibraryOpener | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._opener = opener or library_opener()
        self.library: FigureLibrary | None = None
        self.opened_with: OpenRequest | None = None
        self.state = SearchState()
        self.requests = RequestTracker()
        self._workers: set[WorkerBase] = set()
        self._search_running = False
        self._search_pending = False
        self._ingest_worker = None
        self._ingest = IngestQueue()
        self._damaged_request: OpenRequest | None = None
        self._ingest_stopped = threading.Event()  # replaced per ingest job; set when that job has stopped
        self._ingest_stopped.set()
        self._last_info = None
        self._last_counts_refresh = 0.0
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), _MIN_POOL_THREADS))

    # ------------------------------------------------------------------------------------------- workers
    def run_job(self, func, *args, on_return=None, on_yield=None, on_error=None, **kwargs):
        """Run `func` (plain or generator) in the pool; results come back on the GUI thread by signal."""
        from superqt.utils import create_worker  # superqt loads a dozen widget modules: not before the window shows

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
        self.error.emit(describe_error(error))

    @property
    def busy(self) -> bool:
        return bool(self._workers)

    # ------------------------------------------------------------------------------------------- library
    def open_library(
        self, path: Path, spec: ModelSpec, *, device: str = "auto", offline: bool = False, read_only: bool = False
    ) -> None:
        request = OpenRequest(Path(path), spec, device, offline, read_only)
        self.library_opening.emit(str(request.path))
        previous = self.opened_with
        if previous is not None and previous.path == request.path:
            # The same folder cannot be open twice (its lock): close it, then reopen; restore it if that fails.
            self.close_library(then=lambda: self._start_open(request, restore=previous))
        else:
            self._start_open(request, restore=None)

    def _start_open(self, request: OpenRequest, *, restore: OpenRequest | None) -> None:
        opener, progress = self._opener, self.model_progress.emit

        def open_job():
            library = opener(
                request.path, request.spec, device=request.device, offline=request.offline,
                read_only=request.read_only, progress=progress,
            )
            try:
                return library, library.info()  # counting a big library's figures is a query: not on the GUI thread
            except BaseException:
                library.close()
                raise

        def failed(error: BaseException) -> None:
            self.library_failed.emit()
            if isinstance(error, LibraryReadOnlyError) and not request.read_only:
                self.library_read_only.emit(str(error))  # read-only media or folder: it can still be searched
                self._start_open(dataclasses.replace(request, read_only=True), restore=restore)
                return
            if isinstance(error, LibraryDamagedError):
                self._damaged_request = request
                self.library_damaged.emit(str(request.path), str(error))
            if isinstance(error, LibraryLockedError):
                self.library_locked.emit(str(request.path))
            elif isinstance(error, DownloadError):  # offline, or the download server cannot be reached
                self.model_missing.emit(describe_error(error))
            else:
                self._on_worker_error(error)
            if restore is not None:
                self._start_open(restore, restore=None)
            elif self.library is not None and self.opened_with is not None:
                self.library_opened.emit(self._last_info)  # the old library is still the one in use

        self.run_job(open_job, on_return=lambda opened: self._on_library_opened(request, *opened), on_error=failed)

    def repair_library(self, on_done, on_error) -> None:
        """Repair the library that last failed to open as damaged (as `pmc-search check --repair`), then open it."""
        request = self._damaged_request
        opener = self._opener

        def reopen(path: Path):
            return opener(path, request.spec, device=request.device, offline=request.offline, progress=None)

        def repair_job():
            from engine.library.repair import check_library

            return check_library(request.path, repair=True, reopen=reopen)

        def done(report) -> None:
            on_done(report)
            if report.repaired or report.healthy:
                self.open_library(request.path, request.spec, device=request.device, offline=request.offline)

        self.run_job(repair_job, on_return=done, on_error=on_error)

    def _on_library_opened(self, request: OpenRequest, library: FigureLibrary, info) -> None:
        old = self.library
        if old is not None:
            self._close_in_worker(old, then=None, announce=False)
        self.library, self.opened_with, self._last_info = library, request, info
        self.library_opened.emit(info)
        self.refresh_library_views()
        if not self.state.is_empty:
            self.search()

    def refresh_library_views(self) -> None:
        library = self.library
        if library is None:
            return
        def show(pair) -> None:
            if self.library is library:  # a refresh of a library closed meanwhile must not reach the panels
                self.collections_changed.emit(pair[0])
                self.facets_changed.emit(pair[1])

        self.run_job(lambda: (library.collections(), library.facets()), on_return=show)

    def close_library(self, then: Callable[[], None] | None = None) -> None:
        """Close the open library in a worker (its ingest stops at a batch boundary first); then call `then`."""
        library = self.library
        if library is None:
            if then is not None:
                then()
            return
        self.library, self.opened_with = None, None
        self._close_in_worker(library, then=then, announce=True)

    def _close_in_worker(self, library: FigureLibrary, *, then, announce: bool) -> None:
        self.requests.invalidate("search")  # results of the closing library must not reach the screen
        self.cancel_ingest()
        stopped = self._ingest_stopped

        def close_job() -> None:
            if not stopped.wait(_INGEST_STOP_WAIT_S):
                logger.warning("the indexing job did not stop in %.0f s; closing anyway", _INGEST_STOP_WAIT_S)
            library.close()  # saves the index: seconds on a big library, never on the GUI thread

        def closed(_=None) -> None:
            if announce:
                self.library_closed.emit()
            if then is not None:
                then()

        self.run_job(close_job, on_return=closed, on_error=lambda e: (self._on_worker_error(e), closed()))

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

    def browse(self, collection_id: int) -> int | None:
        """Show a collection's figures without a query; a later search supersedes it (one request id kind)."""
        library = self.library
        if library is None:
            return None
        request_id = self.requests.next("search")
        self.searching_changed.emit(True)

        def done(page) -> None:
            self.searching_changed.emit(False)
            if self.requests.is_current("search", request_id):
                self.results_ready.emit(request_id, page)

        def failed(error: BaseException) -> None:
            self.searching_changed.emit(False)
            self._on_worker_error(error)

        self.run_job(library.browse, collection_id, limit=self.state.limit, on_return=done, on_error=failed)
        return request_id

    def describe(self, image, label: str) -> None:
        """Captions that fit an image (a figure id, a file path or a PIL image): `captions_ready` brings them."""
        library = self.library
        if library is None:
            return
        request_id = self.requests.next("describe")

        def done(matches) -> None:
            if self.requests.is_current("describe", request_id):
                self.captions_ready.emit(label, matches)

        self.run_job(library.captions_for_image, image, limit=12, on_return=done)

    def fetch_figure(self, figure_id: int) -> None:
        library = self.library
        if library is not None:
            self.run_job(library.figure, figure_id, on_return=self.figure_ready.emit)

    # ------------------------------------------------------------------------------------------- indexing
    @property
    def ingest_running(self) -> bool:
        return self._ingest_worker is not None

    def add_sources(self, sources: list[Path], kind: str = "auto", name: str | None = None) -> None:
        """Index folders / PMC packages in the background. Several sources become ONE collection called `name`
        (the packages a user imported in one action); one background job drains the queue."""
        self._queue_ingest(IngestRequest(tuple(Path(s) for s in sources), kind, name))

    def resume_collection(self, collection_id: int) -> None:
        """Index an existing collection again (after a cancelled run): what is indexed is reused, the rest added."""
        self._queue_ingest(IngestRequest(collection_id=collection_id))

    def _queue_ingest(self, request: IngestRequest) -> None:
        if self.library is None:
            self.error.emit(Problem("Open a library before adding figures."))
            return
        self._ingest.put(request)
        if self._ingest_worker is None:
            self._start_ingest()

    def _start_ingest(self) -> None:
        self._ingest.cancel.clear()
        self._ingest.pause.clear()
        self._ingest_stopped = stopped = threading.Event()
        worker = self.run_job(self._ingest.job(self.library, stopped), on_yield=self._on_ingest_event)
        self._ingest_worker = worker
        worker.finished.connect(self._on_ingest_done)
        self.ingest_running_changed.emit(True)

    def _on_ingest_event(self, event: object) -> None:
        if isinstance(event, IngestProgress):
            self.ingest_progress.emit(event)
            now = time.monotonic()
            if now - self._last_counts_refresh > _COUNTS_REFRESH_S:  # collection counts grow while indexing
                self._last_counts_refresh = now
                self.refresh_library_views()
        elif isinstance(event, SourceStarted):
            self.ingest_source_started.emit(event.collection)
            self.refresh_library_views()
        elif isinstance(event, SourceFinished):
            self.ingest_finished.emit(event.report)
            self.refresh_library_views()
        elif isinstance(event, SourceFailed):
            self.error.emit(event.message)

    def _on_ingest_done(self) -> None:
        self._ingest_worker = None
        self.ingest_running_changed.emit(False)
        self.refresh_library_views()
        if not self.state.is_empty:
            self.search()  # new figures may now match the query on screen

    def pause_ingest(self) -> None:
        """The job stops at its next batch boundary; the window says "paused" at once."""
        if self._ingest_worker is not None:
            self._ingest.pause.set()
            self.ingest_paused_changed.emit(True)

    def resume_ingest(self) -> None:
        if self._ingest_worker is not None:
            self._ingest.pause.clear()
            self.ingest_paused_changed.emit(False)

    def cancel_ingest(self) -> None:
        """Stops between batches: what is indexed stays (the collection is marked incomplete), the rest of the
        queue is dropped."""
        self._ingest.drop_pending()
        self._ingest.cancel.set()
        if self._ingest.pause.is_set():
            self._ingest.pause.clear()  # a paused job must run on to see the cancel
            self.ingest_paused_changed.emit(False)

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
    def shutdown(self, then: Callable[[], None] | None = None) -> None:
        """Stop indexing at its next batch boundary and close the library, in a worker; `then` runs on the GUI thread
        when done. (Indexing is cancelled, not aborted: an aborted generator would skip its own cleanup.)"""
        self.cancel_ingest()
        self.close_library(then=then)
