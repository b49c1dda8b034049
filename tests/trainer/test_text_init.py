"""The reference's start for the text tower (PubMedBERT through `model.text.init`), its lr multiplier, and AMP."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from tests.fake_hf_bert import make_fake_bert, serve_fake_bert
from tests.local_hub import serving
from tests.trainer.tiny import RandomPairs, tiny_run_config
from trainer.distributed import DistInfo
from trainer.optim import build_optimizer, set_lr
from trainer.run import build_model, fetch_text_init, run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def fake_repo(monkeypatch):
    with serving(monkeypatch) as hub:
        fake = make_fake_bert()
        yield fake, serve_fake_bert(hub, fake)


def test_a_run_starts_its_text_tower_from_the_repo_and_uses_its_vocabulary(tmp_path, fake_repo):
    fake, spec = fake_repo
    cfg = tiny_run_config(tmp_path, f"model.text.init={spec}", "model.text.vocab_size=0", "train.epochs=1")
    folder = fetch_text_init(cfg, DistInfo())
    from trainer.run import resolve_vocab_size

    model = build_model(resolve_vocab_size(cfg, len(fake.files["vocab.txt"].splitlines())), text_init=folder)
    for key, tensor in fake.state.items():
        if key.startswith("bert."):
            assert torch.equal(model.text_encoder.state_dict()[key.removeprefix("bert.")], tensor), key

    result = run_training(cfg, datasets=(RandomPairs(16), None))
    assert (result.run_dir / "tokenizer" / "vocab.txt").read_bytes() == fake.files["vocab.txt"]
    assert f"init: {spec}" in (result.run_dir / "config.yaml").read_text()


def test_an_init_checkpoint_wins_over_the_text_init(tmp_path, fake_repo, monkeypatch):
    fake, spec = fake_repo
    cfg = tiny_run_config(tmp_path, f"model.text.init={spec}", f"model.text.vocab_size={fake.text.vocab_size}")
    calls = []
    monkeypatch.setattr("engine.models.checkpoint.load_pmc_clip_weights", lambda m, p: calls.append(p))
    monkeypatch.setattr("engine.models.hf_bert.load_hf_bert", lambda *a: pytest.fail("text init must be skipped"))
    build_model(cfg, init_checkpoint="checkpoint.pt", text_init=tmp_path)
    assert calls == ["checkpoint.pt"]


def test_malformed_init_fails_when_the_config_is_read(tmp_path):
    with pytest.raises(ConfigError, match="hf:"):
        tiny_run_config(tmp_path, "model.text.init=microsoft/pubmedbert")


def test_text_lr_scale_scales_only_the_text_tower(tmp_path):
    cfg = tiny_run_config(tmp_path, "optim.text_lr_scale=0.1")
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg.optim)
    set_lr(optimizer, 1e-3)
    text_params = {id(p) for p in model.text_encoder.parameters()}
    for group in optimizer.param_groups:
        expected = 1e-4 if all(id(p) in text_params for p in group["params"]) else 1e-3
        assert group["lr"] == pytest.approx(expected)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    assert len(build_optimizer(model, tiny_run_config(tmp_path).optim).param_groups) == 2  # the reference's groups


def test_amp_means_fp16_with_a_grad_scaler_on_gpus_as_in_the_reference(tmp_path):
    from engine.models.precision import needs_grad_scaler, training_autocast_dtype
    from trainer.train import Trainer

    assert training_autocast_dtype("amp", "cuda:0") == "fp16" and needs_grad_scaler("fp16")
    assert training_autocast_dtype("amp_bf16", "cuda:1") == "bf16" and not needs_grad_scaler("bf16")
    assert training_autocast_dtype("amp", "cpu") is None and training_autocast_dtype("fp32", "cuda:0") is None
    with pytest.raises(ValueError, match="unknown precision"):
        training_autocast_dtype("half", "cuda:0")
    trainer = Trainer(tiny_run_config(tmp_path), build_model(tiny_run_config(tmp_path)), RandomPairs(8))
    assert trainer.autocast_dtype is None and not trainer.scaler.is_enabled()  # "fp32" on the CPU
