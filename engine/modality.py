"""Zero-shot figure modality (CT, MRI, histology, chart …) from a CLIP-like model's text tower.

Each class has several prompts; their embeddings are averaged into one class vector (a "prompt ensemble",
as in the CLIP paper), which is steadier than any single wording. An image vector's similarities to the class
vectors, times the model's own logit scale (the temperature it learned in training, exp(logit_scale)), go through a
softmax over the classes: that is the probability the model itself would give each class among these prompts.
A model that carries no learned scale (PMC-CLIP's extracted weight files) gets CLIP's ceiling, 100.

Only prompts the model can read count: a prompt with a word its tokenizer does not know ("CT" for the small demo
model) gives a meaningless vector, so it is left out, and a class left with no prompt is not offered at all. A
figure whose best class stays below MIN_CONFIDENCE is "unclassified" (label None, the best probability kept): the
Modality filter and its menu only ever see confident labels. `python -m bench.modality` prints the confusion table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from engine import paths

logger = logging.getLogger(__name__)

DEFAULT_LOGIT_SCALE = 100.0  # CLIP's learned temperature saturates at 100; PMC-CLIP is trained the same way
# Below this probability a figure is "unclassified". Measured with the demo model (bench.modality): labels given at
# >= 0.8 are right 87-90% of the time and cover ~70% of the figures; at 0.5 only 70-74% were right.
MIN_CONFIDENCE = 0.8
LABELS_VERSION = 2  # bump when the labelling rule changes, so libraries relabel their figures

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
    once, on first use; after that `classify` is pure numpy and thread-safe. `readable(prompt)` says whether the
    model can read a prompt (None: every prompt counts).
    """

    def __init__(
        self,
        encode_texts: Callable[[list[str]], np.ndarray],
        *,
        prompts: dict[str, tuple[str, ...]] | None = None,
        logit_scale: float | None = DEFAULT_LOGIT_SCALE,
        readable: Callable[[str], bool] | None = None,
        min_confidence: float | None = None,
    ) -> None:
        self._encode_texts = encode_texts
        given = dict(prompts or MODALITY_PROMPTS)
        if not given or any(not p for p in given.values()):
            raise ValueError("every modality class needs at least one prompt")
        usable = {label: tuple(p for p in texts if readable is None or readable(p)) for label, texts in given.items()}
        self._prompts = {label: texts for label, texts in usable.items() if texts}
        if not self._prompts:
            logger.warning("the model can read none of the modality prompts: every figure stays unclassified")
        self.labels: tuple[str, ...] = tuple(self._prompts)
        self.dropped: tuple[str, ...] = tuple(label for label in given if label not in self._prompts)
        self.logit_scale = float(logit_scale or DEFAULT_LOGIT_SCALE)
        self.min_confidence = float(MIN_CONFIDENCE if min_confidence is None else min_confidence)
        self._class_vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        """Changes whenever the labels could: prompts used, scale, threshold, rule version."""
        parts = [str(LABELS_VERSION), f"{self.logit_scale:.6g}", f"{self.min_confidence:.6g}"]
        parts += [f"{label}={'|'.join(texts)}" for label, texts in self._prompts.items()]
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]

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

    def classify(self, vectors: np.ndarray) -> list[tuple[str | None, float | None]]:
        """(label, probability) of the most probable class per image vector; label None below min_confidence."""
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.size == 0:
            return []
        if not self.labels:
            return [(None, None)] * len(vecs)
        probs = self.probabilities(vecs)
        best = probs.argmax(axis=1)
        out: list[tuple[str | None, float | None]] = []
        for row, i in enumerate(best):
            p = float(probs[row, i])
            out.append((self.labels[i] if p >= self.min_confidence else None, p))
        return out


def classifier_for(encoder: Any, encode_texts: Callable[[list[str]], np.ndarray] | None = None) -> ModalityClassifier:
    """The classifier the library uses for `encoder`'s model: its learned logit scale, only prompts it can read.
    `encode_texts` defaults to the encoder's own (the library passes one that caches prompt vectors)."""
    from engine.search.vocabulary import text_is_readable

    return ModalityClassifier(
        encode_texts or encoder.encode_texts,
        logit_scale=getattr(encoder, "logit_scale", None),
        readable=lambda prompt: text_is_readable(encoder, prompt),
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
