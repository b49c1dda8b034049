"""Tiny PMC-CLIP models for tests: the real architecture at toy sizes, with every tensor randomised.

Random (not default-initialised) weights matter: the default init zeroes each block's last BN and starts the
special token at zero, which would let a mis-loaded tensor go unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.tokenizer import build_vocab
from trainer.config import preset_model_config

CAPTIONS = [
    "chest x-ray showing bilateral infiltrates",
    "axial brain mri with contrast",
    "histology of liver tissue stained with h&e",
    "kaplan meier survival curve",
    "western blot of protein expression",
    "ct scan of the abdomen",
]


def tiny_config(*, heads: int = 32, pooling: str = "cls", mlm: bool = True, embed_dim: int = 32) -> PMCClipConfig:
    """The trainer's tiny preset, narrowed for speed, with PMC-CLIP's 77-token context (loaders check it)."""
    return preset_model_config(
        "tiny",
        embed_dim=embed_dim,
        vision={"width": 8, "heads": heads},
        text={
            "vocab_size": 200,
            "hidden_size": 32,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 80,
            "context_length": 77,
            "pooling": pooling,
        },
        fusion_heads=8,
        mlm=mlm,
    )


def randomise_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    return model.eval()


def tiny_model(seed: int = 0, **config_kwargs) -> PMCClip:
    return randomise_(PMCClip(tiny_config(**config_kwargs)), seed)


def tiny_vocab(folder: Path) -> Path:
    return build_vocab(CAPTIONS, folder)


def official_checkpoint_dict(model: PMCClip) -> dict:
    """The layout of the released `checkpoint.pt`: DDP prefix, old-transformers position_ids, numpy scalars."""
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    positions = model.config.text.max_position_embeddings
    state["module.text_encoder.embeddings.position_ids"] = torch.arange(positions)[None, :]
    return {"epoch": np.int64(100), "name": "pmc_clip_run", "state_dict": state, "logit_scale": np.float32(4.43)}


def sample_images(folder: Path, count: int = 3) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        size = (90 + 10 * i, 70)  # non-square, so resize + centre-crop both do something
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"image_{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths
