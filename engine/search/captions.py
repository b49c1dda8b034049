"""Image -> captions: which captions in the library describe something like this image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Article, Figure
from engine.search.background import TextBackground
from engine.search.results import article_meta
from engine.search.searcher import Searcher
from engine.types import CaptionMatch, Encoder


def captions_for_vector(
    sessions: sessionmaker[Session],
    searcher: Searcher,
    encoder: Encoder,
    vector: np.ndarray,
    background: TextBackground,
    *,
    limit: int = 10,
) -> list[CaptionMatch]:
    """Candidates are the captions of the image's nearest figures; they are then ranked by the model's
    image-to-text similarity, so the answer is cross-modal without encoding every caption in advance.

    Each caption's score is its match strength with the image (engine.search.background): the caption read as a
    text query, the image as the figure — the scale text search results are shown on.
    """
    neighbours = searcher.nearest(vector, max(5 * limit, 50))
    order = {figure_id: n for n, (figure_id, _) in enumerate(neighbours)}
    with sessions() as session:
        rows = session.execute(
            select(Figure.id, Figure.caption, Figure.article_id, Figure.image_path, Figure.label).where(
                Figure.id.in_(list(order)), Figure.caption.is_not(None)
            )
        ).all()
        by_caption: dict[str, tuple[int, int | None, str, str | None]] = {}
        for figure_id, caption, article_id, path, label in sorted(rows, key=lambda r: order[r[0]]):
            if caption.strip():  # the nearest figure with this caption stands for it
                by_caption.setdefault(caption, (figure_id, article_id, path, label))
        article_ids = [a for _, a, _, _ in by_caption.values() if a]
        articles = {a.id: article_meta(a) for a in session.scalars(select(Article).where(Article.id.in_(article_ids)))}
    if not by_caption:
        return []
    captions = list(by_caption)
    similarities = np.asarray(encoder.encode_texts(captions), dtype=np.float32) @ vector
    level = float(background.levels(vector[None, :])[0])
    strengths = (similarities - level) / background.spread
    ranked = sorted(range(len(captions)), key=lambda n: -strengths[n])[:limit]
    matches = []
    for n in ranked:
        figure_id, article_id, path, label = by_caption[captions[n]]
        matches.append(
            CaptionMatch(
                figure_id=figure_id,
                caption=captions[n],
                score=float(strengths[n]),
                article=articles.get(article_id),
                similarity=float(similarities[n]),
                image_path=Path(path),
                label=label,
            )
        )
    return matches
