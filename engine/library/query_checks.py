"""A search query checked and normalised before it reaches SQLite, hnswlib or the model.

Front ends build queries from whatever a user typed; out-of-range numbers used to surface as OverflowError from
SQLite ("Python int too large to convert to SQLite INTEGER"), a NaN weight as "similarity": NaN, undecodable bytes
as a TypeError in the tokenizer. Here each becomes a UserInputError that names the field, or clean text.
"""

from __future__ import annotations

import math
from dataclasses import replace

from engine.errors import UserInputError
from engine.text import clean_text
from engine.types import QueryTerm, SearchFilters, SearchQuery

MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000
MAX_WEIGHT = 100.0
YEAR_RANGE = (0, 9999)
MAX_ID = 2**63 - 1  # SQLite INTEGER


def _int_in(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserInputError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise UserInputError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _finite(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserInputError(f"{name} must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise UserInputError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return float(value)


def _term(term: QueryTerm) -> QueryTerm:
    weight = _finite("a query term's weight", term.weight, -MAX_WEIGHT, MAX_WEIGHT)
    figure_id = term.figure_id
    if figure_id is not None:
        figure_id = _int_in("a figure id", figure_id, 0, MAX_ID)
    text = clean_text(term.text) if isinstance(term.text, str) else term.text
    if text is not None and not isinstance(text, str):
        raise UserInputError(f"query text must be text, not {type(text).__name__}")
    return replace(term, text=text, weight=weight, figure_id=figure_id)


def _filters(filters: SearchFilters) -> SearchFilters:
    for name in ("year_min", "year_max"):
        value = getattr(filters, name)
        if value is not None:
            _int_in(name.replace("_", " "), value, *YEAR_RANGE)
    for collection_id in filters.collection_ids:
        _int_in("a collection id", collection_id, 0, MAX_ID)
    return replace(
        filters,
        journals=tuple(clean_text(str(j)) for j in filters.journals),
        modalities=tuple(clean_text(str(m)) for m in filters.modalities),
        pmcids=tuple(clean_text(str(p)) for p in filters.pmcids),
    )


def checked_query(query: SearchQuery) -> SearchQuery:
    """`query` with every number in range and every text valid Unicode; UserInputError otherwise."""
    _int_in("the number of results", query.limit, 0, MAX_LIMIT)
    _int_in("the offset", query.offset, 0, MAX_OFFSET)
    if query.min_score is not None:
        _finite("the minimum score", query.min_score, -math.inf, math.inf)  # on the shown scale: any number
    return replace(query, terms=tuple(_term(t) for t in query.terms), filters=_filters(query.filters))
