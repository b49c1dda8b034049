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
from engine.catalog.schema import Article, Figure
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


def keyword_hits(session: Session, match: str, limit: int, filters: SearchFilters | None) -> list[int]:
    """Figure ids whose caption or article title match the FTS5 expression `match`, best BM25 first."""
    rank = func.bm25(_fts_all)
    if is_unfiltered(filters):
        # Without filters the FTS table alone answers: no join per match before the sort.
        query = select(_fts.c.rowid).where(_match(match)).order_by(rank).limit(limit)
        return list(session.scalars(query))
    query = (
        _with_articles(select(Figure.id).select_from(_fts).join(Figure, Figure.id == _fts.c.rowid))
        .where(_match(match), filter_condition(filters))
        .order_by(rank)
        .limit(limit)
    )
    return list(session.scalars(query))


def keyword_match_count(session: Session, match: str) -> int:
    """How many figures the FTS5 expression matches."""
    return int(session.scalar(select(func.count()).select_from(_fts).where(_match(match))) or 0)


def years_of(session: Session, figure_ids: Sequence[int]) -> dict[int, int | None]:
    """Publication year of each figure's article (None when unknown)."""
    years: dict[int, int | None] = {}
    for part in chunked(list(figure_ids)):
        query = _with_articles(select(Figure.id, Article.year).select_from(Figure)).where(Figure.id.in_(part))
        years.update((figure_id, year) for figure_id, year in session.execute(query))
    return years
