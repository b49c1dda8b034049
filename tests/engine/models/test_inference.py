"""BatchNorm folding for encoding: same features (to float rounding), no BatchNorm left, other models untouched."""

from __future__ import annotations

import copy

import open_clip
import torch
from torch import nn

from engine.models.inference import fold_batchnorm_, fold_image_tower_batchnorm_
from engine.models.modified_resnet import ModifiedResNet
from tests.engine.models.tiny_models import randomise_, tiny_model


def _batchnorms(module: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())


def test_folding_keeps_features_and_removes_every_batchnorm():
    tower = randomise_(ModifiedResNet(layers=(1, 2, 1, 1), output_dim=24, heads=8, image_size=64, width=16))
    before = _batchnorms(tower)
    folded = copy.deepcopy(tower)
    assert fold_batchnorm_(folded) == before == 3 + 3 * 5 + 4  # stem, 5 blocks × 3, 4 downsamples
    assert _batchnorms(folded) == 0
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(folded(images), tower(images), atol=1e-5)


def test_only_known_towers_in_eval_mode_are_folded():
    model = tiny_model(seed=1)
    assert fold_image_tower_batchnorm_(model) == _batchnorms(tiny_model(seed=1).visual) > 0
    training = ModifiedResNet(layers=(1, 1, 1, 1), output_dim=8, heads=4, image_size=64, width=8).train()
    assert fold_batchnorm_(training) == 0  # batch statistics in training mode cannot be folded

    class OtherTower(nn.Module):  # a BN named like a conv's partner, but not a ModifiedResNet: left alone
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    wrapper = nn.Module()
    wrapper.visual = OtherTower().eval()
    assert fold_image_tower_batchnorm_(wrapper) == 0 and _batchnorms(wrapper) == 1


def test_open_clip_modified_resnet_is_folded():
    theirs = open_clip.model.ModifiedResNet(layers=(1, 1, 1, 1), output_dim=8, heads=4, image_size=64, width=8)
    wrapper = nn.Module()
    wrapper.visual = randomise_(theirs)
    reference = copy.deepcopy(wrapper.visual)
    assert fold_image_tower_batchnorm_(wrapper) == _batchnorms(reference)
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(wrapper.visual(images), reference(images), atol=1e-5)
