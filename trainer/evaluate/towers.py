"""Differentiable image and text towers of any engine model, for the evaluations that fine-tune them.

`engine.models.create_model` returns a `LoadedModel` (PMC-CLIP, an open_clip model, or an exported run) with its
tokenizer and eval transform; the two kinds tokenise differently, which is the only thing this adapter hides.
The encoders used for frozen features fold BatchNorm into the convolutions, so fine-tuning builds its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.models.precision import autocast, needs_grad_scaler, training_autocast_dtype
from trainer.evaluate.encode import ModelSpec


@dataclass
class Towers:
    model: nn.Module
    tokenizer: Any
    transform: Any  # PIL image -> [3, S, S]
    dim: int
    context_length: int | None  # PMC-CLIP: pad/truncate to this; None: the open_clip tokenizer decides

    def image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def text(self, texts: list[str], device: torch.device) -> torch.Tensor:
        if self.context_length is not None:
            from engine.models.tokenizer import tokenize

            return self.model.encode_text(tokenize(self.tokenizer, texts, self.context_length).to(device))
        return self.model.encode_text(self.tokenizer(texts).to(device))


def load_towers(spec: ModelSpec) -> Towers:
    from engine.models import create_model

    loaded = create_model(spec.name, spec.weights, spec.tokenizer, offline=spec.offline)
    return Towers(loaded.model, loaded.tokenizer, loaded.transform, loaded.dim, loaded.context_length)


def train_device(requested: str, dist_info) -> torch.device:
    from trainer.evaluate.encode import rank_device

    device = rank_device(requested, dist_info)
    if device == "auto":
        device = f"cuda:{dist_info.local_rank}" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


class Amp:
    """The reference's mixed precision for fine-tuning on GPUs: fp16 autocast + GradScaler; fp32 on the CPU."""

    def __init__(self, device: torch.device):
        self.device = str(device)
        self.dtype = training_autocast_dtype("amp", self.device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=needs_grad_scaler(self.dtype))

    def autocast(self):
        return autocast(self.device, self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
