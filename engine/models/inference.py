"""Inference-only rewrites of a model that keep its outputs (to float rounding) and make it faster.

Folding an eval-mode BatchNorm into the convolution before it removes one memory-bound pass over every feature
map: y = γ·(conv(x) − μ)/σ + β is again a convolution with weights γ/σ·W and bias β − γμ/σ. Measured on the
PMC-CLIP image tower (bench/encode_throughput.py) it adds to the gain of the channels_last layout on CPU. The
folded model no longer has BatchNorm keys, so it is for encoding only — never saved or trained.
"""

from __future__ import annotations

import logging

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

logger = logging.getLogger(__name__)


def _fold_pair(parent: nn.Module, conv_name: str, bn_name: str) -> bool:
    conv, bn = parent._modules.get(conv_name), parent._modules.get(bn_name)
    if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)) or bn.training or conv.training:
        return False
    if not bn.track_running_stats or bn.running_mean is None:
        return False
    parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
    parent._modules[bn_name] = nn.Identity()
    return True


def fold_batchnorm_(model: nn.Module) -> int:
    """Fold every `convN`→`bnN` pair (and `downsample` `0`→`1`) of an eval-mode model in place; returns how many.

    The names are the OpenAI-CLIP ResNet convention shared by our ModifiedResNet and open_clip's, where each BN
    directly follows the conv of the same suffix in forward(); other modules are left alone.
    """
    folded = 0
    for parent in list(model.modules()):
        for name in list(parent._modules):
            if name.startswith("conv"):
                folded += _fold_pair(parent, name, "bn" + name[len("conv") :])
        if isinstance(parent, nn.Sequential) and "0" in parent._modules and "1" in parent._modules:
            folded += _fold_pair(parent, "0", "1")
    if folded:
        logger.debug("folded %d BatchNorm layers into their convolutions", folded)
    return folded


# Image towers whose conv/BN naming follows the convention above (checked by module path, so open_clip is not
# imported just to ask).
_FOLDABLE_TOWERS = {
    ("engine.models.modified_resnet", "ModifiedResNet"),
    ("open_clip.model", "ModifiedResNet"),
    ("open_clip.modified_resnet", "ModifiedResNet"),
}


def fold_image_tower_batchnorm_(model: nn.Module) -> int:
    """Fold the BatchNorms of `model.visual` when it is a known ModifiedResNet; 0 (untouched) otherwise."""
    tower = getattr(model, "visual", None)
    if tower is None or (type(tower).__module__, type(tower).__name__) not in _FOLDABLE_TOWERS:
        return 0
    return fold_batchnorm_(tower)
