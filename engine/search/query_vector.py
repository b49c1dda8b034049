"""Turning weighted query terms (texts and images) into one query vector.

A combined query ("this image, plus MRI, minus CT") is the weighted sum of each term's normalised vector,
renormalised: the same arithmetic CLIP embeddings support for zero-shot composition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import LibraryError, UserInputError
from engine.fileio import special_file_kind
from engine.types import Encoder, QueryTerm


def _as_image(value: Any, open_image: Callable[[Path], Any]) -> Any:
    if isinstance(value, str | Path):
        path = Path(value)
        kind = special_file_kind(path)
        if kind is not None:
            raise UserInputError(f"query image {path} is {kind}, not an image file")
        if not path.is_file():
            raise UserInputError(f"query image {path} does not exist")
        return open_image(path)
    return value  # a PIL image already


def _active(terms: Sequence[QueryTerm]) -> tuple[list[QueryTerm], list[QueryTerm], list[QueryTerm]]:
    texts = [t for t in terms if t.text is not None and t.text.strip() and t.weight]
    images = [t for t in terms if t.image is not None and t.weight]
    figures = [t for t in terms if t.figure_id is not None and t.weight]
    return texts, images, figures


def build_query_vector(
    encoder: Encoder | None,
    terms: Sequence[QueryTerm],
    open_image: Callable[[Path], Any],
    stored_vectors: Mapping[int, np.ndarray] | None = None,
) -> np.ndarray:
    """float32 [dim], L2-normalised. UserInputError for an empty query or one whose terms cancel out.

    Figure terms take their vector from `stored_vectors` (figure id -> vector); only text and image terms need
    the encoder.
    """
    texts, images, figures = _active(terms)
    if not texts and not images and not figures:
        raise UserInputError("the query is empty: type some words or choose an image")
    if (texts or images) and encoder is None:
        raise LibraryError("no model attached to this library (call attach_encoder first)")
    parts: list[tuple[float, np.ndarray]] = []
    if texts:
        vectors = np.asarray(encoder.encode_texts([t.text.strip() for t in texts]), dtype=np.float64)
        parts += [(t.weight, v) for t, v in zip(texts, vectors, strict=True)]
    if images:
        vectors = np.asarray(encoder.encode_images([_as_image(t.image, open_image) for t in images]), dtype=np.float64)
        parts += [(t.weight, v) for t, v in zip(images, vectors, strict=True)]
    parts += [(t.weight, np.asarray((stored_vectors or {})[t.figure_id], dtype=np.float64)) for t in figures]
    total = sum(weight * vector / max(np.linalg.norm(vector), 1e-12) for weight, vector in parts)
    norm = np.linalg.norm(total)
    if norm < 1e-6:
        raise UserInputError("the query's terms cancel each other out; change a weight")
    return (total / norm).astype(np.float32)


def keyword_text(terms: Sequence[QueryTerm]) -> str:
    """The words a caption keyword search should look for: the positively weighted text terms."""
    return " ".join(t.text for t in terms if t.text and t.weight > 0)
