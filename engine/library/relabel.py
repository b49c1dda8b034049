"""Relabelling a library's figures when the modality rule changed (prompts, temperature, threshold, version).

Labels are stored per figure at ingest, so a library indexed under an older rule would keep showing its old labels
("CT (100%)" on a bar chart). Opening it writable relabels every figure from its stored vector once — pure numpy,
no image is read — and records the classifier's fingerprint, so later opens skip it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import Figure, get_meta, iter_figure_vectors, set_meta
from engine.modality import ModalityClassifier

logger = logging.getLogger(__name__)

FINGERPRINT_KEY = "modality_fingerprint"


def relabel_if_stale(
    sessions: sessionmaker[Session], write_lock: threading.RLock, classifier: ModalityClassifier, dim: int
) -> int:
    """Relabel every figure unless the stored fingerprint matches the classifier's; returns how many were."""
    fingerprint = classifier.fingerprint()
    with sessions() as session:
        if get_meta(session, FINGERPRINT_KEY) == fingerprint:
            return 0
    chunks = [(ids.tolist(), classifier.classify(vectors)) for ids, vectors in iter_figure_vectors(sessions, dim)]
    relabelled = 0
    with write_lock, sessions.begin() as session:
        for ids, labels in chunks:
            rows = [
                {"id": figure_id, "modality": label, "modality_confidence": confidence}
                for figure_id, (label, confidence) in zip(ids, labels, strict=True)
            ]
            if rows:
                session.execute(update(Figure), rows)
            relabelled += len(rows)
        set_meta(session, FINGERPRINT_KEY, fingerprint)
    if relabelled:
        logger.info("relabelled the modality of %d figures (the labelling rule changed)", relabelled)
    return relabelled
