"""The last few search pages of an open library, so a repeated query is answered at once.

Search-as-you-type asks the same thing again all the time: a letter typed and deleted, the query that was on
screen before a figure was opened, Back in the detail pane. The text tower's vector cache spares the encode, but
ranking 100k figures against their background and loading the page still costs ~30 ms; a page kept here costs a
dictionary lookup.

A page is valid only for the catalog it was computed from: every commit through the library's sessions (an ingest
batch, a removed collection, relabelled modalities, re-encoded vectors) empties the cache, and a search that was
running across such a commit does not store its page. Only a library opened for writing caches: it holds the lock,
so no other process can change the catalog under it. Queries with an image are not cached (the file may change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from engine.types import SearchPage, SearchQuery

RECENT_PAGES = 64


class RecentPages:
    def __init__(self, sessions: sessionmaker[Session], *, size: int = RECENT_PAGES):
        self._size = size
        self._pages: OrderedDict[tuple, SearchPage] = OrderedDict()
        self._lock = threading.Lock()
        self._version = 0  # bumped by every commit: a page computed under an older version is not stored
        event.listen(sessions, "after_commit", self._on_commit)

    def _on_commit(self, _session) -> None:
        self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._version += 1
            self._pages.clear()

    @property
    def version(self) -> int:
        return self._version

    @staticmethod
    def key(query: SearchQuery, encoder: object) -> tuple | None:
        """The cache key of a query (None: not cacheable). The encoder is part of it: its vectors rank."""
        if any(term.image is not None for term in query.terms):
            return None
        try:
            hash(query)
        except TypeError:
            return None
        return (query, id(encoder))

    def get(self, key: tuple) -> SearchPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: SearchPage, version: int) -> None:
        """Keep `page` unless the catalog changed since `version` was read (before the search began)."""
        with self._lock:
            if version != self._version:
                return
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self._size:
                self._pages.popitem(last=False)
