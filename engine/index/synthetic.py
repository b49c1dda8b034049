"""Synthetic embeddings for ANN tests and benchmarks, with a low intrinsic dimension as real embeddings have.

X = Z @ W + noise, Z ~ N(0, I) in `latent` dimensions, W a fixed random projection (unit-variance coordinates),
noise of standard deviation `noise` per coordinate, rows L2-normalised (see shared/design/benchmarks.md).
i.i.d. Gaussian vectors would make all neighbours nearly equidistant, so recall on them says nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

PROJECTION_SEED = 12345  # W is the same for data and queries, whatever their seed


def iter_low_rank_blocks(
    n: int, dim: int = 768, *, latent: int = 24, noise: float = 0.5, seed: int = 0, block: int = 50_000
) -> Iterator[np.ndarray]:
    """The rows of `low_rank_vectors(n, …)` in blocks, so 1M x 768 can be streamed into an index."""
    projection = np.random.default_rng(PROJECTION_SEED).standard_normal((latent, dim)).astype(np.float32)
    projection /= np.sqrt(latent)
    rng = np.random.default_rng(seed)
    for start in range(0, n, block):
        m = min(block, n - start)
        rows = rng.standard_normal((m, latent), dtype=np.float32) @ projection
        rows += noise * rng.standard_normal((m, dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        yield rows


def low_rank_vectors(n: int, dim: int = 768, *, latent: int = 24, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    start = 0
    for rows in iter_low_rank_blocks(n, dim, latent=latent, noise=noise, seed=seed):
        out[start : start + len(rows)] = rows
        start += len(rows)
    return out
