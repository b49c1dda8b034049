"""The real PMC-CLIP architecture (random weights, official key layout) loads strictly: the key inventory of
pmc-clip.md §1.8 matches our module names one for one; `pmc-search embed` runs it from local files only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.cli import main
from engine.models.checkpoint import load_pmc_clip_weights, split_full_state_dict
from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.registry import resolve
from tests.engine.models.tiny_models import official_checkpoint_dict, sample_images, tiny_vocab

pytestmark = pytest.mark.slow


def test_real_size_official_checkpoint_and_extracted_files_load_strictly(tmp_path, monkeypatch):
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

    # The same extracted folder through `pmc-search embed --model pmc-clip`, with downloading made impossible.
    from engine.hub import transfer

    def no_network(*args, **kwargs):
        raise AssertionError("embed tried to download although --weights and --tokenizer were given")

    monkeypatch.setattr(transfer, "download_to", no_network)
    texts = tmp_path / "texts.txt"
    texts.write_text("chest x-ray\nbrain mri\n", encoding="utf-8")
    out = tmp_path / "vectors.npz"
    argv = [
        "embed",
        "--model",
        "pmc-clip",
        "--weights",
        str(extracted),
        "--tokenizer",
        str(tiny_vocab(tmp_path)),
        "--device",
        "cpu",
        "--images",
        *map(str, sample_images(tmp_path, 2)),
        "--texts-file",
        str(texts),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    data = np.load(out)
    assert data["image_features"].shape == (2, 768) and data["text_features"].shape == (2, 768)
    np.testing.assert_allclose(np.linalg.norm(data["text_features"], axis=1), 1.0, atol=1e-5)
