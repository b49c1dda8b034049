"""Our exported model folder: config + safetensors + vocab, written atomically, read back strictly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.errors import CheckpointKeyError, WeightsError
from engine.models.model_dir import is_model_dir, load_model_dir, save_model_dir
from engine.models.tokenizer import tokenize
from engine.models.transforms import PreprocessConfig
from tests.engine.models.tiny_models import CAPTIONS, tiny_model, tiny_vocab


@pytest.fixture()
def saved(tmp_path):
    model = tiny_model(seed=5, heads=8, pooling="pooler", mlm=True)
    vocab = tiny_vocab(tmp_path / "vocab")
    preprocess = PreprocessConfig(image_size=64, interpolation="bilinear")
    out = save_model_dir(model, vocab, tmp_path / "export", preprocess)
    return model, out, preprocess


def test_round_trip_keeps_config_preprocess_and_encodings(saved):
    model, out, preprocess = saved
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "pmc-figure-search-model" and config["version"] == 1
    assert config["architecture"] == "pmc-clip" and config["context_length"] == 77
    assert config["model_config"]["vision"]["heads"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer"]
    assert is_model_dir(out)

    loaded, tokenizer, loaded_preprocess = load_model_dir(out)
    assert loaded.config == model.config and loaded_preprocess == preprocess
    assert not loaded.training
    ids = tokenize(tokenizer, CAPTIONS[:2])
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded.encode_text(ids), model.encode_text(ids))
        assert torch.equal(loaded.encode_image(images), model.encode_image(images))
        assert torch.equal(loaded.mlm_projection, model.mlm_projection)


def test_inference_load_leaves_out_the_training_branch(saved):
    model, out, _ = saved
    slim, tokenizer, _ = load_model_dir(out, for_inference=True)
    assert slim.mlm_projection is None and len(slim.fusion_module.resblocks) == 0
    assert slim.config.vision == model.config.vision and slim.config.text == model.config.text
    ids = tokenize(tokenizer, CAPTIONS[:2])
    with torch.inference_mode():
        assert torch.equal(slim.encode_text(ids), model.encode_text(ids))


def test_save_replaces_an_existing_folder_without_leftovers(saved, tmp_path):
    _, out, _ = saved
    (out / "stale.txt").write_text("old")
    other = tiny_model(seed=9)
    save_model_dir(other, out / "tokenizer", out)
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    loaded, _, _ = load_model_dir(out)
    assert torch.equal(loaded.text_projection, other.text_projection)


def test_missing_tensor_in_safetensors_is_named(saved):
    _, out, _ = saved
    tensors = load_file(str(out / "model.safetensors"))
    del tensors["text_projection"]
    save_file(tensors, str(out / "model.safetensors"))
    with pytest.raises(CheckpointKeyError, match="missing keys: text_projection"):
        load_model_dir(out)


def test_not_a_model_folder(tmp_path):
    assert not is_model_dir(tmp_path)
    with pytest.raises(WeightsError, match="config.json is missing"):
        load_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(WeightsError, match="not a pmc-figure-search-model"):
        load_model_dir(tmp_path)


def test_save_needs_a_vocabulary(tmp_path):
    with pytest.raises(WeightsError, match="vocab.txt"):
        save_model_dir(tiny_model(), tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
