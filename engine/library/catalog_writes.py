"""Writing one ingested figure into the catalog: find-or-create its article, insert-or-update its row."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.catalog import Article, Figure, get_meta, set_meta
from engine.catalog.chunks import chunked
from engine.types import ArticleMeta

_ARTICLE_FIELDS = (
    "pmcid", "pmid", "doi", "title", "journal", "year", "license", "license_url", "authors", "volume", "issue", "pages"
)


def _column_value(meta: ArticleMeta, name: str):
    value = getattr(meta, name)
    if name == "authors":  # a tuple in ArticleMeta, a JSON list in the catalog
        return json.dumps(list(value), ensure_ascii=False) if value else None
    return value


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


def _has_facts(meta: ArticleMeta | None) -> bool:
    return meta is not None and any(getattr(meta, name) for name in _ARTICLE_FIELDS)


def _apply(article: Article, meta: ArticleMeta) -> None:
    for name in _ARTICLE_FIELDS:
        value = _column_value(meta, name)
        if value is not None and getattr(article, name) != value:
            setattr(article, name, value)


def preload_articles(session: Session, metas: list[ArticleMeta | None], cache: dict[ArticleMeta, int]) -> None:
    """Find or create the articles of a whole batch that have a PMCID with one query and one flush, filling
    `cache`, so `upsert_article` needs no query per figure (a per-article query and flush cost ~8 ms each: hours
    for a corpus of a million figures). Articles without a PMCID are left to `upsert_article`."""
    todo = [m for m in dict.fromkeys(metas) if _has_facts(m) and m not in cache and m.pmcid]
    if not todo:
        return
    found: dict[str, Article] = {}
    for part in chunked(sorted({m.pmcid for m in todo})):
        found.update((a.pmcid, a) for a in session.scalars(select(Article).where(Article.pmcid.in_(part))))
    for meta in todo:
        article = found.get(meta.pmcid)
        if article is None:
            article = found[meta.pmcid] = Article()
            session.add(article)
        _apply(article, meta)
    session.flush()
    for meta in todo:
        cache[meta] = found[meta.pmcid].id


def upsert_article(session: Session, meta: ArticleMeta | None, cache: dict[ArticleMeta, int]) -> int | None:
    """The id of the article row for `meta` (created or updated); None when the figure has no article facts."""
    if not _has_facts(meta):
        return None
    if meta in cache:
        return cache[meta]
    article = _find_article(session, meta)
    if article is None:
        article = Article()
        session.add(article)
    _apply(article, meta)
    session.flush()
    cache[meta] = article.id
    return article.id


class FigureWriter:
    """Inserts or updates one batch of a collection's figures with a handful of queries, not a few per figure.

    Figure ids only ever grow, never reusing a deleted figure's id (SQLite alone would reuse the largest id once
    it is deleted): the ANN index reuses deleted slots, and a recycled id could leave a stale slot carrying it.
    For the same reason a figure whose content changed is replaced by a new row with a new id, so the index only
    ever adds new ids and deletes old ones, never overwrites a live one.
    """

    def __init__(self, session: Session, collection_id: int, keys: list[str]):
        self.session = session
        self.collection_id = collection_id
        self.existing: dict[str, Figure] = {}
        for part in chunked(keys):
            query = select(Figure).where(Figure.collection_id == collection_id, Figure.key.in_(part))
            self.existing.update((f.key, f) for f in session.scalars(query).unique())
        self._next_id: int | None = None

    def _new_id(self) -> int:
        if self._next_id is None:
            counter = int(get_meta(self.session, "next_figure_id") or 0)
            self._next_id = max(counter, (self.session.scalar(select(func.max(Figure.id))) or 0) + 1)
        figure_id, self._next_id = self._next_id, self._next_id + 1
        return figure_id

    def finish(self) -> None:
        if self._next_id is not None:
            set_meta(self.session, "next_figure_id", str(self._next_id))

    def upsert(
        self, key: str, modality: Callable[[], tuple[str | None, float | None] | None], **values
    ) -> tuple[Figure, bool, int | None]:
        """(figure, vector_changed, replaced_id). `modality` is asked only for content new to this figure."""
        figure = self.existing.get(key)
        if figure is not None and figure.content_sha256 == values["content_sha256"]:
            for name, value in values.items():
                if getattr(figure, name) != value:
                    setattr(figure, name, value)
            return figure, False, None
        replaced_id = None
        if figure is not None:
            replaced_id = figure.id
            self.session.delete(figure)
            self.session.flush()  # frees the (collection, key) pair for the new row
        label, confidence = modality() or (None, None)
        values.update(modality=label, modality_confidence=confidence)
        figure = Figure(id=self._new_id(), collection_id=self.collection_id, key=key, **values)
        self.session.add(figure)
        self.existing[key] = figure
        return figure, True, replaced_id
