"""Turning weighted query terms (texts and images) into one query vector.

A combined query ("this image, plus MRI, minus CT") is the weighted sum of each term's normalised vector,
renormalised: the same arithmetic CLIP embeddings support for zero-shot composition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserInputError
from engine.types import Encoder, QueryTerm


def _as_image(value: Any, open_image: Callable[[Path], Any]) -> Any:
    if isinstance(value, str | Path):
        path = Path(value)
        if not path.is_file():
            raise UserInputError(f"query image {path} does not exist")
        return open_image(path)
    return value  # a PIL image already


def build_query_vector(encoder: Encoder, terms: Sequence[QueryTerm], open_image: Callable[[Path], Any]) -> np.ndarray:
    """float32 [dim], L2-normalised. UserInputError for an empty query or one whose terms cancel out."""
    texts = [(i, t) for i, t in enumerate(terms) if t.text is not None and t.text.strip() and t.weight]
    images = [(i, t) for i, t in enumerate(terms) if t.image is not None and t.weight]
    if not texts and not images:
        raise UserInputError("the query is empty: type some words or choose an image")
    total = np.zeros(encoder.dim, dtype=np.float64)
    if texts:
        vectors = np.asarray(encoder.encode_texts([t.text.strip() for _, t in texts]), dtype=np.float64)
        for (_, term), vector in zip(texts, vectors, strict=True):
            total += term.weight * vector / max(np.linalg.norm(vector), 1e-12)
    if images:
        loaded = [_as_image(t.image, open_image) for _, t in images]
        vectors = np.asarray(encoder.encode_images(loaded), dtype=np.float64)
        for (_, term), vector in zip(images, vectors, strict=True):
            total += term.weight * vector / max(np.linalg.norm(vector), 1e-12)
    norm = np.linalg.norm(total)
    if norm < 1e-6:
        raise UserInputError("the query's terms cancel each other out; change a weight")
    return (total / norm).astype(np.float32)


def keyword_text(terms: Sequence[QueryTerm]) -> str:
    """The words a caption keyword search should look for: the positively weighted text terms."""
    return " ".join(t.text for t in terms if t.text and t.weight > 0)
