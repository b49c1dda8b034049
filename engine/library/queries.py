"""Read-only questions about a library's contents, answered as immutable values."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.catalog import Article, Collection, Figure, IngestProblem
from engine.types import CollectionInfo, Facets, SourceProblem


def collection_info(collection: Collection, figures: int) -> CollectionInfo:
    return CollectionInfo(
        id=collection.id, name=collection.name, kind=collection.kind, source=collection.source, figures=figures
    )


def collections(session: Session) -> list[CollectionInfo]:
    counts = {
        cid: n for cid, n in session.execute(select(Figure.collection_id, func.count()).group_by(Figure.collection_id))
    }
    return [
        collection_info(c, counts.get(c.id, 0)) for c in session.scalars(select(Collection).order_by(Collection.id))
    ]


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
