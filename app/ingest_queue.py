"""The indexing queue the window fills: what to index, and the one background job that drains it.

Plain Python (no Qt), so the rules are tested without a window: the sources of one request become ONE collection
(the packages a user imported in one action, named by the user); a request may also resume an existing collection;
a source that cannot even be registered is reported and the others go on; pausing and cancelling reach the engine
between batches.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from app.ingest_events import SourceFailed, SourceFinished, SourceStarted
from app.problems import describe_error
from engine.errors import PmcSearchError


@dataclass(frozen=True)
class IngestRequest:
    sources: tuple[Path, ...] = ()
    kind: str = "auto"
    name: str | None = None  # the collection's name (None: the folder's or file's own name)
    collection_id: int | None = None  # resume (re-index) this existing collection instead

    def describe(self) -> Path:
        return self.sources[0] if self.sources else Path(f"collection {self.collection_id}")


class IngestQueue:
    """Requests waiting to be indexed, with the job's pause and cancel switches."""

    def __init__(self) -> None:
        self.pending: collections.deque[IngestRequest] = collections.deque()
        self.cancel = threading.Event()
        self.pause = threading.Event()

    def put(self, request: IngestRequest) -> None:
        self.pending.append(request)

    def drop_pending(self) -> None:
        self.pending.clear()

    def job(self, library, stopped: threading.Event) -> Callable[[], Generator[object, None, None]]:
        """The generator a worker runs: each request in turn until the queue is empty or cancelled."""
        pending, cancel, pause = self.pending, self.cancel, self.pause

        def ingest_job() -> Generator[object, None, None]:
            try:
                while pending and not cancel.is_set():
                    yield from _run_one(library, pending.popleft(), cancel.is_set, pause.is_set)
                pending.clear()
            finally:
                stopped.set()

        return ingest_job


def _run_one(library, request: IngestRequest, cancelled, paused) -> Generator[object, None, None]:
    try:
        if request.collection_id is not None:
            collection = next(c for c in library.collections() if c.id == request.collection_id)
        else:
            sources = request.sources[0] if len(request.sources) == 1 else list(request.sources)
            collection = library.add_collection(sources, kind=request.kind, name=request.name)
    except (PmcSearchError, StopIteration) as error:  # one bad source must not stop the others
        yield SourceFailed(request.describe(), describe_error(error))
        return
    yield SourceStarted(collection)
    try:
        report = yield from library.ingest(collection.id, cancel=cancelled, pause=paused)
    except PmcSearchError as error:  # e.g. every source of the collection is gone
        yield SourceFailed(request.describe(), describe_error(error))
        return
    yield SourceFinished(collection, report)
