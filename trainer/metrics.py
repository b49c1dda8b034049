"""Image↔text retrieval metrics over a paired set (pmc-clip.md §5.1): R@K, mean and median rank.

Pair i is image i and caption i; every other item is a distractor (the full N×N cosine-similarity matrix, diagonal
ground truth). Ranks are 1-based and ties count against the model: the rank of the true item is the number of
candidates scoring at least as high as it (itself included), so a collapsed model whose features are all equal
ranks every true item last instead of first. R@K is the fraction of queries whose true item has rank ≤ K.
Chance levels are given alongside: R@K = K/N and mean rank (N+1)/2 for a random ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def retrieval_metrics(
    image_features: torch.Tensor | np.ndarray,
    text_features: torch.Tensor | np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Keys: image_to_text_R@K, image_to_text_mean_rank, image_to_text_median_rank, the same for text_to_image,
    chance_R@K, chance_mean_rank and num_samples. Features are L2-normalised here (cosine similarity)."""
    images = _normalised(image_features)
    texts = _normalised(text_features)
    if images.shape != texts.shape or images.ndim != 2:
        raise ValueError(f"need paired [N, D] features, got {tuple(images.shape)} and {tuple(texts.shape)}")
    n = images.shape[0]
    if n == 0:
        raise ValueError("no pairs to evaluate")
    metrics: dict[str, float] = {}
    for name, queries, candidates in (("image_to_text", images, texts), ("text_to_image", texts, images)):
        ranks = true_item_ranks(queries, candidates, chunk_size).double()
        for k in ks:
            metrics[f"{name}_R@{k}"] = float((ranks <= k).double().mean())
        metrics[f"{name}_mean_rank"] = float(ranks.mean())
        metrics[f"{name}_median_rank"] = float(np.median(ranks.numpy()))
    for k in ks:
        metrics[f"chance_R@{k}"] = min(k, n) / n
    metrics["chance_mean_rank"] = (n + 1) / 2
    metrics["num_samples"] = float(n)
    return metrics


def true_item_ranks(queries: torch.Tensor, candidates: torch.Tensor, chunk_size: int = 1024) -> torch.Tensor:
    """1-based rank of candidate i for query i (ties counted against), in chunks so N×N never sits in memory."""
    n = queries.shape[0]
    ranks = torch.empty(n, dtype=torch.long)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        scores = queries[start:stop] @ candidates.T
        rows = torch.arange(stop - start)
        true_scores = scores[rows, rows + start]
        ranks[start:stop] = (scores >= true_scores[:, None]).sum(dim=1)
    return ranks


def _normalised(features: torch.Tensor | np.ndarray) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    tensor = tensor.detach().to(device="cpu", dtype=torch.float32)
    return torch.nn.functional.normalize(tensor, dim=-1)
