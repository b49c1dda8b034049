"""Our ModifiedResNet is the OpenAI-CLIP design PMC-CLIP used: open_clip's implementation, given the same
tensors, loads them key for key and computes the same features."""

from __future__ import annotations

import torch
from open_clip.model import ModifiedResNet as OpenClipModifiedResNet

from engine.models.modified_resnet import ModifiedResNet
from tests.engine.models.tiny_models import randomise_


def test_same_keys_and_same_features_as_open_clip():
    theirs = randomise_(OpenClipModifiedResNet(layers=(1, 2, 1, 1), output_dim=24, heads=8, image_size=64, width=16))
    ours = ModifiedResNet(layers=(1, 2, 1, 1), output_dim=24, heads=8, image_size=64, width=16).eval()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(ours(images), theirs(images), atol=1e-5)


def test_attention_pool_heads_change_features_but_not_shapes():
    eight = randomise_(ModifiedResNet(layers=(1, 1, 1, 1), output_dim=24, heads=8, image_size=64, width=8))
    thirty_two = ModifiedResNet(layers=(1, 1, 1, 1), output_dim=24, heads=32, image_size=64, width=8).eval()
    thirty_two.load_state_dict(eight.state_dict(), strict=True)  # loads silently: only the head count differs
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert not torch.allclose(eight(images), thirty_two(images), atol=1e-3)
