"""Strict loading of both released layouts: the full training checkpoint and the three extracted files."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engine.errors import CheckpointKeyError, WeightsError
from engine.models.checkpoint import (
    IMAGE_ENCODER_FILE,
    TEXT_ENCODER_FILE,
    TEXT_PROJECTION_FILE,
    load_pmc_clip_weights,
    split_full_state_dict,
)
from engine.models.pmc_clip import PMCClip
from engine.models.tokenizer import load_tokenizer, tokenize
from tests.engine.models.tiny_models import CAPTIONS, official_checkpoint_dict, tiny_config, tiny_model, tiny_vocab


def _encodings(model: PMCClip, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        return model.encode_image(images, normalize=True), model.encode_text(ids, normalize=True)


@pytest.fixture(scope="module")
def token_ids(tmp_path_factory):
    return tokenize(load_tokenizer(tiny_vocab(tmp_path_factory.mktemp("vocab"))), CAPTIONS[:3])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 'trained' tiny model (with MLM head) saved in both official layouts."""
    model = tiny_model(seed=3, mlm=True)
    root = tmp_path_factory.mktemp("ckpt")
    full = root / "checkpoint.pt"
    torch.save(official_checkpoint_dict(model), full)
    extracted = root / "extracted"
    extracted.mkdir()
    for name, obj in split_full_state_dict(model.state_dict()).items():
        torch.save(obj, extracted / name)
    return model, full, extracted


def test_full_and_extracted_layouts_load_strictly_and_encode_identically(trained, token_ids):
    source, full, extracted = trained
    from_full = PMCClip(tiny_config(mlm=False)).eval()
    report = load_pmc_clip_weights(from_full, full)
    assert set(report.dropped) == {"text_encoder.embeddings.position_ids", "mlm_projection"}
    from_files = PMCClip(tiny_config(mlm=False)).eval()
    load_pmc_clip_weights(from_files, extracted)

    want_img, want_txt = _encodings(source, token_ids)
    for model in (from_full, from_files):
        got_img, got_txt = _encodings(model, token_ids)
        assert torch.equal(got_img, want_img)
        assert torch.equal(got_txt, want_txt)


def test_inference_model_without_fusion_drops_the_training_branch(trained, token_ids):
    source, full, _ = trained
    model = PMCClip(replace(tiny_config(mlm=False), fusion_layers=0)).eval()
    assert not any(k.startswith("fusion_module.") for k in model.state_dict())
    report = load_pmc_clip_weights(model, full)
    assert "mlm_projection" in report.dropped
    assert {k for k in report.dropped if k.startswith("fusion_module.")} == {
        k for k in source.state_dict() if k.startswith("fusion_module.")
    }
    assert torch.equal(_encodings(model, token_ids)[1], _encodings(source, token_ids)[1])


def test_extracted_files_with_component_prefixes_load(trained, tmp_path, token_ids):
    source, _, extracted = trained
    for name, prefix in ((IMAGE_ENCODER_FILE, "visual."), (TEXT_ENCODER_FILE, "text_encoder.")):
        tensors = torch.load(extracted / name, weights_only=True)
        torch.save({prefix + k: v for k, v in tensors.items()}, tmp_path / name)
    (tmp_path / TEXT_PROJECTION_FILE).write_bytes((extracted / TEXT_PROJECTION_FILE).read_bytes())
    model = PMCClip(tiny_config(mlm=False)).eval()
    load_pmc_clip_weights(model, tmp_path)
    assert torch.equal(_encodings(model, token_ids)[0], _encodings(source, token_ids)[0])


def test_full_checkpoint_into_mlm_model_keeps_the_mlm_head(trained):
    source, full, _ = trained
    model = PMCClip(tiny_config(mlm=True))
    report = load_pmc_clip_weights(model, full)
    assert report.dropped == ("text_encoder.embeddings.position_ids",)
    assert torch.equal(model.mlm_projection, source.mlm_projection)
    assert torch.equal(model.img_special_token, source.img_special_token)


def test_missing_key_in_full_checkpoint_is_named_with_the_file(trained, tmp_path):
    _, full, _ = trained
    checkpoint = torch.load(full, weights_only=False)
    del checkpoint["state_dict"]["module.visual.attnpool.c_proj.bias"]
    broken = tmp_path / "broken.pt"
    torch.save(checkpoint, broken)
    with pytest.raises(CheckpointKeyError) as info:
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False)), broken)
    assert info.value.missing == ["visual.attnpool.c_proj.bias"]
    assert info.value.unexpected == []
    assert "visual.attnpool.c_proj.bias" in str(info.value) and str(broken) in str(info.value)


def test_unexpected_key_is_named(trained, tmp_path):
    _, full, _ = trained
    checkpoint = torch.load(full, weights_only=False)
    checkpoint["state_dict"]["module.visual.attnpool.extra_bias"] = torch.zeros(3)
    broken = tmp_path / "extra.pt"
    torch.save(checkpoint, broken)
    with pytest.raises(CheckpointKeyError, match=r"unexpected keys: visual\.attnpool\.extra_bias"):
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False)), broken)


def test_mlm_model_refuses_checkpoint_without_mlm_head(trained, tmp_path):
    _, full, _ = trained
    checkpoint = torch.load(full, weights_only=False)
    del checkpoint["state_dict"]["module.mlm_projection"]
    broken = tmp_path / "no_mlm.pt"
    torch.save(checkpoint, broken)
    with pytest.raises(CheckpointKeyError, match="missing keys: mlm_projection"):
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=True)), broken)


def test_missing_key_in_extracted_text_encoder_names_that_file(trained, tmp_path):
    _, _, extracted = trained
    folder = tmp_path / "extracted"
    folder.mkdir()
    for name in (IMAGE_ENCODER_FILE, TEXT_PROJECTION_FILE):
        (folder / name).write_bytes((extracted / name).read_bytes())
    text = torch.load(extracted / TEXT_ENCODER_FILE, weights_only=True)
    del text["encoder.layer.1.output.dense.weight"]
    torch.save(text, folder / TEXT_ENCODER_FILE)
    with pytest.raises(CheckpointKeyError) as info:
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False)), folder)
    assert info.value.missing == ["encoder.layer.1.output.dense.weight"]
    assert TEXT_ENCODER_FILE in str(info.value)


def test_wrong_shape_is_reported(trained, tmp_path):
    _, full, _ = trained
    with pytest.raises(WeightsError, match="shape"):
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False, embed_dim=16)), full)


def test_folder_without_the_three_files_says_what_it_expects(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(WeightsError, match=r"image_encoder\(resnet50\)\.pth.*readme\.txt"):
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False)), tmp_path)
    with pytest.raises(WeightsError, match="weights not found"):
        load_pmc_clip_weights(PMCClip(tiny_config(mlm=False)), tmp_path / "nope.pt")
