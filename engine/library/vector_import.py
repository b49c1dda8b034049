"""Building or extending a library from corpus shards (`pmc-search index SOURCE --vectors DIR`), without encoding.

The shards must come from the library's own model (model id and dimension) with the same image preprocessing,
and from the same source as the collection they fill; anything else is refused before a row is written. The rows
go through the ingest's own writers (`engine.library.ingest.run_encoded`): articles, figures, vectors, modality
labels and the index are written exactly as an ingest writes them, so a later `index SOURCE` of the same files
finds them unchanged (same key, path, size and mtime) and encodes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import LibraryModelMismatchError, UserInputError
from engine.library.corpus_embed import encoder_preprocess_id
from engine.library.corpus_shards import CorpusShards
from engine.library.ingest import EncodedFigure
from engine.types import Encoder, SourceProblem

logger = logging.getLogger(__name__)

IMPORT_BATCH = 2000  # figures per catalog transaction


def check_shards(shards: CorpusShards, encoder: Encoder, *, model_id: str, dim: int, source: Path) -> None:
    """Refuse shards of another model, dimension, preprocessing or source, and an embedding still running."""
    made = shards.first
    if made.model_id != model_id or int(made.dim) != int(dim):
        raise LibraryModelMismatchError(
            f"the vectors in {shards.folder} were made with {made.model_id!r} ({made.dim}-d); this library uses "
            f"{model_id!r} ({dim}-d). Embed the corpus with the library's model, or make a new library"
        )
    preprocess = encoder_preprocess_id(encoder)
    if made.preprocess != preprocess:
        raise LibraryModelMismatchError(
            f"the vectors in {shards.folder} were made with other image preprocessing ({made.preprocess}) than "
            f"this library's model uses ({preprocess})"
        )
    if Path(made.source) != Path(source).resolve():
        raise UserInputError(f"the vectors in {shards.folder} were made from {made.source}, not from {source}")
    if not shards.complete:
        done = sum(1 for _, m in shards.manifests if m.complete)
        raise UserInputError(
            f"the embedding in {shards.folder} is not finished ({done} of {made.world_size} ranks complete); "
            "run embed-corpus again with the same arguments to finish it"
        )


def shard_batches(
    shards: CorpusShards, batch_size: int = IMPORT_BATCH
) -> Iterator[tuple[list[EncodedFigure], np.ndarray]]:
    """The shards' figures and vectors in batches of `batch_size` (parts are re-cut; one part is read at a time)."""
    figures: list[EncodedFigure] = []
    vectors: list[np.ndarray] = []
    held = 0
    for part_figures, part_vectors in shards.iter_parts():
        figures.extend(part_figures)
        vectors.append(part_vectors)
        held += len(part_figures)
        while held >= batch_size:
            stacked = np.concatenate(vectors)
            yield figures[:batch_size], stacked[:batch_size]
            figures, vectors, held = figures[batch_size:], [stacked[batch_size:]], held - batch_size
    if held:
        yield figures, np.concatenate(vectors)


def shard_problems(shards: CorpusShards) -> list[SourceProblem]:
    return [SourceProblem(str(p.get("path", "")), str(p.get("message", ""))) for p in shards.problems()]
