"""Ranking: vector candidates (ANN, or exact over the filtered set), caption keyword evidence, one score, one order.

Every result is ranked by the score it is shown with: the vector score on the query's scale (match strength for
text, closeness for images: see engine.search.background) plus what caption keywords add (engine.search.keywords).
Identical images held in several collections come back once, naming their collections. The page carries the
verdict: strong, weak or no match.

With a selective filter the ANN graph may hold too few allowed neighbours within its search beam, so a filtered
query whose allowed set is small enough is answered exactly over the stored vectors instead, and a filtered ANN
query that comes back short falls back to exact too: filtered queries still return k results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import fts, search_queries
from engine.catalog.vectors import figure_vectors_with_content, iter_figure_vectors
from engine.index import VectorIndex
from engine.search import keywords
from engine.search.background import (
    SAMPLE_SIZE,
    ImageBackground,
    TextBackground,
    image_background,
    text_background,
)
from engine.search.keywords import KeywordEvidence, KeywordQuery
from engine.search.results import load_figures, to_result
from engine.search.verdict import CLOSEST_WHEN_NONE, IMAGE_SCALE, TEXT_SCALE, QueryFacts, Scale, verdict
from engine.types import MatchLevel, SearchFilters, SearchPage, SearchResult, SortOrder, WhyMatched

logger = logging.getLogger(__name__)

EXACT_SEARCH_LIMIT = 20_000  # filtered sets up to this size are searched exactly (a few ms of numpy)
MIN_POOL = 100  # candidates taken from each ranked list before scoring
SAMPLE_REFRESH = 0.05  # the background sample is re-drawn when the library's size moved by more than this share


@dataclass(frozen=True)
class RankRequest:
    """One ranking job, as the library hands it over (the query already turned into a vector)."""

    vector: np.ndarray
    null_vectors: np.ndarray | None = None  # text queries: the null prompts' vectors; None: an image query
    keywords: KeywordQuery = field(default_factory=KeywordQuery)
    facts: QueryFacts = field(default_factory=QueryFacts)
    filters: SearchFilters | None = None
    min_score: float | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    offset: int = 0
    limit: int = 50
    exclude: frozenset[int] = frozenset()  # figure ids never returned (the Find-similar figure and its copies)
    identical_content: frozenset[str] = frozenset()  # content hashes of the query image itself


@dataclass
class _Scored:
    """Per-candidate numbers while ranking (ids -> values)."""

    similarity: dict[int, float]
    background: dict[int, float]
    vector_score: dict[int, float]
    content: dict[int, str] = field(default_factory=dict)  # figure id -> content hash (same hash = same image)
    score: dict[int, float] = field(default_factory=dict)
    bonus: dict[int, float] = field(default_factory=dict)
    vector_rank: dict[int, int] = field(default_factory=dict)


class Searcher:
    def __init__(self, sessions: sessionmaker[Session], index: Callable[[], VectorIndex], dim: int):
        self._sessions = sessions
        self._index = index
        self._dim = dim
        self._sample: tuple[int, np.ndarray] | None = None  # (library size when drawn, vectors)
        self._text_background: tuple[object, object, TextBackground] | None = None  # (sample, nulls, background)

    # ------------------------------------------------------------------ candidates
    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        exclude: frozenset[int] | tuple[int, ...] = (),
        restrict: set[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(figure id, cosine similarity) best first, honouring filters (and `restrict`, a set of allowed ids)."""
        want = k + len(exclude)
        if restrict is not None:
            allowed = set(self._allowed_ids(filters)) & restrict if filters else restrict
            pairs = self._exact(vector, sorted(allowed), want)
        elif search_queries.is_unfiltered(filters):
            ids, sims = self._index().search(vector[None, :], want)
            pairs = list(zip(ids[0].tolist(), sims[0].tolist(), strict=True))
        else:
            pairs = self._filtered(vector, want, filters)
        skip = set(exclude)
        return [(i, s) for i, s in pairs if i >= 0 and i not in skip][:k]  # -1 pads a short filtered answer

    def _filtered(self, vector: np.ndarray, want: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
        allowed = self._allowed_ids(filters)
        if len(allowed) <= EXACT_SEARCH_LIMIT:
            return self._exact(vector, sorted(allowed), want)
        allowed_set = set(allowed)
        ids, sims = self._index().search(vector[None, :], want, allowed=allowed_set.__contains__)
        pairs = list(zip(ids[0].tolist(), sims[0].tolist(), strict=True))
        if len(pairs) < min(want, len(allowed_set)):
            logger.debug("filtered ANN search came back short; searching the filtered set exactly")
            pairs = self._exact(vector, sorted(allowed_set), want)
        return pairs

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

    def vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The stored vectors of these figures (ids in the order found; vanished figures left out)."""
        found_ids, found = [], []
        for chunk_ids, vectors in iter_figure_vectors(self._sessions, self._dim, ids):
            found_ids.extend(chunk_ids.tolist())
            found.append(vectors)
        return found_ids, (np.concatenate(found) if found else np.zeros((0, self._dim), np.float32))

    def similarities(self, vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        found_ids, vectors = self.vectors(ids)
        return dict(zip(found_ids, (vectors @ vector).tolist(), strict=True))

    # ------------------------------------------------------------------ backgrounds
    def sample_vectors(self) -> np.ndarray:
        """Vectors of a fixed random sample of the library (engine.search.background), kept while its size holds."""
        size = len(self._index())
        if self._sample is None or abs(size - self._sample[0]) > SAMPLE_REFRESH * max(self._sample[0], 1):
            with self._sessions() as session:
                ids = search_queries.sample_figure_ids(session, SAMPLE_SIZE)
            self._sample = (size, self.vectors(ids)[1])
        return self._sample[1]

    def text_background(self, null_vectors: np.ndarray) -> TextBackground:
        """The text background for these null-prompt vectors, kept until the sample or the vectors change."""
        sample = self.sample_vectors()
        cached = self._text_background
        if cached is None or cached[0] is not sample or cached[1] is not null_vectors:
            cached = (sample, null_vectors, text_background(null_vectors, sample))
            self._text_background = cached
        return cached[2]

    def image_background(self, vector: np.ndarray) -> ImageBackground:
        return image_background(vector, self.sample_vectors())

    # ------------------------------------------------------------------ ranking
    def search(self, request: RankRequest) -> SearchPage:
        started = time.perf_counter()
        sort = SortOrder(request.sort)  # ValueError for an unknown one
        offset, limit = max(0, request.offset), max(0, request.limit)
        pool = max(MIN_POOL, 2 * (offset + limit))
        scale = TEXT_SCALE if request.null_vectors is not None else IMAGE_SCALE
        with self._sessions() as session:
            evidence = keywords.gather(session, request.keywords, pool, request.filters, total=len(self._index()))
        scored = self._score(request, scale, evidence, pool)
        ranked = sorted(scored.score, key=lambda i: (-scored.score[i], -scored.similarity[i], i))
        ranked = self._one_per_image(ranked, scored.content)
        best = scored.score[ranked[0]] if ranked else None
        kept = self._cut(ranked, scored, scale, request.min_score, explicit=evidence.phrase_ids is not None,
                         readable=request.facts.readable)
        if sort is not SortOrder.RELEVANCE:
            kept = self._sort_by_year(kept, newest_first=sort is SortOrder.NEWEST_FIRST)
        page_ids = kept[offset : offset + limit]
        results = self._results(page_ids, scored, evidence, scale, request.identical_content)
        return SearchPage(
            results=tuple(results),
            total_candidates=len(kept),
            offset=offset,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            verdict=verdict(scale, best, len(kept), request.facts),
        )

    def _score(self, request: RankRequest, scale: Scale, evidence: KeywordEvidence, pool: int) -> _Scored:
        """Vector scores for the vector and keyword candidates, plus keyword bonuses where they are allowed."""
        if request.null_vectors is not None:
            background: TextBackground | ImageBackground = self.text_background(request.null_vectors)
            direction = background.retrieval_vector(request.vector)
        else:
            background = self.image_background(request.vector)
            direction = request.vector
        nearest = self.nearest(direction, pool, request.filters, request.exclude, evidence.phrase_ids)
        candidates = [i for i, _ in nearest]
        seen = set(candidates) | request.exclude
        extra = [i for i in evidence.evidence if i not in seen]
        if evidence.phrase_ids is not None:
            extra = [i for i in extra if i in evidence.phrase_ids]
        ids, shas, vectors = figure_vectors_with_content(self._sessions, self._dim, candidates + extra)
        scored = self._vector_scores(request.vector, background, ids, vectors)
        scored.content = dict(zip(ids, shas, strict=True))
        scored.vector_rank = {i: rank for rank, i in enumerate(candidates, start=1)}
        for figure_id in ids:
            fraction = evidence.evidence.get(figure_id, 0.0)
            explicit = evidence.phrase_ids is not None
            allowed = explicit or scored.vector_score[figure_id] >= scale.keyword_gate
            scored.bonus[figure_id] = scale.keyword_weight * fraction if fraction and allowed else 0.0
            scored.score[figure_id] = scored.vector_score[figure_id] + scored.bonus[figure_id]
        return scored

    @staticmethod
    def _vector_scores(
        query: np.ndarray, background: TextBackground | ImageBackground, ids: list[int], vectors: np.ndarray
    ) -> _Scored:
        if isinstance(background, TextBackground):
            similarities, levels, scores = background.strengths(query, vectors)
        else:
            similarities = vectors @ query
            levels = np.full(len(ids), background.level, dtype=np.float32)
            scores = background.closeness(similarities)
        return _Scored(
            similarity=dict(zip(ids, similarities.tolist(), strict=True)),
            background=dict(zip(ids, levels.tolist(), strict=True)),
            vector_score=dict(zip(ids, scores.tolist(), strict=True)),
        )

    @staticmethod
    def _one_per_image(ranked: list[int], content: dict[int, str]) -> list[int]:
        """Keep the best-ranked figure of each image content (its copies are named as collections on its card)."""
        seen: set[str] = set()
        kept: list[int] = []
        for figure_id in ranked:
            if content[figure_id] not in seen:
                seen.add(content[figure_id])
                kept.append(figure_id)
        return kept

    @staticmethod
    def _cut(
        ranked: list[int], scored: _Scored, scale: Scale, min_score: float | None, *, explicit: bool, readable: bool
    ) -> list[int]:
        """The user's minimum on the shown scale; by default the strong and weak matches, or the closest few (all of
        them when quoted phrases chose the figures)."""
        if min_score is not None:
            return [i for i in ranked if scored.score[i] >= min_score]
        if explicit:
            return ranked
        matches = [i for i in ranked if scored.score[i] >= scale.weak] if readable else []
        return matches or ranked[:CLOSEST_WHEN_NONE]

    def _results(
        self,
        page_ids: list[int],
        scored: _Scored,
        evidence: KeywordEvidence,
        scale: Scale,
        identical_content: frozenset[str],
    ) -> list[SearchResult]:
        with self._sessions() as session:
            figures = load_figures(session, page_ids)
            shas = {i: figures[i].content_sha256 for i in page_ids if i in figures}
            holders: dict[str, list[str]] = {}
            for _, sha, collection in search_queries.figures_with_content(session, list(shas.values())):
                holders.setdefault(sha, [])
                if collection not in holders[sha]:
                    holders[sha].append(collection)
            results = []
            for figure_id in page_ids:
                figure = figures.get(figure_id)
                if figure is None:  # removed between ranking and loading
                    continue
                score = scored.score[figure_id]
                matched = evidence.evidence.get(figure_id) and scored.bonus.get(figure_id)
                why = WhyMatched(
                    similarity=float(scored.similarity[figure_id]),
                    background=float(scored.background[figure_id]),
                    vector_score=float(scored.vector_score[figure_id]),
                    keyword_bonus=float(scored.bonus.get(figure_id, 0.0)),
                    matched_terms=fts.matched_terms(
                        list(evidence.words), figure.caption, figure.article.title if figure.article else None
                    )
                    if matched
                    else (),
                    vector_rank=scored.vector_rank.get(figure_id),
                    keyword_rank=evidence.ranks.get(figure_id),
                )
                level = scale.level(score, identical=figure.content_sha256 in identical_content)
                collections = tuple(holders.get(figure.content_sha256, [figure.collection.name]))
                results.append(to_result(figure, score, why, level, collections))
        return results

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
            if figure is None:
                return None
            holders = search_queries.figures_with_content(session, [figure.content_sha256])
            collections = tuple(dict.fromkeys(name for _, _, name in holders))
            return to_result(figure, 0.0, WhyMatched(similarity=0.0), MatchLevel.NONE, collections)
