"""Writing one ingested figure into the catalog: find-or-create its article, insert-or-update its row."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog import Article, Figure
from engine.types import ArticleMeta

_ARTICLE_FIELDS = ("pmcid", "pmid", "doi", "title", "journal", "year", "license", "license_url")


def _find_article(session: Session, meta: ArticleMeta) -> Article | None:
    # PMCID is the identity when present; without one, a DOI, then title + journal, keep re-runs from duplicating.
    if meta.pmcid:
        return session.scalars(select(Article).where(Article.pmcid == meta.pmcid)).first()
    if meta.doi:
        return session.scalars(select(Article).where(Article.doi == meta.doi, Article.pmcid.is_(None))).first()
    if meta.title:
        return session.scalars(
            select(Article).where(Article.title == meta.title, Article.journal == meta.journal, Article.pmcid.is_(None))
        ).first()
    return None


def upsert_article(session: Session, meta: ArticleMeta | None, cache: dict[ArticleMeta, int]) -> int | None:
    """The id of the article row for `meta` (created or updated); None when the figure has no article facts."""
    if meta is None or not any(getattr(meta, name) for name in _ARTICLE_FIELDS):
        return None
    if meta in cache:
        return cache[meta]
    article = _find_article(session, meta)
    if article is None:
        article = Article()
        session.add(article)
    for name in _ARTICLE_FIELDS:
        value = getattr(meta, name)
        if value is not None and getattr(article, name) != value:
            setattr(article, name, value)
    session.flush()
    cache[meta] = article.id
    return article.id


def upsert_figure(
    session: Session,
    collection_id: int,
    key: str,
    modality: Callable[[], tuple[str | None, float | None] | None],
    **values,
) -> tuple[Figure, bool]:
    """(figure, vector_changed): vector_changed is True for a new figure or one whose content hash changed.

    `modality` is asked only when the content is new to this figure: an unchanged figure keeps its label.
    """
    figure = session.scalars(select(Figure).where(Figure.collection_id == collection_id, Figure.key == key)).first()
    changed = figure is None or figure.content_sha256 != values["content_sha256"]
    if changed:
        label, confidence = modality() or (None, None)
        values.update(modality=label, modality_confidence=confidence)
    if figure is None:
        figure = Figure(collection_id=collection_id, key=key, **values)
        session.add(figure)
        session.flush()
        return figure, True
    for name, value in values.items():
        if getattr(figure, name) != value:
            setattr(figure, name, value)
    return figure, changed
