"""Encoders: turn images and texts into float32, L2-normalised vectors, batched, on the chosen device.

`BatchedEncoder` holds what every model shares (batching, device, precision, no-grad, normalisation, opening
image files); `PMCClipEncoder` and `OpenClipEncoder` only say how one batch becomes features. Both implement
`engine.types.Encoder`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.imaging import open_image
from engine.models.inference import fold_image_tower_batchnorm_
from engine.models.precision import AUTOCAST_DTYPES, TextTowerPlan, autocast
from engine.models.text_tower import CompactTextTower
from engine.models.tokenizer import tokenize
from engine.models.transforms import split_transform

logger = logging.getLogger(__name__)

DEFAULT_IMAGE_BATCH = {"cpu": 16, "cuda": 64, "mps": 32}
TEXT_CACHE_SIZE = 512  # recent texts whose vectors are kept: a repeated query (typing, paging, back) skips the model


class TextVectorCache:
    """The last `capacity` texts' vectors, least recently used out first; thread-safe."""

    def __init__(self, capacity: int = TEXT_CACHE_SIZE):
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._vectors.move_to_end(text)
            self.hits += 1
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        vector = np.array(vector, dtype=np.float32)  # a private copy: callers may modify what they were given
        vector.flags.writeable = False
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


CLIP_INITIAL_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial temperature; a model still at it never learned one


def learned_logit_scale(model: torch.nn.Module) -> float | None:
    """exp(logit_scale), the temperature the model learned for image-text softmaxes; None when it has none or it
    is still at CLIP's initial value (PMC-CLIP's extracted weight files do not carry the learned one)."""
    parameter = getattr(model, "logit_scale", None)
    if not isinstance(parameter, torch.Tensor) or parameter.numel() != 1:
        return None
    value = float(parameter.detach().float().cpu())
    if not math.isfinite(value) or abs(value - CLIP_INITIAL_LOGIT_SCALE) < 1e-6:
        return None
    return math.exp(value)


class BatchedEncoder:
    """Shared machinery; subclasses implement `_image_features` and `_text_features` on one device batch."""

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        model_id: str,
        dim: int,
        transform: Callable[[Image.Image], torch.Tensor],
        device: str,
        device_reason: str,
        autocast_dtype: str | None = None,
        image_autocast_dtype: str | None = None,
        batch_size: int | None = None,
        channels_last: bool = False,
    ):
        self.model_id = model_id
        self.dim = dim
        self.device = device
        self.device_reason = device_reason
        self._torch_device = torch.device(device)
        # `autocast_dtype` covers both towers (GPUs); `image_autocast_dtype` only the image tower (CPUs whose
        # native bf16 speeds up convolutions but not BERT's matrix products).
        self._text_autocast = autocast_dtype if autocast_dtype in AUTOCAST_DTYPES else None
        image_dtype = image_autocast_dtype or autocast_dtype
        self._image_autocast = image_dtype if image_dtype in AUTOCAST_DTYPES else None
        self._channels_last = channels_last
        self.text_cache = TextVectorCache()
        self.batch_size = batch_size or DEFAULT_IMAGE_BATCH.get(self._torch_device.type, 16)
        self._transform = split_transform(transform)
        self.model = model.to(self._torch_device).eval()
        self.logit_scale = learned_logit_scale(self.model)
        # Exact up to float rounding, and faster: the encoder owns its model, which is never trained or saved.
        self.folded_batchnorms = fold_image_tower_batchnorm_(self.model)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        image_precision = f"{image_dtype} autocast" if self._image_autocast is not None else "fp32"
        text_precision = f"{autocast_dtype} autocast" if self._text_autocast is not None else "fp32"
        layout = " channels_last" if channels_last else ""
        if image_precision == text_precision:
            self.precision = image_precision + layout
        else:
            self.precision = f"images {image_precision}{layout}, texts {text_precision}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, dim={self.dim}, device={self.device!r}, {self.precision})"

    # ----------------------------------------------------------------------------------------- subclass API

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    # ----------------------------------------------------------------------------------------- public API

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> uint8 [3, H, W], resized and cropped; `encode_preprocessed` normalises whole batches.
        Pure function of its input, so prefetch threads may call it concurrently."""
        return self._transform.pixels(image)

    def load_image(self, path: str | Path) -> Image.Image:
        """Decode a file for this model. Ingest, image queries and corpus embedding all decode through here, so one
        file gets one vector.

        A large JPEG is decoded at a reduced scale that keeps both sides at least twice the model's input, so the
        eval transform still shrinks it by 2x or more with its antialiased bicubic filter. `python -m
        bench.jpeg_scale`: 1,200-px figures decode and preprocess 2.1x faster, demo-model cosine to whole decoding
        >= 0.9999, model input within 0.3 grey levels on average (2 on uniform noise). Keeping only 1x the input
        side was 3.5x faster but 0.99 cosine on some figures.
        """
        return open_image(path, reduce_to=self._transform.decode_side)

    @property
    def preprocess_id(self) -> str:
        """The image preprocessing in words (decoding, size, crop, interpolation, mean/std): vectors made by
        encoders whose preprocessing differs must not be mixed in one library (checked when importing shards)."""
        steps = " ".join(repr(self._transform).split())
        side = self._transform.decode_side
        return f"large JPEGs decoded at reduced scale >= {side} px; {steps}" if side else steps

    def _finish(self, features: torch.Tensor) -> np.ndarray:
        # Normalise in float32: under autocast the features may be bf16, whose norm is too coarse for cosine ranks.
        return F.normalize(features.float(), dim=-1).cpu().numpy().astype(np.float32, copy=False)

    def encode_preprocessed(self, batch: torch.Tensor | Sequence[torch.Tensor]) -> np.ndarray:
        """Preprocessed images [N, 3, H, W] -> float32 [N, dim], L2-normalised; run in chunks of `batch_size`."""
        if not isinstance(batch, torch.Tensor):
            batch = torch.stack(list(batch)) if len(batch) else torch.empty(0)
        if batch.shape[0] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        with torch.inference_mode(), autocast(self.device, self._image_autocast):
            for start in range(0, batch.shape[0], self.batch_size):
                # uint8 crosses to the device (a quarter of the bytes) and is normalised there.
                pixels = self._transform.normalise(
                    batch[start : start + self.batch_size].to(self._torch_device, non_blocking=True)
                )
                if self._channels_last:
                    pixels = pixels.contiguous(memory_format=torch.channels_last)
                out.append(self._finish(self._image_features(pixels)))
        return np.concatenate(out)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """PIL images or file paths -> float32 [N, dim]; a file that cannot be read raises ImageDecodeError."""
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            pixels = [self.preprocess(self._as_image(item)) for item in chunk]
            out.append(self.encode_preprocessed(torch.stack(pixels)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 [N, dim], L2-normalised. Recently encoded texts come from `text_cache`."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            cached = self.text_cache.get(text)
            if cached is None:
                todo.setdefault(text, []).append(row)
            else:
                out[row] = cached
        if todo:
            fresh = self._encode_texts_uncached(list(todo))
            for (text, rows), vector in zip(todo.items(), fresh, strict=True):
                out[rows] = vector
                self.text_cache.put(text, vector)
        return out

    def _encode_texts_uncached(self, texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode(), autocast(self.device, self._text_autocast):
            for start in range(0, len(texts), self.batch_size):
                out.append(self._finish(self._text_features(texts[start : start + self.batch_size])))
        return np.concatenate(out)

    def _as_image(self, item: Any) -> Image.Image:
        if isinstance(item, Image.Image):
            return item
        if isinstance(item, str | Path):
            return self.load_image(item)
        raise TypeError(f"expected a PIL image or a path, got {type(item).__name__}")


class PMCClipEncoder(BatchedEncoder):
    """PMC-CLIP: token ids padded to the context length, BERT without a mask, [CLS] state @ text_projection.

    `text_plan` (CPU only): run the text tower as `CompactTextTower` (or its ONNX Runtime export) in the plan's
    precision, see `engine.models.precision.text_tower_plan`; None = the model's own `encode_text`.
    """

    def __init__(self, *, tokenizer, context_length: int = 77, text_plan: TextTowerPlan | None = None, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.text_tower = build_text_tower(self.model, text_plan, context_length) if text_plan else None
        if self.text_tower is not None:
            self.precision += f", text tower {text_plan.label}"

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return tokenize(self.tokenizer, texts, self.context_length)

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        ids = self.tokenize(texts).to(self._torch_device)
        if self.text_tower is not None:
            return self.text_tower(ids)
        return self.model.encode_text(ids)

    def word_pieces(self, word: str) -> list[str]:
        """How the tokenizer splits `word` (unknown pieces as "[UNK]"): see engine.search.vocabulary."""
        return _wordpieces(self.tokenizer, word)


def build_text_tower(model: torch.nn.Module, plan: TextTowerPlan, context_length: int):
    """The fast text tower for `plan`, or None when the model is not the trained PMC-CLIP call (e.g. the notebook's
    pooler variant) and must run as it is."""
    try:
        tower = CompactTextTower.from_pmc_clip(model, linear="fp32" if plan.backend != "torch" else plan.linear)
    except (ValueError, AttributeError) as e:
        logger.info("text tower runs as the model defines it: %s", e)
        return None
    if plan.backend == "onnxruntime":
        from engine.models.text_onnx import OnnxTextTower
        from engine.paths import cache_dir

        return OnnxTextTower(tower, cache_dir() / "onnx", context_length=context_length)
    return tower


class OpenClipEncoder(BatchedEncoder):
    """Any open_clip model (BiomedCLIP, OpenAI RN50, …) with open_clip's own tokenizer and transform."""

    def __init__(self, *, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(texts).to(self._torch_device))

    def word_pieces(self, word: str) -> list[str] | None:
        """WordPiece tokenizers (BiomedCLIP's PubMedBERT) can say; open_clip's byte-level BPE never loses a word."""
        inner = getattr(self.tokenizer, "tokenizer", None)
        return _wordpieces(inner, word) if hasattr(inner, "tokenize") and hasattr(inner, "unk_token") else None


def _wordpieces(tokenizer: Any, word: str) -> list[str]:
    unknown = tokenizer.unk_token
    return ["[UNK]" if piece == unknown else piece for piece in tokenizer.tokenize(word)]
