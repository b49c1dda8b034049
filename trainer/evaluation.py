"""Validation during training: embed a held-out set with the model being trained and score retrieval R@K.

The rows scored and the rank rules are the reference's by default (see `trainer.evaluate.protocols`): a pool
drawn with replacement, visited in a per-epoch order, whole batches only; ties ranked as torch.argsort ranks them.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from trainer.losses import clip_loss

logger = logging.getLogger(__name__)


def _retrieval_metrics(image_features: np.ndarray, text_features: np.ndarray) -> dict[str, float]:
    from trainer.metrics import retrieval_metrics

    return retrieval_metrics(image_features, text_features)


@torch.no_grad()
def embed_pairs(
    model: torch.nn.Module, dataset: Dataset, *, batch_size: int, device: str, num_workers: int = 0, collate_fn=None
) -> tuple[np.ndarray, np.ndarray, float]:
    """(image features, text features, mean CLIP loss over batches) for every pair of `dataset`, in order."""
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    # Own generator: making the loader must not draw from the global RNG, so validating (or not) leaves the
    # training run's random stream — and with it resume exactness — untouched.
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(0),
    )
    images, texts, losses = [], [], []
    try:
        for batch in loader:
            pixels = batch["image"].to(device=device, dtype=dtype, non_blocking=True)
            ids = batch["input_ids"].to(device, non_blocking=True)
            img = model.encode_image(pixels, normalize=True)
            txt = model.encode_text(ids, normalize=True)
            losses.append(float(clip_loss(img.float(), txt.float(), model.logit_scale.exp().float())))
            images.append(img.float().cpu().numpy())
            texts.append(txt.float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(images), np.concatenate(texts), float(np.mean(losses)) if losses else float("nan")


def validate(
    model: torch.nn.Module,
    dataset: Dataset,
    *,
    batch_size: int,
    device: str,
    num_workers: int = 0,
    collate_fn=None,
    order=None,
) -> dict[str, float]:
    """{'val_loss', 'val_<metric>' …} with the retrieval metrics over the validation set, or over the rows of
    `order` (indices into it, in the order scored) when given."""
    if order is not None and len(order) == 0:
        # The reference would score nothing (drop_last on a set smaller than one batch) and crash; score it all.
        logger.warning("validation set (%d rows) is smaller than one batch of %d: scoring every row", len(dataset),
                       batch_size)
    elif order is not None:
        dataset = Subset(dataset, [int(i) for i in order])
    img, txt, loss = embed_pairs(
        model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, collate_fn=collate_fn
    )
    metrics = {"val_loss": loss}
    metrics.update({f"val_{k}": float(v) for k, v in _retrieval_metrics(img, txt).items()})
    return metrics
