"""Ranking: vector candidates (ANN, or exact over the filtered set), caption keyword hits, fusion, paging.

With a selective filter the ANN graph may hold too few allowed neighbours within its search beam, so a
filtered query whose allowed set is small enough is answered exactly over the stored vectors instead, and a
filtered ANN query that comes back short falls back to exact too: filtered queries still return k results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import fts, search_queries
from engine.catalog.vectors import iter_figure_vectors
from engine.index import VectorIndex
from engine.search.hybrid import reciprocal_rank_fusion
from engine.search.results import load_figures, to_result
from engine.types import SearchFilters, SearchPage, SearchResult, SortOrder, WhyMatched

logger = logging.getLogger(__name__)

EXACT_SEARCH_LIMIT = 20_000  # filtered sets up to this size are searched exactly (a few ms of numpy)
MIN_POOL = 100  # candidates taken from each ranked list before fusion
# A query word matching more than this share of the figures, and more than this many, is left out of the keyword
# search (it would cost much and rank little); small libraries never drop a word.
COMMON_WORD_SHARE = 0.05
COMMON_WORD_MIN_MATCHES = 5_000


class Searcher:
    def __init__(self, sessions: sessionmaker[Session], index: Callable[[], VectorIndex], dim: int):
        self._sessions = sessions
        self._index = index
        self._dim = dim

    # ------------------------------------------------------------------ candidates
    def nearest(
        self, vector: np.ndarray, k: int, filters: SearchFilters | None = None, exclude: tuple[int, ...] = ()
    ) -> list[tuple[int, float]]:
        """(figure id, cosine similarity) best first, honouring filters; at most k."""
        want = k + len(exclude)
        if search_queries.is_unfiltered(filters):
            ids, sims = self._index().search(vector[None, :], want)
            pairs = list(zip(ids[0].tolist(), sims[0].tolist(), strict=True))
        else:
            allowed = self._allowed_ids(filters)
            if len(allowed) <= EXACT_SEARCH_LIMIT:
                pairs = self._exact(vector, sorted(allowed), want)
            else:
                allowed_set = set(allowed)
                ids, sims = self._index().search(vector[None, :], want, allowed=allowed_set.__contains__)
                pairs = list(zip(ids[0].tolist(), sims[0].tolist(), strict=True))
                if len(pairs) < min(want, len(allowed_set)):
                    logger.debug("filtered ANN search came back short; searching the filtered set exactly")
                    pairs = self._exact(vector, sorted(allowed_set), want)
        skip = set(exclude)
        return [(i, s) for i, s in pairs if i >= 0 and i not in skip][:k]  # -1 pads a short filtered answer

    def _allowed_ids(self, filters: SearchFilters | None) -> list[int]:
        with self._sessions() as session:
            return search_queries.allowed_figure_ids(session, filters)

    def _exact(self, vector: np.ndarray, ids: list[int], k: int) -> list[tuple[int, float]]:
        all_ids, all_sims = [], []
        for chunk_ids, vectors in iter_figure_vectors(self._sessions, self._dim, ids):
            all_ids.append(chunk_ids)
            all_sims.append(vectors @ vector)
        if not all_ids:
            return []
        ids_array, sims = np.concatenate(all_ids), np.concatenate(all_sims)
        top = np.argsort(-sims, kind="stable")[:k]
        return [(int(ids_array[i]), float(sims[i])) for i in top]

    def similarities(self, vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for chunk_ids, vectors in iter_figure_vectors(self._sessions, self._dim, ids):
            out.update(zip(chunk_ids.tolist(), (vectors @ vector).tolist(), strict=True))
        return out

    def keyword_hits(self, words: list[str], k: int, filters: SearchFilters | None) -> list[int]:
        """Figure ids whose caption or article title contain the query's distinctive words, best BM25 first."""
        with self._sessions() as session:
            words = self._distinctive(session, words)
            match = fts.match_expression(words)
            if match is None:
                return []
            return search_queries.keyword_hits(session, match, k, filters)

    def _distinctive(self, session: Session, words: list[str]) -> list[str]:
        """Drop words found in too many figures (keeping the rarest if all are): see COMMON_WORD_SHARE.

        BM25 gives such words almost no weight, yet SQLite must score every figure they match: on 100k
        captions one common word costs tens of milliseconds. Counting a word's matches is cheap by comparison.
        """
        if len(words) < 2:
            return words
        total = len(self._index()) or 1
        counts = {word: search_queries.keyword_match_count(session, fts.match_expression([word])) for word in words}
        limit = max(COMMON_WORD_SHARE * total, COMMON_WORD_MIN_MATCHES)
        kept = [w for w in words if counts[w] <= limit]
        return kept or [min(words, key=lambda w: counts[w])]

    # ------------------------------------------------------------------ ranking
    def search(
        self,
        vector: np.ndarray,
        *,
        keywords: str = "",
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        sort: SortOrder | str = SortOrder.RELEVANCE,
        offset: int = 0,
        limit: int = 50,
        hybrid: bool = True,
        exclude: tuple[int, ...] = (),
    ) -> SearchPage:
        started = time.perf_counter()
        sort = SortOrder(sort)  # ValueError for an unknown one
        offset, limit = max(0, offset), max(0, limit)
        pool = max(MIN_POOL, 2 * (offset + limit))
        nearest = self.nearest(vector, pool, filters, exclude)
        similarity = dict(nearest)
        vector_rank = {figure_id: rank for rank, (figure_id, _) in enumerate(nearest, start=1)}
        words = fts.query_words(keywords) if hybrid else []
        keyword_ids = [i for i in self.keyword_hits(words, pool, filters) if i not in set(exclude)]
        keyword_rank = {figure_id: rank for rank, figure_id in enumerate(keyword_ids, start=1)}
        unseen = [i for i in keyword_ids if i not in similarity]
        similarity.update(self.similarities(vector, unseen))

        if keyword_ids:
            score = reciprocal_rank_fusion([i for i, _ in nearest], keyword_ids)
        else:
            score = dict(similarity)
        candidates = [i for i in score if min_score is None or similarity.get(i, -1.0) >= min_score]
        candidates.sort(key=lambda i: (-score[i], -similarity.get(i, -1.0), i))
        if sort is not SortOrder.RELEVANCE:
            candidates = self._sort_by_year(candidates, newest_first=sort is SortOrder.NEWEST_FIRST)
        page_ids = candidates[offset : offset + limit]
        with self._sessions() as session:
            figures = load_figures(session, page_ids)
            results = []
            for figure_id in page_ids:
                figure = figures.get(figure_id)
                if figure is None:  # removed between ranking and loading
                    continue
                why = WhyMatched(
                    similarity=float(similarity.get(figure_id, 0.0)),
                    matched_terms=fts.matched_terms(
                        words, figure.caption, figure.article.title if figure.article else None
                    )
                    if figure_id in keyword_rank
                    else (),
                    vector_rank=vector_rank.get(figure_id),
                    keyword_rank=keyword_rank.get(figure_id),
                )
                results.append(to_result(figure, score[figure_id], why))
        return SearchPage(
            results=tuple(results),
            total_candidates=len(candidates),
            offset=offset,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _sort_by_year(self, ranked: list[int], *, newest_first: bool) -> list[int]:
        with self._sessions() as session:
            years = search_queries.years_of(session, ranked)
        position = {figure_id: n for n, figure_id in enumerate(ranked)}
        # Unknown years go last either way; equal years keep relevance order.
        sign = -1 if newest_first else 1
        return sorted(
            ranked,
            key=lambda i: (years.get(i) is None, sign * (years.get(i) or 0), position[i]),
        )

    def figure(self, figure_id: int) -> SearchResult | None:
        with self._sessions() as session:
            figure = load_figures(session, [figure_id]).get(figure_id)
            return to_result(figure, 0.0, WhyMatched(similarity=0.0)) if figure else None
