"""AdamW with the reference's no-decay groups, and the learning rate as a pure function of the step.

pmc-clip.md §4.1: weight decay 0 for parameters with ndim < 2 or whose name contains "bn", "ln", "bias" or
"logit_scale"; linear warm-up lr = base·(step+1)/warmup, then cosine to 0 over the remaining steps, every step.
`optim.text_lr_scale` (ours, default 1 = the reference) gives the text tower its own multiple of that lr.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from trainer.config import OptimConfig

NO_DECAY_NAME_PARTS = ("bn", "ln", "bias", "logit_scale")


def is_no_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim < 2 or any(part in name for part in NO_DECAY_NAME_PARTS)


TEXT_TOWER_PREFIX = "text_encoder."


def param_groups(model: nn.Module, weight_decay: float, text_lr_scale: float = 1.0) -> list[dict]:
    """The reference's two groups (no decay, decay); with a text lr scale ≠ 1, each split into text tower / rest."""
    groups: dict[tuple[bool, bool], list] = {}
    split_text = text_lr_scale != 1.0
    for name, param in model.named_parameters():
        if param.requires_grad:
            is_text = split_text and name.startswith(TEXT_TOWER_PREFIX)
            groups.setdefault((is_no_decay(name, param), is_text), []).append(param)
    out = []
    for is_text in ((False, True) if split_text else (False,)):
        for no_decay in (True, False):
            out.append(
                {
                    "params": groups.get((no_decay, is_text), []),
                    "weight_decay": 0.0 if no_decay else weight_decay,
                    "lr_scale": text_lr_scale if is_text else 1.0,
                }
            )
    return out


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay, cfg.text_lr_scale), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps
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
        group["lr"] = lr * group.get("lr_scale", 1.0)
