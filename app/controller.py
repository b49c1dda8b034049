"""The app's state in plain Python: what the user is asking for, and which request is the current one.

The Qt side (app/ui/app_controller.py) only adapts this to signals and workers, so the rules — what makes a
query, when a result is stale — are tested without a window.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.types import QueryTerm, SearchFilters, SearchQuery, SortOrder


@dataclass(frozen=True)
class QueryImage:
    """The image half of a query: a file on disk or an in-memory PIL image (pasted / dropped image data)."""

    label: str  # what the chip says: the file name, "Pasted image", or the web address
    path: Path | None = None
    image: Any = None  # PIL.Image.Image when there is no file
    figure_id: int | None = None  # a figure of the open library ("Find similar"): its stored vector is used
    preview: Any = None  # a small RGB PIL image for the chip, decoded by the engine (DICOM windowing, 16-bit)

    def describe_target(self) -> Any:
        """What the Describe view asks about: the library figure, else the file, else the image itself."""
        if self.figure_id is not None:
            return self.figure_id
        return self.path if self.path is not None else self.image

    def to_term(self) -> QueryTerm:
        if self.figure_id is not None:
            return QueryTerm(figure_id=self.figure_id)
        return QueryTerm(image=self.path if self.path is not None else self.image)


@dataclass(frozen=True)
class SearchState:
    text: str = ""
    image: QueryImage | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    min_score: float | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    limit: int = 200

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and self.image is None

    def to_query(self) -> SearchQuery | None:
        """None when there is nothing to search for (the grid then shows the library's empty/idle state)."""
        terms = []
        if self.image is not None:
            terms.append(self.image.to_term())
        if self.text.strip():
            terms.append(QueryTerm(text=self.text.strip()))
        if not terms:
            return None
        return SearchQuery(
            terms=tuple(terms), filters=self.filters, min_score=self.min_score, sort=self.sort, limit=self.limit
        )

    def with_changes(self, **changes) -> SearchState:
        return replace(self, **changes)


class RequestTracker:
    """Hands out increasing ids per kind of request; only the newest id of a kind is current.

    A search that finishes after the user typed more is stale and must not overwrite the newer results.
    Thread-safe because workers may ask `is_current` before doing expensive follow-up work.
    """

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, kind: str) -> int:
        with self._lock:
            request_id = next(self._counter)
            self._latest[kind] = request_id
            return request_id

    def is_current(self, kind: str, request_id: int) -> bool:
        with self._lock:
            return self._latest.get(kind) == request_id

    def invalidate(self, kind: str) -> None:
        with self._lock:
            self._latest.pop(kind, None)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {secs:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left"


def describe_progress(done: int, total: int | None, rate: float | None, eta: float | None) -> str:
    """"1,234 of 5,000 figures · 42 figures/s · about 1 min 30 s left" (what the indexing bar says)."""
    parts = [f"{done:,} of {total:,} figures" if total else f"{done:,} figures"]
    if rate:
        parts.append(f"{rate:,.1f} figures/s" if rate < 10 else f"{rate:,.0f} figures/s")
    eta_text = format_eta(eta)
    if eta_text:
        parts.append(eta_text)
    return " · ".join(parts)
