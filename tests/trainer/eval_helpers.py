"""Models for evaluation tests: a colour "oracle" encoder (knows the fixtures' concepts) and a tiny real model
folder that goes through the engine's public API (`local-dir:`)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.imaging import open_image
from engine.models.model_dir import save_model_dir
from engine.models.pmc_clip import PMCClip
from engine.models.tokenizer import build_vocab
from tests.trainer import data_fixtures as fx
from tests.trainer.tiny import tiny_model_config

PROTOTYPES = [*fx.DERMA_COLORS, (60, 60, 60), (190, 190, 190)]  # 4 fixture colours first, then 3 more, then 2 greys
DARK, BRIGHT = len(PROTOTYPES) - 2, len(PROTOTYPES) - 1
COLOR_WORDS = {name: i for i, name in enumerate(fx.NAMES)}
DERMA_WORDS = {
    "actinic": 0,
    "basal": 1,
    "keratosis": 2,
    "dermatofibroma": 3,
    "melanoma": 4,
    "melanocytic": 5,
    "vascular": 6,
}
BREAST_WORDS = {"malignant": DARK, "normal": BRIGHT}
PNEUMONIA_WORDS = {"normal": DARK, "pneumonia": BRIGHT}


class ColorEncoder:
    """Image feature: closeness of the mean colour to each prototype. Text feature: which prototypes its words
    name (through `lexicon`). A model that knows the synthetic concepts — so evaluations must beat chance with it."""

    model_id = "color-oracle"
    device = "cpu"
    precision = "fp32"

    def __init__(self, lexicon: dict[str, int] | None = None, sigma: float = 40.0):
        self.lexicon = lexicon if lexicon is not None else COLOR_WORDS
        self.sigma = sigma
        self.dim = len(PROTOTYPES)
        self.calls = 0

    def encode_images(self, items) -> np.ndarray:
        self.calls += 1
        means = []
        for item in items:
            image = item if isinstance(item, Image.Image) else open_image(item)
            means.append(np.asarray(image.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0))
        d2 = ((np.array(means)[:, None, :] - np.array(PROTOTYPES, dtype=np.float32)[None]) ** 2).sum(-1)
        return _unit(np.exp(-d2 / (2 * self.sigma**2)) + 1e-6)

    def encode_texts(self, texts) -> np.ndarray:
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if word in self.lexicon:
                    out[row, self.lexicon[word]] += 1.0
        return _unit(out)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


TEXTS = [fx.caption(c, i) for i, c in enumerate(fx.NAMES)] + [
    "What color is the lesion? Is the lesion red green blue yellow? yes no 4",
    "chest x-ray breast ultrasound image dermatoscopic showing of an no malignant normal benign pneumonia",
]


def tiny_model_dir(out: Path, seed: int = 0) -> Path:
    """A tiny random PMC-CLIP (the trainer tests' config, no MLM head) saved as an exported model folder."""
    vocab = build_vocab(TEXTS, out.parent / f"{out.name}-vocab")
    n_vocab = len((vocab / "vocab.txt").read_text().splitlines())
    torch.manual_seed(seed)
    config = dataclasses.replace(tiny_model_config(n_vocab), mlm=False)
    return save_model_dir(PMCClip(config).eval(), vocab, out)
