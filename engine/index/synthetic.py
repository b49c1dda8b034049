"""Synthetic embeddings for ANN tests and benchmarks, with a low intrinsic dimension as real embeddings have.

X = Z @ W + noise, Z ~ N(0, I) in `latent` dimensions, W a fixed random projection (unit-variance coordinates),
noise of standard deviation `noise` per coordinate, rows L2-normalised (see shared/design/benchmarks.md).
i.i.d. Gaussian vectors would make all neighbours nearly equidistant, so recall on them says nothing.
"""

from __future__ import annotations

import numpy as np

PROJECTION_SEED = 12345  # W is the same for data and queries, whatever their seed


def low_rank_vectors(n: int, dim: int = 768, *, latent: int = 24, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    projection = np.random.default_rng(PROJECTION_SEED).standard_normal((latent, dim)).astype(np.float32)
    projection /= np.sqrt(latent)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    step = 50_000  # build in blocks so 1M x 768 needs one output array, not three
    for start in range(0, n, step):
        m = min(step, n - start)
        block = rng.standard_normal((m, latent), dtype=np.float32) @ projection
        block += noise * rng.standard_normal((m, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out
