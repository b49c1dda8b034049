"""A real-architecture PMC-CLIP with random weights, as an `Encoder`, for benchmarks (no download needed).

Throughput depends on the architecture and input size, not on the weights' values, so random weights give
honest timings. Sizes: "rn50" = the released image tower (ResNet-50 style, 224 px) + full BERT-base text tower;
"small" = a 4-stage ResNet with one block per stage and width 32 + a 2-layer BERT (for quick runs).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.models.pmc_clip import PMCClip, PMCClipConfig, TextConfig
from engine.models.tokenizer import build_vocab, load_tokenizer, tokenize
from engine.models.transforms import PreprocessConfig, build_eval_transform
from trainer.config import preset_model_config

_WORDS = (
    "a ct mri x-ray ultrasound pet scan of the chest brain knee abdomen histology slide stained with h&e "
    "immunohistochemistry fluorescence electron microscopy photograph chart plot diagram gel blot molecular "
    "structure figure tumour lesion effusion fracture showing patient image panel"
)

SIZES = {
    "rn50": PMCClipConfig(embed_dim=768, mlm=False),
    # The trainer's tiny preset at the released model's 224-pixel input.
    "small": preset_model_config("tiny", vision={"image_size": 224}, text={"vocab_size": 30522}, mlm=False),
}


class RandomPMCClipEncoder:
    def __init__(self, size: str = "small", seed: int = 0):
        torch.manual_seed(seed)
        config = SIZES[size]
        vocab_dir = Path(tempfile.mkdtemp(prefix="bench-vocab-"))
        build_vocab([_WORDS], vocab_dir)
        self._tokenizer = load_tokenizer(vocab_dir)
        config = PMCClipConfig(
            embed_dim=config.embed_dim,
            vision=config.vision,
            text=TextConfig(**{**config.text.__dict__, "vocab_size": len(self._tokenizer)}),
            fusion_layers=config.fusion_layers,
            fusion_heads=config.fusion_heads,
            mlm=False,
        )
        self.model = PMCClip(config).eval()
        self._transform = build_eval_transform(PreprocessConfig(image_size=config.vision.image_size))
        self.model_id = f"random-pmc-clip-{size}"
        self.dim = config.embed_dim
        self.device = "cpu"
        self.device_reason = "benchmark on CPU"

    def load_image(self, path: str | Path) -> Any:
        from engine.imaging import open_image

        return open_image(path, reduce_to=self._transform.decode_side)

    def preprocess(self, image: Any) -> torch.Tensor:
        return self._transform.pixels(image)

    @torch.inference_mode()
    def encode_preprocessed(self, batch: torch.Tensor) -> np.ndarray:
        features = self.model.encode_image(self._transform.normalise(batch))
        return F.normalize(features, dim=-1).numpy().astype(np.float32)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        loaded = [self.load_image(Path(i)) if isinstance(i, str | Path) else i for i in images]
        return self.encode_preprocessed(torch.stack([self.preprocess(i) for i in loaded]))

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        ids = tokenize(self._tokenizer, texts, self.model.config.text.context_length)
        return F.normalize(self.model.encode_text(ids), dim=-1).numpy().astype(np.float32)


class NullEncoder:
    """No model: a fixed random projection of an 8x8 thumbnail. Measures what the ingest pipeline itself costs
    (scan, hash, decode, catalog writes, index), i.e. the ceiling it imposes on a very fast model."""

    def __init__(self, dim: int = 256):
        self.model_id = "null"
        self.dim = dim
        self.device = "cpu"
        self.device_reason = "benchmark without a model"
        self._projection = np.random.default_rng(0).standard_normal((3 * 8 * 8, dim)).astype(np.float32)

    def load_image(self, path: str | Path) -> Any:
        from engine.imaging import open_image

        return open_image(path)

    def preprocess(self, image: Any) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32).transpose(2, 0, 1) / 255.0

    def encode_preprocessed(self, batch: Any) -> np.ndarray:
        out = np.asarray(batch, dtype=np.float32).reshape(len(batch), -1) @ self._projection
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        loaded = [self.load_image(Path(i)) if isinstance(i, str | Path) else i for i in images]
        return self.encode_preprocessed(np.stack([self.preprocess(i) for i in loaded]))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        out = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
