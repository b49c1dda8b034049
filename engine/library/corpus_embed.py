"""One rank's share of a corpus embedding: read the source, decode and encode this rank's figures, write shards.

The work of `pmc-search embed-corpus` on each process of a torchrun job (see `corpus_shards` for the format, the
split of records between ranks and resuming). Decoding, hashing and preprocessing run in the prefetch pool while
the model encodes the previous batch, as in an ingest. A file that cannot be read is recorded as a problem in the
manifest and skipped; it never stops the rank.

Sources whose reader extracts archives (PMC article packages) are read, and so extracted, by every rank into its
own `rank-R-of-W/media/` (the records then point there: keep the folder). PMC-OA jsonl, ROCO and image folders,
the corpus-scale sources, are read in place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.fileio import file_sha256
from engine.library.corpus_shards import ShardManifest, ShardWriter, rank_folder
from engine.library.ingest import EncodedFigure, stack_batch
from engine.library.prefetch import prefetch_map
from engine.types import Encoder, FigureRecord, IngestProgress, SourceProblem

logger = logging.getLogger(__name__)

PART_SIZE = 4096  # figures per part file: a crash re-encodes at most this many


def encoder_preprocess_id(encoder: Encoder) -> str:
    """What a library compares to know that two encoders prepare images alike (same size, crop, mean and std)."""
    return str(getattr(encoder, "preprocess_id", None) or "unspecified")


@dataclass(frozen=True)
class RankJob:
    encoder: Encoder
    source: Path
    kind: str
    out: Path
    rank: int = 0
    world_size: int = 1
    batch_size: int = 32
    part_size: int = PART_SIZE
    read_source: Callable[..., Iterable[FigureRecord | SourceProblem]] | None = None  # engine.ingest.iter_source
    open_image: Callable[[Path], Any] | None = None  # None: the encoder's load_image


def _my_records(items: Iterable[FigureRecord | SourceProblem], rank: int, world: int, skip: int) -> Iterator:
    """This rank's items (every world-th, starting at rank), after the first `skip` of them."""
    mine = 0
    for index, item in enumerate(items):
        if index % world != rank:
            continue
        mine += 1
        if mine > skip:
            yield item


class _Decoder:
    def __init__(self, job: RankJob, open_image: Callable[[Path], Any]):
        self.job, self.open_image = job, open_image

    def __call__(self, item: FigureRecord | SourceProblem):
        if isinstance(item, SourceProblem):
            return item
        path = Path(item.image_path)
        stat = path.stat()
        pixels = self.job.encoder.preprocess(self.open_image(path))
        return EncodedFigure(item, stat.st_size, stat.st_mtime_ns, file_sha256(path)), pixels


def embed_rank(job: RankJob) -> Generator[IngestProgress, None, ShardManifest]:
    """Encode this rank's share into `out/rank-R-of-W/`, resuming from its manifest; returns the final manifest."""
    from engine import ingest as readers

    read_source = job.read_source or readers.iter_source
    folder = rank_folder(job.out, job.rank, job.world_size)
    fresh = ShardManifest(
        model_id=job.encoder.model_id, dim=int(job.encoder.dim), preprocess=encoder_preprocess_id(job.encoder),
        source=str(Path(job.source).resolve()), kind=job.kind, rank=job.rank, world_size=job.world_size,
    )
    writer = ShardWriter(folder, fresh)
    manifest = writer.manifest
    if manifest.complete:
        yield IngestProgress("done", manifest.consumed, manifest.consumed, message="already complete")
        return manifest
    items = read_source(job.source, job.kind, work_dir=folder / "media")
    mine = _my_records(items, job.rank, job.world_size, manifest.consumed)
    open_image = job.open_image or job.encoder.load_image
    decoded = prefetch_map(_Decoder(job, open_image), mine, ahead=max(2 * job.batch_size, 16))
    state = _PartState(consumed=manifest.consumed)
    started, start_count = time.monotonic(), manifest.consumed
    for item, result in decoded:
        state.take(item, result)
        if len(state.pixels) >= job.batch_size:
            state.encode(job.encoder)
        if len(state.figures) >= job.part_size:
            state.flush(writer, job.encoder)
            rate = (state.consumed - start_count) / max(time.monotonic() - started, 1e-9)
            yield IngestProgress("encoding", state.consumed, None, rate)
    state.flush(writer, job.encoder)
    writer.finish()
    yield IngestProgress("done", state.consumed, state.consumed)
    return writer.manifest


@dataclass
class _PartState:
    """Figures decoded or encoded since the last part was written."""

    consumed: int
    figures: list[EncodedFigure] = field(default_factory=list)  # encoded, waiting for the next part
    vectors: list[np.ndarray] = field(default_factory=list)
    pixels: list[Any] = field(default_factory=list)  # decoded, waiting for the next batch
    waiting: list[EncodedFigure] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def take(self, item, result) -> None:
        self.consumed += 1
        if isinstance(result, SourceProblem):
            self.problems.append({"path": result.path, "message": result.message})
        elif isinstance(result, BaseException):
            path = str(getattr(item, "image_path", item))
            self.problems.append({"path": path, "message": str(result) or type(result).__name__})
        else:
            figure, pixels = result
            self.waiting.append(figure)
            self.pixels.append(pixels)

    def encode(self, encoder: Encoder) -> None:
        if not self.pixels:
            return
        try:
            vectors = np.asarray(encoder.encode_preprocessed(stack_batch(self.pixels)), dtype=np.float32)
            self.figures.extend(self.waiting)
            self.vectors.append(vectors)
        except Exception as e:  # the model rejected the batch: record its files, keep going
            logger.warning("a batch failed to encode", exc_info=True)
            self.problems.extend({"path": str(f.record.image_path), "message": f"the model failed: {e}"}
                                 for f in self.waiting)
        self.pixels, self.waiting = [], []

    def flush(self, writer: ShardWriter, encoder: Encoder) -> None:
        self.encode(encoder)
        vectors = np.concatenate(self.vectors) if self.vectors else np.zeros((0, writer.manifest.dim), np.float32)
        writer.add_part(self.figures, vectors, self.consumed, self.problems)
        self.figures, self.vectors, self.problems = [], [], []
