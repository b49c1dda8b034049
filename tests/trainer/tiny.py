"""Tiny PMC-CLIP configs and in-memory data for trainer tests: small enough to train in seconds on one core."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from engine.models.pmc_clip import PMCClipConfig
from trainer.config import build_config, preset_model_config

VOCAB = 64
CONTEXT = 16
IMAGE = 32


def tiny_model_config(vocab_size: int = VOCAB) -> PMCClipConfig:
    """The tiny preset, narrower still so a test step takes milliseconds, with the tests' own vocabulary."""
    return preset_model_config(
        "tiny",
        embed_dim=32,
        vision={"width": 8, "image_size": IMAGE, "heads": 2},
        text={
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": CONTEXT,
            "context_length": CONTEXT,
        },
        fusion_heads=2,
    )


def tiny_run_config(tmp_path, *overrides: str):
    from trainer.config import to_dict

    values = {
        "name": "tiny",
        "output_dir": str(tmp_path / "runs"),
        "model": to_dict(tiny_model_config()),
        "data": {"num_workers": 0},
        "optim": {"warmup_steps": 2},
        "train": {"epochs": 2, "batch_size": 4, "precision": "fp32", "device": "cpu", "log_every_steps": 1},
    }
    return build_config(values, list(overrides))


class RandomPairs(Dataset):
    """Fixed random pairs whose caption tokens depend on the image class, so the model has something to learn."""

    def __init__(self, n: int = 32, seed: int = 0, classes: int = 4, dtype=torch.float32):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % classes
        protos = torch.randn(classes, 3, IMAGE, IMAGE, generator=g)
        self.images = (protos[self.labels] + 0.5 * torch.randn(n, 3, IMAGE, IMAGE, generator=g)).to(dtype)
        self.input_ids = torch.zeros(n, CONTEXT, dtype=torch.long)
        self.mlm_labels = torch.zeros(n, CONTEXT, dtype=torch.long)
        for i in range(n):
            words = 5 + (self.labels[i] * 7 + torch.randint(0, 7, (6,), generator=g)) % (VOCAB - 5)
            ids = torch.cat([torch.tensor([2]), words, torch.tensor([3])])
            self.input_ids[i, : len(ids)] = ids
            masked = torch.rand(len(ids), generator=g) < 0.3
            masked[0] = masked[-1] = False
            self.mlm_labels[i, : len(ids)] = torch.where(masked, ids, torch.zeros_like(ids))
            self.mlm_labels[i, 0], self.mlm_labels[i, len(ids) - 1] = 2, 3  # the reference scores [CLS]/[SEP]
            self.input_ids[i, : len(ids)][masked] = 4  # [MASK]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[i], "input_ids": self.input_ids[i], "mlm_labels": self.mlm_labels[i]}
