"""What "no match" looks like, so that a similarity can be read as evidence rather than as a bare cosine.

A CLIP-like model gives every text some similarity to every image: a nonsense word reaches 0.7 on some figures of a
small model, while a good query reaches 0.8. A raw cosine therefore says little. Two backgrounds make it say more:

Text queries — null prompts. A fixed set of meaningless texts (letter strings, lone function words, an empty
string) is encoded with the library's model. For a figure f, their mean vector n̄ gives the similarity that
meaningless text reaches on f: f·n̄ (the mean of the null prompts' similarities, exactly). Their spread σ around that
mean, pooled over a fixed random sample of the library, is the noise level. A text query q then scores

    strength(f) = (f·q − f·n̄) / σ

"how many background spreads the figure's similarity rises above what meaningless text reaches on it". Ranking by
strength is ranking by cosine with the direction q − n̄, so the ANN index answers it directly.

Image queries — the library itself. Image-to-image cosines run high (0.6 between unrelated figures of one small
model), so an image query is compared with a fixed random sample of the library: its mean similarity there is the
query's background level b, and

    closeness(f) = 100 · (f·q − b) / (1 − b)

is 0 for a figure as similar as the library's average one and 100 for an identical vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_SIZE = 1000  # figures in the fixed random sample that both backgrounds are measured on
MIN_SPREAD = 1e-3  # a degenerate model (every text the same vector) must not divide by zero

# Texts that mean nothing: letter strings of several lengths, lone function words, punctuation, an empty string.
# Fixed (not drawn at run time), so a library's background never changes between runs.
# fmt: off
NULL_PROMPTS: tuple[str, ...] = (
    "", ".", "a", "the", "of the", "and", "it is", "this", "there",
    "zqxv", "kjhdf", "plmokn", "wqert", "bvcxz", "jjkl", "asdf ghjk", "qwpo", "mnbvc", "xlrt", "fhqzu",
    "ptkdg yrw", "ouiea", "vvbn mmq", "hgyt", "ckzr lqp",
)
# fmt: on


@dataclass(frozen=True)
class TextBackground:
    centre: np.ndarray  # n̄ [dim]: the mean of the null prompts' (normalised) vectors, not renormalised
    spread: float  # σ: the null prompts' similarities around their per-figure mean, pooled over the sample

    def levels(self, vectors: np.ndarray) -> np.ndarray:
        """f·n̄ for each figure vector: the similarity meaningless text reaches on it."""
        return np.asarray(vectors, dtype=np.float32) @ self.centre

    def strengths(self, query: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw similarities, background levels, strengths) of the figure vectors for a text query vector."""
        similarities = np.asarray(vectors, dtype=np.float32) @ query
        levels = self.levels(vectors)
        return similarities, levels, (similarities - levels) / self.spread

    def retrieval_vector(self, query: np.ndarray) -> np.ndarray:
        """The unit direction whose cosine ranks figures by strength (q − n̄, normalised); q if that vanishes."""
        direction = np.asarray(query, dtype=np.float64) - self.centre
        norm = np.linalg.norm(direction)
        return query if norm < 1e-6 else (direction / norm).astype(np.float32)


def text_background(null_vectors: np.ndarray, sample: np.ndarray) -> TextBackground:
    """The background from the null prompts' vectors [K, dim] and the library sample's figure vectors [m, dim]."""
    nulls = _normalised(np.asarray(null_vectors, dtype=np.float32))
    centre = nulls.mean(axis=0)
    sample = np.asarray(sample, dtype=np.float32)
    if len(sample) == 0:
        return TextBackground(centre=centre, spread=1.0)
    similarities = sample @ nulls.T  # [m, K]
    residuals = similarities - (sample @ centre)[:, None]
    spread = float(np.sqrt(np.mean(residuals**2)))
    return TextBackground(centre=centre, spread=max(spread, MIN_SPREAD))


@dataclass(frozen=True)
class ImageBackground:
    level: float  # b: the query image's mean similarity to the library sample

    def closeness(self, similarities: np.ndarray) -> np.ndarray:
        # A dot product of two unit float32 vectors can come out a hair above 1; a cosine cannot, so 100 is the top.
        similarities = np.minimum(np.asarray(similarities, dtype=np.float32), 1.0)
        return 100.0 * (similarities - self.level) / max(1.0 - self.level, 1e-6)


def image_background(query: np.ndarray, sample: np.ndarray) -> ImageBackground:
    sample = np.asarray(sample, dtype=np.float32)
    level = float(np.mean(sample @ query)) if len(sample) else 0.0
    return ImageBackground(level=min(level, 1.0 - 1e-6))


def _normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
