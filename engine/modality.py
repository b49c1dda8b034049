"""Zero-shot figure modality (CT, MRI, histology, chart …) from a CLIP-like model's text tower.

Each class has several prompts; their embeddings are averaged into one class vector (a "prompt ensemble",
as in the CLIP paper), which is steadier than any single wording. An image vector's similarities to the class
vectors, times a CLIP-like logit scale, go through a softmax: the best class and its probability are stored
per figure so the GUI can filter and show "MRI (0.82)".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import numpy as np

from engine import paths

logger = logging.getLogger(__name__)

DEFAULT_LOGIT_SCALE = 100.0  # CLIP's learned temperature saturates at 100; PMC-CLIP is trained the same way

PROMPT_SET_FILE = "modality.json"  # under resource_path("prompt-sets"): engine/models/prompts/


def load_prompt_set(name: str = PROMPT_SET_FILE) -> dict[str, tuple[str, ...]]:
    """Class label -> prompts, in file order, from a prompt-set JSON shipped with the engine."""
    path = paths.resource_path("prompt-sets", name)
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {label: tuple(prompts) for label, prompts in raw["classes"].items()}


MODALITY_PROMPTS: dict[str, tuple[str, ...]] = load_prompt_set()


class ModalityClassifier:
    """Classify image vectors into MODALITY_PROMPTS classes with the same model's text encoder.

    `encode_texts(list[str]) -> float32 [N, dim]` (L2-normalised rows, as `Encoder.encode_texts`) is called
    once, on first use; after that `classify` is pure numpy and thread-safe.
    """

    def __init__(
        self,
        encode_texts: Callable[[list[str]], np.ndarray],
        *,
        prompts: dict[str, tuple[str, ...]] | None = None,
        logit_scale: float = DEFAULT_LOGIT_SCALE,
    ) -> None:
        self._encode_texts = encode_texts
        self._prompts = dict(prompts or MODALITY_PROMPTS)
        if not self._prompts or any(not p for p in self._prompts.values()):
            raise ValueError("every modality class needs at least one prompt")
        self.labels: tuple[str, ...] = tuple(self._prompts)
        self.logit_scale = float(logit_scale)
        self._class_vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def class_vectors(self) -> np.ndarray:
        """[classes, dim]: the normalised mean of each class's normalised prompt embeddings."""
        with self._lock:
            if self._class_vectors is None:
                texts = [text for prompts in self._prompts.values() for text in prompts]
                embedded = np.asarray(self._encode_texts(texts), dtype=np.float32)
                if embedded.ndim != 2 or len(embedded) != len(texts):
                    raise ValueError(f"encode_texts returned shape {embedded.shape} for {len(texts)} prompts")
                embedded = _normalise(embedded)
                rows, start = [], 0
                for prompts in self._prompts.values():
                    rows.append(embedded[start : start + len(prompts)].mean(axis=0))
                    start += len(prompts)
                self._class_vectors = _normalise(np.stack(rows))
            return self._class_vectors

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """[N, classes] softmax probabilities of each class for each image vector."""
        vecs = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        classes = self.class_vectors()
        if vecs.shape[1] != classes.shape[1]:
            raise ValueError(f"image vectors have {vecs.shape[1]} dimensions, the text vectors {classes.shape[1]}")
        logits = self.logit_scale * (_normalise(vecs) @ classes.T)
        logits -= logits.max(axis=1, keepdims=True)  # numerically safe softmax
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def classify(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """(label, confidence) of the most probable class for each image vector."""
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.size == 0:
            return []
        probs = self.probabilities(vecs)
        best = probs.argmax(axis=1)
        return [(self.labels[i], float(probs[row, i])) for row, i in enumerate(best)]


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
