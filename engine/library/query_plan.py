"""From a user's SearchQuery to the searcher's RankRequest: the query vector, its scale, and what the query says.

Text-only queries are scored on the strength scale against null prompts; a query with an image (a dropped file or a
library figure) on the closeness scale against the library. Words the model cannot read are found here, so the
verdict can name them and a query made only of them is judged "no match" without asking the vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import fts, search_queries
from engine.fileio import file_sha256
from engine.search import KeywordQuery, RankRequest, build_query_vector, keyword_text
from engine.search.verdict import QueryFacts
from engine.search.vocabulary import unknown_words
from engine.types import Encoder, QueryTerm, SearchQuery


@dataclass(frozen=True)
class QueryContext:
    """What planning needs from the open library."""

    sessions: sessionmaker[Session]
    encoder: Encoder | None
    stored_vector: Callable[[int], np.ndarray]
    null_vectors: Callable[[], np.ndarray]
    open_image: Callable[[Path], Any]


def has_image(terms: tuple[QueryTerm, ...]) -> bool:
    return any((t.image is not None or t.figure_id is not None) and t.weight > 0 for t in terms)


def is_blank(terms: tuple[QueryTerm, ...]) -> bool:
    """Only text terms, all of them empty or blank: an empty query (answered "none", not an error)."""
    return bool(terms) and all(t.image is None and t.figure_id is None and not (t.text or "").strip() for t in terms)


def query_facts(context: QueryContext, terms: tuple[QueryTerm, ...]) -> QueryFacts:
    text = keyword_text(terms)
    words = fts.query_words(text)
    unreadable = unknown_words(context.encoder, words) if context.encoder is not None else []
    with context.sessions() as session:
        in_no_caption = [
            w for w in unreadable if not search_queries.keyword_match_count(session, fts.match_expression([w]))
        ]
    readable = has_image(terms) or bool(fts.quoted_phrases(text)) or any(w not in unreadable for w in words)
    return QueryFacts(
        text=text,
        unknown_words=tuple(in_no_caption),
        unreadable_words=tuple(unreadable),
        ignored_words=tuple(fts.ignored_words(text)),
        readable=readable,
        image=has_image(terms),
        phrases=tuple(fts.quoted_phrases(text)),
    )


def plan(context: QueryContext, query: SearchQuery) -> RankRequest:
    terms = query.terms
    figure_ids = [t.figure_id for t in terms if t.figure_id is not None and t.weight > 0]
    stored = {t.figure_id: context.stored_vector(t.figure_id) for t in terms if t.figure_id is not None}
    vector = build_query_vector(context.encoder, terms, context.open_image, stored)
    image = has_image(terms)
    return RankRequest(
        vector=vector,
        null_vectors=None if image else context.null_vectors(),
        keywords=KeywordQuery.from_text(keyword_text(terms)) if query.hybrid else KeywordQuery(),
        facts=query_facts(context, terms),
        filters=query.filters,
        min_score=query.min_score,
        sort=query.sort,
        offset=query.offset,
        limit=query.limit,
        exclude=_same_images(context, figure_ids),
        identical_content=frozenset(_file_hashes(terms)),
    )


def _same_images(context: QueryContext, figure_ids: list[int]) -> frozenset[int]:
    """The query figures and every copy of their images: a figure is never its own result."""
    if not figure_ids:
        return frozenset()
    with context.sessions() as session:
        shas = list(search_queries.content_of(session, figure_ids).values())
        copies = search_queries.figures_with_content(session, shas)
    return frozenset(figure_ids) | {figure_id for figure_id, _, _ in copies}


def _file_hashes(terms: tuple[QueryTerm, ...]) -> list[str]:
    """Content hashes of query images given as files: library figures with these bytes are "identical"."""
    hashes = []
    for term in terms:
        if isinstance(term.image, str | Path) and Path(term.image).is_file() and term.weight > 0:
            hashes.append(file_sha256(term.image))
    return hashes
