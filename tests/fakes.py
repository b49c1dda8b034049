"""Test doubles shared by the engine and app tests.

`FakeEncoder` is a deterministic stand-in for a CLIP model that puts text and images in one space, so tests
can know the right answer to a query: the first 8 dimensions are the 8 corner colours of the RGB cube
(black, red, green, yellow, blue, magenta, cyan, white). An image's vector holds the share of its pixels
nearest each colour (plus a small fingerprint of its pixels, so different images never tie); a text's vector
puts each colour word it contains on that colour and hashes the other words into the remaining dimensions.
So "red" finds the red images, and two copies of one image get identical vectors.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
COLOUR_RGB = {
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "yellow": (255, 255, 0),
    "blue": (0, 0, 255),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
    "white": (255, 255, 255),
}
_SIDE = 16  # images are shrunk to 16x16 before the colour count


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def solid_image(colour: str, size: int = 32, *, speckle: int = 0) -> Image.Image:
    """A solid image of a named colour; `speckle` > 0 flips that many pixels so copies differ slightly."""
    image = Image.new("RGB", (size, size), COLOUR_RGB[colour])
    for i in range(speckle):
        image.putpixel((i % size, (i // size) % size), (128, 128, 128))
    return image


class FakeEncoder:
    """Implements engine.types.Encoder without a neural network. `delay` = seconds of pretend work per image."""

    def __init__(self, dim: int = 32, delay: float = 0.0, model_id: str = "fake"):
        if dim < 16:
            raise ValueError("FakeEncoder needs dim >= 16")
        self.model_id = model_id
        self.dim = dim
        self.delay = delay
        self.device = "cpu"
        self.device_reason = "fake encoder for tests (no model)"
        self._lock = threading.Lock()
        self.images_encoded = 0  # how many images went through the 'model' (incremental-ingest tests read it)
        self.texts_encoded = 0

    # -- images
    def load_image(self, path: str | Path) -> Image.Image:
        from engine.imaging import open_image

        return open_image(path)

    def preprocess(self, image: Any) -> np.ndarray:
        if isinstance(image, str | Path):
            with Image.open(image) as opened:
                image = opened.convert("RGB")
        small = image.convert("RGB").resize((_SIDE, _SIDE), Image.Resampling.NEAREST)
        return np.asarray(small, dtype=np.float32).transpose(2, 0, 1) / 255.0  # [3, H, W] like a real transform

    def encode_preprocessed(self, batch: Any) -> np.ndarray:
        pixels = np.asarray(batch, dtype=np.float32)
        if pixels.ndim != 4:
            raise ValueError(f"expected [N, 3, H, W], got {pixels.shape}")
        if self.delay:
            time.sleep(self.delay * len(pixels))
        with self._lock:
            self.images_encoded += len(pixels)
        out = np.zeros((len(pixels), self.dim), dtype=np.float32)
        for row, image in enumerate(pixels):
            corners = (image > 0.5).astype(np.int64)  # nearest corner of the RGB cube per pixel
            # bits r=1, g=2, b=4 give exactly the COLOURS order (red=1, yellow=3, white=7 ...)
            codes = corners[0] * 1 + corners[1] * 2 + corners[2] * 4
            out[row, :8] = np.bincount(codes.ravel(), minlength=8) / codes.size
            fingerprint = np.random.default_rng(zlib.crc32(image.tobytes())).standard_normal(self.dim - 8)
            out[row, 8:] = 0.02 * fingerprint
        return _normalise(out)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_preprocessed(np.stack([self.preprocess(image) for image in images]))

    # -- texts
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(".", " ").split():
                if word in COLOURS:
                    out[row, COLOURS.index(word)] += 1.0
                else:
                    out[row, 8 + zlib.crc32(word.encode()) % (self.dim - 8)] += 0.3
            if not out[row].any():
                out[row, self.dim - 1] = 1.0
        return _normalise(out)
