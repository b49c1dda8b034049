"""Splitting long id lists for `IN (...)` clauses: the one place that knows SQLite's bound-parameter limit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# SQLite before 3.32 refuses statements with more than 999 bound parameters (SQLITE_MAX_VARIABLE_NUMBER); builds of
# Python still ship such versions. 900 leaves room for the few other parameters a query binds.
SQLITE_MAX_PARAMETERS = 900


def chunked(items: Sequence[T], size: int = SQLITE_MAX_PARAMETERS) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    if size < 1:
        raise ValueError("size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]
