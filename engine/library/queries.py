"""Read-only questions about a library's contents, answered as immutable values."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.catalog import Article, Collection, Figure, IngestProblem
from engine.types import CollectionInfo, Facets, SourceProblem


def collection_infos(session: Session, rows: list[Collection]) -> list[CollectionInfo]:
    """Each collection with its figure and article counts, its status and its sources."""
    ids = [c.id for c in rows]
    counts = select(
        Figure.collection_id, func.count(), func.count(func.distinct(Figure.article_id))
    ).where(Figure.collection_id.in_(ids)).group_by(Figure.collection_id)
    numbers = {cid: (figures, articles) for cid, figures, articles in session.execute(counts)}
    return [
        CollectionInfo(
            id=c.id, name=c.name, kind=c.kind, source=c.source, figures=numbers.get(c.id, (0, 0))[0],
            articles=numbers.get(c.id, (0, 0))[1], status=c.status, sources=tuple(s.source for s in c.sources),
        )
        for c in rows
    ]


def collections(session: Session) -> list[CollectionInfo]:
    return collection_infos(session, list(session.scalars(select(Collection).order_by(Collection.id)).unique()))


def collection_figure_ids(session: Session, collection_id: int, offset: int, limit: int) -> tuple[list[int], int]:
    """One page of a collection's figure ids in reading order (article, then figure key), and how many it has."""
    total = session.scalar(select(func.count()).where(Figure.collection_id == collection_id)) or 0
    query = (
        select(Figure.id)
        .where(Figure.collection_id == collection_id)
        .order_by(Figure.article_id.is_(None), Figure.article_id, Figure.key)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query)), int(total)


def facets(session: Session) -> Facets:
    """What the filters can offer: only values some figure actually has."""
    with_figures = select(Article).join(Figure, Figure.article_id == Article.id)
    journals = list(
        session.scalars(
            with_figures.with_only_columns(Article.journal)
            .where(Article.journal.is_not(None))
            .distinct()
            .order_by(Article.journal)
        )
    )
    low, high = session.execute(with_figures.with_only_columns(func.min(Article.year), func.max(Article.year))).one()
    modalities = list(
        session.scalars(
            select(Figure.modality).where(Figure.modality.is_not(None)).distinct().order_by(Figure.modality)
        )
    )
    return Facets(
        journals=tuple(journals),
        years=(low, high) if low is not None else None,
        modalities=tuple(modalities),
        collections=tuple(collections(session)),
    )


def problems(session: Session, collection_id: int | None = None) -> list[SourceProblem]:
    query = select(IngestProblem).order_by(IngestProblem.id)
    if collection_id is not None:
        query = query.where(IngestProblem.collection_id == collection_id)
    return [SourceProblem(p.path, p.message) for p in session.scalars(query)]
