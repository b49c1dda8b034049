"""Caption keyword evidence: which figures' captions hold the query's meaningful words, and how much that is worth.

Only meaningful words count (`fts.query_words`: no stop words, bare numbers or single characters), so "gel with
6 lanes" can never favour a bar chart captioned "6 purple bars". A caption's evidence is its FTS5 BM25 score over
the most a caption could score for these words — the sum of their inverse document frequencies, FTS5's own idf —
capped at 1: a caption holding every rare query word scores 1, one holding only a common word scores little. The
searcher turns that fraction into score points (`Scale.keyword_weight`) and lets it lift only figures whose vectors
already rise above the background (`Scale.keyword_gate`), except for phrases the user quoted, which ask for keyword
matching explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from engine.catalog import fts, search_queries
from engine.types import SearchFilters

# A query word matching more than this share of the figures, and more than this many, is left out of the keyword
# search (it would cost much and rank little); small libraries never drop a word.
COMMON_WORD_SHARE = 0.05
COMMON_WORD_MIN_MATCHES = 5_000


@dataclass(frozen=True)
class KeywordQuery:
    words: tuple[str, ...] = ()  # meaningful words to look for in captions and titles
    phrases: tuple[str, ...] = ()  # quoted phrases: figures must contain every one

    @classmethod
    def from_text(cls, text: str) -> KeywordQuery:
        return cls(words=tuple(fts.query_words(text)), phrases=tuple(fts.quoted_phrases(text)))


@dataclass
class KeywordEvidence:
    evidence: dict[int, float] = field(default_factory=dict)  # figure id -> fraction in (0, 1]
    ranks: dict[int, int] = field(default_factory=dict)  # figure id -> BM25 rank from 1
    phrase_ids: set[int] | None = None  # with quoted phrases: the only figures allowed
    words: tuple[str, ...] = ()  # the words searched for (after dropping very common ones)


def idf(matches: int, total: int) -> float:
    """BM25's inverse document frequency as FTS5 computes it (never below 1e-6)."""
    value = math.log((total - matches + 0.5) / (matches + 0.5))
    return value if value > 0 else 1e-6


def gather(
    session: Session, query: KeywordQuery, pool: int, filters: SearchFilters | None, total: int | None = None
) -> KeywordEvidence:
    """The best `pool` keyword hits with their evidence, and the phrase-matching figures if phrases were quoted.

    `total`: how many figures the library holds (BM25's N); counted from the full-text table when not given."""
    out = KeywordEvidence()
    if query.phrases:
        out.phrase_ids = search_queries.phrase_matches(session, fts.phrase_expression(list(query.phrases)))
    words = [w for w in dict.fromkeys([*query.words, *(w for p in query.phrases for w in p.split())])]
    if not words:
        return out
    total = max(total if total is not None else search_queries.keyword_row_count(session), 1)
    counts = {w: search_queries.keyword_match_count(session, fts.match_expression([w])) for w in words}
    words = _distinctive(words, counts, total)
    out.words = tuple(words)
    ceiling = sum(idf(counts[w], total) for w in words)
    match = fts.match_expression(words)
    if match is None or ceiling <= 0:
        return out
    for rank, (figure_id, score) in enumerate(search_queries.keyword_hits(session, match, pool, filters), start=1):
        out.ranks[figure_id] = rank
        out.evidence[figure_id] = min(1.0, max(score, 0.0) / ceiling)
    return out


def _distinctive(words: list[str], counts: dict[str, int], total: int) -> list[str]:
    """Drop words found in too many figures (keeping the rarest if all are): see COMMON_WORD_SHARE.

    BM25 gives such words almost no weight, yet SQLite must score every figure they match: on 100k captions one
    common word costs tens of milliseconds. Counting a word's matches is cheap by comparison.
    """
    if len(words) < 2:
        return words
    limit = max(COMMON_WORD_SHARE * total, COMMON_WORD_MIN_MATCHES)
    kept = [w for w in words if counts[w] <= limit]
    return kept or [min(words, key=lambda w: counts[w])]
