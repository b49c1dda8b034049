"""AdamW with the reference's no-decay groups, and the learning rate as a pure function of the step.

pmc-clip.md §4.1: weight decay 0 for parameters with ndim < 2 or whose name contains "bn", "ln", "bias" or
"logit_scale"; linear warm-up lr = base·(step+1)/warmup, then cosine to 0 over the remaining steps, every step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from trainer.config import OptimConfig

NO_DECAY_NAME_PARTS = ("bn", "ln", "bias", "logit_scale")


def is_no_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim < 2 or any(part in name for part in NO_DECAY_NAME_PARTS)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if is_no_decay(name, param) else decay).append(param)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps
    )


def lr_at(step: int, *, base_lr: float, warmup_steps: int, total_steps: int, schedule: str = "cosine") -> float:
    """Learning rate for optimizer step `step` (0-based) — a pure function, so resume needs only the step."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    decay_steps = total_steps - warmup_steps
    if decay_steps <= 0:
        return base_lr
    progress = min(step - warmup_steps, decay_steps) / decay_steps
    return 0.5 * (1.0 + math.cos(math.pi * progress)) * base_lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
