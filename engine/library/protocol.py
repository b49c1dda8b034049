"""`FigureLibrary`: what front ends use of a library, as a typed interface.

The GUI and the CLIs program against this, never against `Library`'s internals; the real `Library` and the GUI
tests' in-memory fake both implement it (a test checks both against it). Every value crossing it is an immutable
dataclass from `engine.types`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engine.types import (
    CaptionMatch,
    CollectionInfo,
    Facets,
    IngestProgress,
    IngestReport,
    LibraryInfo,
    SearchFilters,
    SearchPage,
    SearchQuery,
    SearchResult,
    SourceProblem,
)


@runtime_checkable
class FigureLibrary(Protocol):
    path: Path
    read_only: bool

    # facts
    def info(self) -> LibraryInfo: ...

    def collections(self) -> list[CollectionInfo]: ...

    def facets(self) -> Facets: ...

    def problems(self, collection_id: int | None = None) -> list[SourceProblem]: ...

    # search
    def search(self, query: SearchQuery) -> SearchPage: ...

    def similar_to(self, figure_id: int, *, limit: int = 50, filters: SearchFilters | None = None) -> SearchPage: ...

    def captions_for_image(self, image: Any, *, limit: int = 10) -> list[CaptionMatch]: ...

    def figure(self, figure_id: int) -> SearchResult: ...

    def browse(self, collection_id: int, *, offset: int = 0, limit: int = 200) -> SearchPage:
        """A collection's figures without a query (reading order), one page at a time."""
        ...

    # changes (refused on a read-only library)
    def add_collection(
        self, source: str | Path | Sequence[str | Path], *, kind: str = "auto", name: str | None = None
    ) -> CollectionInfo:
        """One collection of one source, or of several (imported in one action)."""
        ...

    def remove_collection(self, collection_id: int) -> None: ...

    def ingest(
        self,
        collection_id: int,
        *,
        cancel: Callable[[], bool] | None = None,
        pause: Callable[[], bool] | None = None,
        batch_size: int = 32,
    ) -> Generator[IngestProgress, None, IngestReport]:
        """The ingest job: a generator that yields progress and returns the report (see `engine.progress`)."""
        ...

    def import_vectors(
        self, collection_id: int, vectors_dir: str | Path, *, cancel: Callable[[], bool] | None = None
    ) -> Generator[IngestProgress, None, IngestReport]:
        """Like `ingest`, with the vectors taken from `pmc-search embed-corpus` shards instead of the model."""
        ...

    def close(self) -> None: ...
