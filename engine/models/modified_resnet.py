"""The image tower of PMC-CLIP: an OpenAI-CLIP-style ModifiedResNet.

Differences from a torchvision ResNet that matter for loading the released weights (pmc-clip.md §1.2):
a three-conv stem with an average pool instead of a max pool, anti-aliased strides (AvgPool before the strided
1×1 conv, in both branches), and an attention pool instead of global average pooling + linear. Module names
mirror the official key layout so checkpoints load strictly without renaming.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        # Anti-aliasing: pool first, then a stride-1 conv, instead of a strided conv that skips pixels.
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != planes * self.expansion:
            # Child names "-1", "0", "1" are those of the official state dict (the pool has no parameters).
            self.downsample = nn.Sequential(
                OrderedDict(
                    [
                        ("-1", nn.AvgPool2d(stride)),
                        ("0", nn.Conv2d(inplanes, planes * self.expansion, 1, stride=1, bias=False)),
                        ("1", nn.BatchNorm2d(planes * self.expansion)),
                    ]
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.avgpool(out)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu3(out + identity)


class AttentionPool2d(nn.Module):
    """Pools an N×C×H×W map to one vector: the mean token attends over all spatial tokens."""

    def __init__(self, spatial_dim: int, embed_dim: int, num_heads: int, output_dim: int):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spatial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(start_dim=2).permute(2, 0, 1)  # (HW, N, C)
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)  # (HW+1, N, C)
        tokens = tokens + self.positional_embedding[:, None, :].to(tokens.dtype)
        out, _ = F.multi_head_attention_forward(
            query=tokens[:1],
            key=tokens,
            value=tokens,
            embed_dim_to_check=tokens.shape[-1],
            num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight,
            k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0.0,
            out_proj_weight=self.c_proj.weight,
            out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True,
            training=self.training,
            need_weights=False,
        )
        return out.squeeze(0)


class ModifiedResNet(nn.Module):
    """ResNet trunk + attention pool. `heads` is 32 for PMC-CLIP as trained (width*32 // head_width)."""

    def __init__(
        self,
        layers: tuple[int, int, int, int] | list[int],
        output_dim: int,
        heads: int,
        image_size: int = 224,
        width: int = 64,
    ):
        super().__init__()
        self.output_dim = output_dim
        self.image_size = image_size
        self.heads = heads

        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)

        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)

        embed_dim = width * 32  # the trunk's output channels
        self.attnpool = AttentionPool2d(image_size // 32, embed_dim, heads, output_dim)
        self.init_parameters()

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        modules = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        modules += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def init_parameters(self) -> None:
        std = self.attnpool.c_proj.in_features**-0.5
        for proj in (self.attnpool.q_proj, self.attnpool.k_proj, self.attnpool.v_proj, self.attnpool.c_proj):
            nn.init.normal_(proj.weight, std=std)
        # Zero-init the last BN of each block so every residual branch starts as the identity.
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                nn.init.zeros_(block.bn3.weight)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self._grad_checkpointing = enable

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        return self.avgpool(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.conv1.weight.dtype)
        x = self.stem(x)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            if getattr(self, "_grad_checkpointing", False) and self.training:
                x = torch.utils.checkpoint.checkpoint_sequential(stage, len(stage), x, use_reentrant=False)
            else:
                x = stage(x)
        return self.attnpool(x)
