"""Encoding for evaluation: any engine model, sharded across torchrun ranks, with AMP on GPUs.

    torchrun --nproc_per_node 8 -m trainer eval all --model pmc-clip --data-root data/

Each rank encodes one contiguous slice of the items with its own copy of the model (on `cuda:LOCAL_RANK`), and the
slices are all-gathered back in rank order, so N ranks return exactly the rows one process returns (a test checks
2 gloo processes against 1). The heads trained on top (linear probe, VQA) are small and run on every rank alike
from the same gathered features, so every rank ends with the same metrics; only rank 0 prints and writes.

The model comes from the engine's public API (`engine.models.create_encoder`), so PMC-CLIP weights, BiomedCLIP,
open_clip models and exported runs are all evaluated the same way; the engine's encoder runs both towers under
autocast on GPUs (bf16 where supported, else fp16) and float32 on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer.distributed import DistInfo, all_gather_object

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None  # (items done on this rank, items on this rank)


@dataclass(frozen=True)
class ModelSpec:
    """What `--model/--weights/--tokenizer/--device` name: the engine resolves the rest."""

    name: str
    weights: str | None = None
    tokenizer: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    offline: bool = False

    def to_dict(self) -> dict:
        return {"model": self.name, "weights": self.weights, "tokenizer": self.tokenizer, "device": self.device}


def rank_device(requested: str, dist_info: DistInfo) -> str:
    """Under torchrun each rank takes its own GPU; otherwise the request stands ("auto" lets the engine choose)."""
    if dist_info.is_distributed and requested in ("auto", "cuda"):
        import torch

        return f"cuda:{dist_info.local_rank}" if torch.cuda.is_available() else "cpu"
    return requested


def create_eval_encoder(spec: ModelSpec, dist_info: DistInfo | None = None):
    from engine.models import create_encoder

    dist_info = dist_info or DistInfo()
    return create_encoder(
        spec.name,
        weights=spec.weights,
        tokenizer=spec.tokenizer,
        device=rank_device(spec.device, dist_info),
        offline=spec.offline,
        batch_size=spec.batch_size,
    )


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous [start, stop) slice of n items that `rank` encodes (sizes differ by at most one)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def encode_sharded(
    encode: Callable[[Sequence[Any]], np.ndarray],
    items: Sequence[Any],
    *,
    dist_info: DistInfo | None = None,
    chunk: int = 256,
    progress: Progress = None,
) -> np.ndarray:
    """`encode(items)` computed as this rank's slice, all-gathered in order: [len(items), dim] float32 on every rank."""
    dist_info = dist_info or DistInfo()
    start, stop = shard_bounds(len(items), dist_info.rank, dist_info.world_size)
    mine = items[start:stop]
    parts = []
    for offset in range(0, len(mine), chunk):
        parts.append(np.asarray(encode(mine[offset : offset + chunk]), dtype=np.float32))
        if progress is not None:
            progress(min(offset + chunk, len(mine)), len(mine))
    local = np.concatenate(parts) if parts else None
    gathered = all_gather_object(local)
    pieces = [p for p in gathered if p is not None]
    if not pieces:
        raise ValueError("nothing to encode")
    return np.concatenate(pieces)


def images_decoded_whole(encoder) -> Callable[[Sequence[Any]], np.ndarray]:
    """`encoder.encode_images` with image files decoded whole, as the reference evaluation does (the app's encoders
    decode large JPEGs at a reduced scale: README "Differences")."""
    from engine.imaging import open_image

    def encode(items: Sequence[Any]) -> np.ndarray:
        return encoder.encode_images([open_image(i) if isinstance(i, str | Path) else i for i in items])

    return encode


def encode_pairs(encoder, images: Sequence[Any], texts: Sequence[str], **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(image features, text features), each sharded; images are PIL images or file paths (decoded whole)."""
    return (
        encode_sharded(images_decoded_whole(encoder), list(images), **kwargs),
        encode_sharded(encoder.encode_texts, list(texts), **kwargs),
    )
