"""Image↔text retrieval metrics over a paired set (pmc-clip.md §5.1): R@K, mean and median rank.

Pair i is image i and caption i; every other item is a distractor (the full N×N cosine-similarity matrix, diagonal
ground truth). Ranks are 1-based; R@K is the fraction of queries whose true item has rank ≤ K. Chance levels are
given alongside: R@K = K/N and mean rank (N+1)/2 for a random ranking.

Two rank rules, because they disagree exactly where the reference's 2k subset is weak (duplicate draws, identical
captions such as "Western blot." have identical features and so tie):
- `official` (default, the reference's `get_metrics`): the true item's position in `torch.argsort(scores,
  descending=True)` — among exact ties the order torch's sort leaves them in, which is neither first nor last by
  rule — and the median rank is `floor(median(positions)) + 1` (floored, on 0-based positions).
- `pessimistic` (ours): the rank is the number of candidates scoring at least as high as the true one (itself
  included), so every tie counts against the model and a collapsed model whose features are all equal ranks every
  true item last instead of somewhere arbitrary; the median is the plain median of the ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

TIE_RULES = ("official", "pessimistic")


def retrieval_metrics(
    image_features: torch.Tensor | np.ndarray,
    text_features: torch.Tensor | np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 1024,
    ties: str = "official",
) -> dict[str, float]:
    """Keys: image_to_text_R@K, image_to_text_mean_rank, image_to_text_median_rank, the same for text_to_image,
    chance_R@K, chance_mean_rank and num_samples. Features are L2-normalised here (cosine similarity)."""
    ranks = paired_ranks(image_features, text_features, chunk_size=chunk_size, ties=ties)
    n = len(ranks["image_to_text"])
    metrics: dict[str, float] = {}
    for name, r in ranks.items():
        metrics.update({f"{name}_{k}": v for k, v in summarize_ranks(r, ks, ties).items()})
    for k in ks:
        metrics[f"chance_R@{k}"] = min(k, n) / n
    metrics["chance_mean_rank"] = (n + 1) / 2
    metrics["num_samples"] = float(n)
    return metrics


def paired_ranks(
    image_features, text_features, *, chunk_size: int = 1024, ties: str = "official"
) -> dict[str, np.ndarray]:
    """{'image_to_text': 1-based ranks [N], 'text_to_image': …} of each query's true item."""
    if ties not in TIE_RULES:
        raise ValueError(f"ties must be one of {TIE_RULES}, not {ties!r}")
    images = _normalised(image_features)
    texts = _normalised(text_features)
    if images.shape != texts.shape or images.ndim != 2:
        raise ValueError(f"need paired [N, D] features, got {tuple(images.shape)} and {tuple(texts.shape)}")
    if images.shape[0] == 0:
        raise ValueError("no pairs to evaluate")
    rank = true_item_ranks if ties == "pessimistic" else argsort_ranks
    return {
        "image_to_text": rank(images, texts, chunk_size).numpy(),
        "text_to_image": rank(texts, images, chunk_size).numpy(),
    }


def summarize_ranks(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10), ties: str = "official") -> dict[str, float]:
    """{'R@K', 'mean_rank', 'median_rank'} of 1-based ranks under a tie rule's median convention."""
    ranks = np.asarray(ranks, dtype=np.float64)
    out = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["mean_rank"] = float(ranks.mean())
    if ties == "official":
        out["median_rank"] = float(np.floor(np.median(ranks - 1)) + 1)
    else:
        out["median_rank"] = float(np.median(ranks))
    return out


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


def argsort_ranks(queries: torch.Tensor, candidates: torch.Tensor, chunk_size: int = 1024) -> torch.Tensor:
    """1-based position of candidate i in query i's `torch.argsort(descending=True)`: the reference's rule.

    Each row is sorted on its own, so cutting the matrix into row chunks gives the rows the same order.
    """
    n = queries.shape[0]
    ranks = torch.empty(n, dtype=torch.long)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        ranking = torch.argsort(queries[start:stop] @ candidates.T, dim=1, descending=True)
        truth = torch.arange(start, stop)[:, None]
        ranks[start:stop] = torch.nonzero(ranking == truth)[:, 1] + 1
    return ranks


def _normalised(features: torch.Tensor | np.ndarray) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    tensor = tensor.detach().to(device="cpu", dtype=torch.float32)
    return torch.nn.functional.normalize(tensor, dim=-1)
