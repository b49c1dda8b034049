"""Encoding again the images whose stored vectors were quarantined (wrong length, NaN: see `index_cache`).

A quarantined vector's figures are out of the index. Their image file is read again and, when it still has the
content the vector belongs to (same SHA-256), encoded with the library's model; the vector row is replaced, the
quarantine lifted, and the figures go back into the index under a new generation. A file that is gone or changed
cannot give that vector back: the figures stay out, and the next ingest of their collection replaces them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Figure, QuarantinedVector, Vector, bump_generation, vector_to_blob
from engine.fileio import file_sha256
from engine.text import display_text, path_from_text
from engine.types import Encoder

logger = logging.getLogger(__name__)


@dataclass
class ReencodeReport:
    reencoded: int = 0  # distinct contents encoded again
    figures_restored: int = 0
    still_quarantined: list[str] = field(default_factory=list)  # "sha: why" for those that could not be


def quarantined_figures(session: Session) -> dict[str, list[tuple[int, str]]]:
    """sha → [(figure id, stored image path)] for every quarantined vector that figures still use."""
    rows = session.execute(
        select(Figure.content_sha256, Figure.id, Figure.image_path).where(
            Figure.content_sha256.in_(select(QuarantinedVector.content_sha256))
        )
    )
    out: dict[str, list[tuple[int, str]]] = {}
    for sha, figure_id, image_path in rows:
        out.setdefault(sha, []).append((figure_id, image_path))
    return out


def _encode_from_files(
    sha: str, paths: list[str], encoder: Encoder, open_image: Callable[[Path], Any], dim: int
) -> tuple[np.ndarray | None, str]:
    why = "no file of it is left"
    for stored in paths:
        path = path_from_text(stored)
        try:
            if file_sha256(path) != sha:
                why = f"{display_text(path)} has changed since it was indexed"
                continue
            vector = np.asarray(encoder.encode_images([open_image(path)]), dtype=np.float32).reshape(-1)
        except Exception as e:  # noqa: BLE001 - per item: reported, the rest go on
            why = f"{display_text(path)}: {e}"
            continue
        if vector.shape == (dim,) and np.isfinite(vector).all():
            return vector, ""
        why = "the model gave an invalid vector for it again"
    return None, why


def reencode_quarantined(
    sessions: sessionmaker[Session],
    encoder: Encoder,
    open_image: Callable[[Path], Any],
    add_to_index: Callable[[np.ndarray, np.ndarray], None],
    write_lock: Any,
    dim: int,
) -> ReencodeReport:
    report = ReencodeReport()
    with sessions() as session:
        todo = quarantined_figures(session)
    for sha, figures in todo.items():
        vector, why = _encode_from_files(sha, [p for _, p in figures], encoder, open_image, dim)
        if vector is None:
            report.still_quarantined.append(f"{sha[:12]}: {why}")
            logger.warning("quarantined vector %s stays out of the index: %s", sha[:12], why)
            continue
        ids = np.asarray(sorted(f for f, _ in figures), dtype=np.int64)
        with write_lock:
            with sessions.begin() as session:
                session.merge(Vector(content_sha256=sha, data=vector_to_blob(vector)))
                session.execute(delete(QuarantinedVector).where(QuarantinedVector.content_sha256 == sha))
                generation = bump_generation(session)
                session.execute(update(Figure).where(Figure.id.in_(ids.tolist())).values(vector_generation=generation))
            add_to_index(ids, np.tile(vector, (len(ids), 1)))
        report.reencoded += 1
        report.figures_restored += len(ids)
    if report.reencoded:
        logger.info("re-encoded %d quarantined vectors (%d figures back in the index)", report.reencoded,
                    report.figures_restored)
    return report
