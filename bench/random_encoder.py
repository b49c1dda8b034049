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

from engine.models.pmc_clip import PMCClip, PMCClipConfig, TextConfig, VisionConfig
from engine.models.tokenizer import build_vocab, load_tokenizer, tokenize
from engine.models.transforms import PreprocessConfig, build_eval_transform

_WORDS = (
    "a ct mri x-ray ultrasound pet scan of the chest brain knee abdomen histology slide stained with h&e "
    "immunohistochemistry fluorescence electron microscopy photograph chart plot diagram gel blot molecular "
    "structure figure tumour lesion effusion fracture showing patient image panel"
)

SIZES = {
    "rn50": PMCClipConfig(embed_dim=768, mlm=False),
    "small": PMCClipConfig(
        embed_dim=256,
        vision=VisionConfig(layers=(1, 1, 1, 1), width=32, image_size=224, heads=16),
        text=TextConfig(hidden_size=256, num_hidden_layers=2, num_attention_heads=4, intermediate_size=1024),
        fusion_layers=1,
        fusion_heads=4,
        mlm=False,
    ),
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

    def preprocess(self, image: Any) -> torch.Tensor:
        return self._transform(image)

    @torch.inference_mode()
    def encode_preprocessed(self, batch: torch.Tensor) -> np.ndarray:
        return F.normalize(self.model.encode_image(batch), dim=-1).numpy().astype(np.float32)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        from engine.imaging import open_image

        loaded = [open_image(Path(i)) if isinstance(i, str | Path) else i for i in images]
        return self.encode_preprocessed(torch.stack([self.preprocess(i) for i in loaded]))

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        ids = tokenize(self._tokenizer, texts, self.model.config.text.context_length)
        return F.normalize(self.model.encode_text(ids), dim=-1).numpy().astype(np.float32)
