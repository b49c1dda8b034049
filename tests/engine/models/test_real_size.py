"""The real PMC-CLIP architecture (random weights, official key layout) loads strictly: the key inventory of
pmc-clip.md §1.8 matches our module names one for one."""

from __future__ import annotations

import pytest
import torch

from engine.models.checkpoint import load_pmc_clip_weights, split_full_state_dict
from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.registry import resolve
from tests.engine.models.tiny_models import official_checkpoint_dict

pytestmark = pytest.mark.slow


def test_real_size_official_checkpoint_and_extracted_files_load_strictly(tmp_path):
    torch.manual_seed(0)
    trained = PMCClip(PMCClipConfig())  # the full training model, MLM head included
    state = trained.state_dict()
    assert state["visual.attnpool.positional_embedding"].shape == (50, 2048)
    assert state["visual.attnpool.c_proj.weight"].shape == (768, 2048)
    assert state["text_projection"].shape == (768, 768) and state["mlm_projection"].shape == (768, 30522)
    assert state["fusion_module.resblocks.3.attn.in_proj_weight"].shape == (2304, 768)
    assert "visual.layer3.5.conv3.weight" in state and "visual.layer1.0.downsample.0.weight" in state
    params = sum(p.numel() for p in trained.parameters())
    assert 195e6 < params < 205e6  # ≈199.7M (pmc-clip.md §1.8)

    checkpoint = tmp_path / "checkpoint.pt"
    torch.save(official_checkpoint_dict(trained), checkpoint)
    inference = PMCClip(resolve("pmc-clip").pmc_clip_config).eval()
    report = load_pmc_clip_weights(inference, checkpoint)
    assert report.loaded == len(inference.state_dict())
    assert torch.equal(inference.visual.attnpool.q_proj.weight, trained.visual.attnpool.q_proj.weight)

    extracted = tmp_path / "extracted"
    extracted.mkdir()
    for name, obj in split_full_state_dict(state).items():
        torch.save(obj, extracted / name)
    from_files = PMCClip(resolve("pmc-clip").pmc_clip_config).eval()
    load_pmc_clip_weights(from_files, extracted)
    ids = torch.randint(5, 30522, (1, 77))
    with torch.inference_mode():
        assert torch.equal(from_files.encode_text(ids), inference.encode_text(ids))
