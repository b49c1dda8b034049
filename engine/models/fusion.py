"""The fusion transformer used only for PMC-CLIP's masked-language loss (pmc-clip.md §1.5).

Pre-LN residual blocks over a sequence-first (L, N, D) tensor, packed-QKV `nn.MultiheadAttention`, exact GELU,
no attention mask and no positional embedding — as in the reference, so its checkpoint keys load unchanged.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class LayerNormKeepDtype(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back, so fp16/bf16 activations do not lose the statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):
            return super().forward(x.float()).to(x.dtype)
        return super().forward(x)  # float32 and float64 (exactness tests) run as they are


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = LayerNormKeepDtype(width)
        self.mlp = nn.Sequential(
            OrderedDict([("c_fc", nn.Linear(width, hidden)), ("gelu", nn.GELU()), ("c_proj", nn.Linear(hidden, width))])
        )
        self.ln_2 = LayerNormKeepDtype(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.ln_1(x)
        x = x + self.attn(normed, normed, normed, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class FusionTransformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.width = width
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            if self.grad_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x
