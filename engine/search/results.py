"""Catalog rows -> the immutable result values the GUI and CLI show (never ORM objects)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog import Article, Figure
from engine.catalog.chunks import chunked
from engine.text import path_from_text
from engine.types import ArticleMeta, MatchLevel, SearchResult, WhyMatched

logger = logging.getLogger(__name__)


def _authors(stored: str | None) -> tuple[str, ...]:
    if not stored:
        return ()
    try:
        names = json.loads(stored)
    except ValueError:
        logger.warning("ignoring unreadable authors %r", stored[:80])
        return ()
    return tuple(str(n) for n in names) if isinstance(names, list) else ()


def article_meta(article: Article | None) -> ArticleMeta | None:
    if article is None:
        return None
    return ArticleMeta(
        pmcid=article.pmcid,
        pmid=article.pmid,
        doi=article.doi,
        title=article.title,
        journal=article.journal,
        year=article.year,
        license=article.license,
        license_url=article.license_url,
        authors=_authors(article.authors),
        volume=article.volume,
        issue=article.issue,
        pages=article.pages,
    )


def load_figures(session: Session, ids: list[int]) -> dict[int, Figure]:
    found: dict[int, Figure] = {}
    for part in chunked(ids):
        for figure in session.scalars(select(Figure).where(Figure.id.in_(part))).unique():
            found[figure.id] = figure
    return found


def to_result(
    figure: Figure, score: float, why: WhyMatched, match: MatchLevel, collections: tuple[str, ...]
) -> SearchResult:
    return SearchResult(
        figure_id=figure.id,
        score=float(score),
        image_path=path_from_text(figure.image_path),  # a non-UTF-8 file name is stored as its bytes
        caption=figure.caption,
        label=figure.label,
        collection=figure.collection.name,
        modality=figure.modality,
        modality_confidence=figure.modality_confidence,
        article=article_meta(figure.article),
        why=why,
        match=match,
        collections=collections or (figure.collection.name,),
    )
