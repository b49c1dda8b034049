"""The SQL that search needs, built with SQLAlchemy Core: filters, caption keyword hits (FTS5), years.

Values are always bound parameters. The FTS5 table is not mapped by the ORM (triggers keep it in sync, see
`fts.py`), so it is described here as a lightweight `table()` with its hidden rank column reachable by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import column, table

from engine.catalog import fts
from engine.catalog.chunks import chunked
from engine.catalog.schema import Article, Collection, Figure
from engine.types import SearchFilters

_fts = table(fts.TABLE, column("rowid"))
# FTS5's hidden column named like the table: `figures_fts MATCH :q` and `bm25(figures_fts)` address it.
_fts_all = literal_column(fts.TABLE)


def is_unfiltered(filters: SearchFilters | None) -> bool:
    return filters is None or filters == SearchFilters()


def _pmcid(value: str) -> str:
    return value if value.upper().startswith("PMC") else f"PMC{value}"


def filter_condition(filters: SearchFilters | None) -> ColumnElement[bool]:
    """One condition over `Figure` (outer-joined with `Article`) that the filters allow."""
    if is_unfiltered(filters):
        return true()
    assert filters is not None
    conditions: list[ColumnElement[bool]] = []
    if filters.collection_ids:
        conditions.append(Figure.collection_id.in_([int(c) for c in filters.collection_ids]))
    if filters.year_min is not None:
        conditions.append(Article.year >= int(filters.year_min))
    if filters.year_max is not None:
        conditions.append(Article.year <= int(filters.year_max))
    if filters.journals:
        conditions.append(Article.journal.in_(list(filters.journals)))
    if filters.modalities:
        conditions.append(Figure.modality.in_(list(filters.modalities)))
    if filters.pmcids:
        conditions.append(Article.pmcid.in_([_pmcid(p) for p in filters.pmcids]))
    return and_(true(), *conditions)


def _with_articles(query: Select) -> Select:
    return query.outerjoin(Article, Article.id == Figure.article_id)


def allowed_figure_ids(session: Session, filters: SearchFilters | None) -> list[int]:
    """Ids of every figure the filters allow."""
    query = _with_articles(select(Figure.id).select_from(Figure)).where(filter_condition(filters))
    return list(session.scalars(query))


def _match(match: str) -> ColumnElement[bool]:
    return _fts_all.op("MATCH")(match)


def keyword_hits(session: Session, match: str, limit: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
    """(figure id, BM25 score) of the figures whose caption or article title match the FTS5 expression `match`,
    best first. The score is FTS5's bm25() negated, so larger is better (FTS5 returns it negative)."""
    rank = func.bm25(_fts_all)
    if is_unfiltered(filters):
        # Without filters the FTS table alone answers: no join per match before the sort.
        query = select(_fts.c.rowid, rank).where(_match(match)).order_by(rank).limit(limit)
    else:
        query = (
            _with_articles(select(Figure.id, rank).select_from(_fts).join(Figure, Figure.id == _fts.c.rowid))
            .where(_match(match), filter_condition(filters))
            .order_by(rank)
            .limit(limit)
        )
    return [(int(figure_id), -float(score)) for figure_id, score in session.execute(query)]


def keyword_match_count(session: Session, match: str) -> int:
    """How many figures the FTS5 expression matches."""
    return int(session.scalar(select(func.count()).select_from(_fts).where(_match(match))) or 0)


def keyword_row_count(session: Session) -> int:
    """How many rows the full-text table holds (the N of BM25's inverse document frequency)."""
    return int(session.scalar(select(func.count()).select_from(_fts)) or 0)


def phrase_matches(session: Session, match: str) -> set[int]:
    """Ids of every figure whose caption or title matches the FTS5 expression (quoted phrases: can be many)."""
    return set(session.scalars(select(_fts.c.rowid).where(_match(match))))


def content_of(session: Session, figure_ids: Sequence[int]) -> dict[int, str]:
    """The content hash (SHA-256 of the image bytes) of each figure: equal hashes are the same image."""
    found: dict[int, str] = {}
    for part in chunked(list(figure_ids)):
        query = select(Figure.id, Figure.content_sha256).where(Figure.id.in_(part))
        found.update((figure_id, sha) for figure_id, sha in session.execute(query))
    return found


def figures_with_content(session: Session, shas: Sequence[str]) -> list[tuple[int, str, str]]:
    """(figure id, content hash, collection name) of every figure holding one of these images, by figure id."""
    rows: list[tuple[int, str, str]] = []
    for part in chunked(list(dict.fromkeys(shas))):
        query = (
            select(Figure.id, Figure.content_sha256, Collection.name)
            .join(Collection, Collection.id == Figure.collection_id)
            .where(Figure.content_sha256.in_(part))
        )
        rows.extend((i, sha, name) for i, sha, name in session.execute(query))
    return sorted(rows)


def sample_figure_ids(session: Session, size: int) -> list[int]:
    """A fixed pseudo-random sample of about `size` figure ids: the same library gives the same sample, and a
    growing library keeps most of it. (Multiplicative hashing of the id, Knuth's constant, no sort.)"""
    total = int(session.scalar(select(func.count()).select_from(Figure)) or 0)
    if total <= size:
        return list(session.scalars(select(Figure.id)))
    cut = int((1 << 32) * size / total)
    return list(session.scalars(select(Figure.id).where((Figure.id * 2654435761) % (1 << 32) < cut)))


def years_of(session: Session, figure_ids: Sequence[int]) -> dict[int, int | None]:
    """Publication year of each figure's article (None when unknown)."""
    years: dict[int, int | None] = {}
    for part in chunked(list(figure_ids)):
        query = _with_articles(select(Figure.id, Article.year).select_from(Figure)).where(Figure.id.in_(part))
        years.update((figure_id, year) for figure_id, year in session.execute(query))
    return years
