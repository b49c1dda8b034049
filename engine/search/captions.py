"""Image -> captions: which captions in the library describe something like this image."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Article, Figure
from engine.search.results import article_meta
from engine.search.searcher import Searcher
from engine.types import CaptionMatch, Encoder


def captions_for_vector(
    sessions: sessionmaker[Session], searcher: Searcher, encoder: Encoder, vector: np.ndarray, *, limit: int = 10
) -> list[CaptionMatch]:
    """Candidates are the captions of the image's nearest figures; they are then ranked by the model's
    image-to-text similarity, so the answer is cross-modal without encoding every caption in advance."""
    neighbours = searcher.nearest(vector, max(5 * limit, 50))
    order = {figure_id: n for n, (figure_id, _) in enumerate(neighbours)}
    with sessions() as session:
        rows = session.execute(
            select(Figure.id, Figure.caption, Figure.article_id).where(
                Figure.id.in_(list(order)), Figure.caption.is_not(None)
            )
        ).all()
        by_caption: dict[str, tuple[int, int | None]] = {}
        for figure_id, caption, article_id in sorted(rows, key=lambda r: order[r[0]]):
            if caption.strip():
                by_caption.setdefault(caption, (figure_id, article_id))  # the nearest figure with this caption
        article_ids = [a for _, a in by_caption.values() if a]
        articles = {a.id: article_meta(a) for a in session.scalars(select(Article).where(Article.id.in_(article_ids)))}
    if not by_caption:
        return []
    captions = list(by_caption)
    scores = np.asarray(encoder.encode_texts(captions), dtype=np.float32) @ vector
    ranked = sorted(zip(captions, scores.tolist(), strict=True), key=lambda pair: -pair[1])[:limit]
    return [
        CaptionMatch(figure_id=by_caption[c][0], caption=c, score=float(s), article=articles.get(by_caption[c][1]))
        for c, s in ranked
    ]
