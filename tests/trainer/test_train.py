"""The training loop: loss goes down, the step does what the reference does, and a run leaves its records."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.models.pmc_clip import PMCClip
from tests.trainer.tiny import RandomPairs, tiny_run_config
from trainer.run import run_training
from trainer.train import Trainer


def _no_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def _trainer(tmp_path, *overrides, n=16) -> Trainer:
    torch.manual_seed(0)
    cfg = tiny_run_config(tmp_path, *overrides)
    return Trainer(cfg, _no_dropout(PMCClip(cfg.model)), RandomPairs(n))


def _batch(n=4, start=0):
    data = RandomPairs(16)
    items = [data[i] for i in range(start, start + n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_a_few_epochs_lower_the_loss_and_write_the_records(tmp_path):
    torch.set_num_threads(1)
    progress = []
    cfg = tiny_run_config(tmp_path, "train.epochs=4", "optim.lr=2e-3", "train.log_every_steps=2")
    result = run_training(cfg, datasets=(RandomPairs(32), RandomPairs(12, seed=1)), on_progress=progress.append)
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < first["train_loss"] - 0.3, (first, last)
    assert last["train_mlm"] < first["train_mlm"]
    assert {"val_loss", "val_image_to_text_R@1", "val_text_to_image_R@10"} <= set(last)
    run_dir = result.run_dir
    for name in ("config.yaml", "steps.csv", "epochs.csv", "curves.png", "latest.pt"):
        assert (run_dir / name).exists(), name
    assert not (run_dir / "tokenizer").exists()  # the in-memory data set has no vocabulary to copy
    assert any((run_dir / "tensorboard").iterdir())
    assert len((run_dir / "epochs.csv").read_text().splitlines()) == 5
    assert [p.step for p in progress] == list(range(1, 33))
    assert progress[-1].batch == progress[-1].batches == 8 and progress[-1].samples == 32


def test_logit_scale_is_clamped_after_each_step(tmp_path):
    trainer = _trainer(tmp_path)
    with torch.no_grad():
        trainer.raw_model.logit_scale.fill_(6.0)
    trainer.train_step([_batch()])
    assert trainer.raw_model.logit_scale.item() == pytest.approx(math.log(100))
    with torch.no_grad():
        trainer.raw_model.logit_scale.fill_(-1.0)
    trainer.train_step([_batch()])
    assert trainer.raw_model.logit_scale.item() == 0.0


def test_step_sets_the_scheduled_lr_and_counts(tmp_path):
    trainer = _trainer(tmp_path, "optim.warmup_steps=4", "optim.lr=1e-3")
    lrs = []
    for _ in range(3):
        lrs.append(trainer.current_lr())
        trainer.train_step([_batch()])
        assert trainer.optimizer.param_groups[0]["lr"] == lrs[-1]
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4]) and trainer.step == 3
    assert all(p.grad is None for p in trainer.raw_model.parameters())  # zero_grad(set_to_none=True)


def test_accumulating_two_copies_of_a_batch_equals_one_step_on_it(tmp_path):
    one = _trainer(tmp_path)
    two = _trainer(tmp_path, "train.accum_steps=2")
    batch = _batch()
    one.train_step([batch])
    two.train_step([batch, batch])
    for (name, a), b in zip(one.raw_model.named_parameters(), two.raw_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_gradient_checkpointing_does_not_change_the_step(tmp_path):
    plain = _trainer(tmp_path)
    ckpt = _trainer(tmp_path, "train.grad_checkpointing=true")
    batch = _batch()
    a, b = plain.train_step([batch]), ckpt.train_step([batch])
    assert a["loss"].item() == pytest.approx(b["loss"].item(), rel=1e-6)
    for (name, p), q in zip(plain.raw_model.named_parameters(), ckpt.raw_model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name


def test_too_little_data_for_one_step_is_a_config_error(tmp_path):
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="batch_size"):
        _trainer(tmp_path, "train.batch_size=32", n=16)


@pytest.mark.slow
def test_tiny_model_learns_synthetic_figures_far_above_chance(tmp_path):
    """A few minutes on 2 CPU cores: validation R@10 in both directions must reach at least 4× chance."""
    from trainer.cli import main

    data = tmp_path / "synth"
    assert main(["synth", str(data), "--n", "1200", "--image-size", "64"]) == 0
    cfg = tiny_run_config(tmp_path)  # only for the output folder
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--no-progress",
        f"output_dir={cfg.output_dir}",
        "name=learns",
        f"data.train={data / 'train.jsonl'}",
        f"data.valid={data / 'valid.jsonl'}",
        f"data.image_root={data / 'images'}",
        f"data.tokenizer={data / 'tokenizer'}",
        "train.epochs=4",
    ]
    assert main(args) == 0
    import csv

    with (tmp_path / "runs" / "learns" / "epochs.csv").open() as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    chance = float(last["val_chance_R@10"])  # 10 / 120 validation pairs
    for direction in ("image_to_text", "text_to_image"):
        assert float(last[f"val_{direction}_R@10"]) >= 4 * chance, last
    assert float(last["train_loss"]) < float(first["train_loss"])


class _SomeUnreadable(RandomPairs):
    """Items flagged as substitutes, as CaptionDataset flags a pair whose image could not be decoded."""

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {**super().__getitem__(i), "substituted": torch.tensor(int(i % 4 == 0))}


def test_substituted_images_are_counted_not_fatal(tmp_path):
    cfg = tiny_run_config(tmp_path, "train.epochs=1")
    result = run_training(cfg, datasets=(_SomeUnreadable(16), None))
    assert result.history[0]["substituted_images"] == 4
    assert "substituted_images" in (result.run_dir / "epochs.csv").read_text().splitlines()[0]


def test_text_dropout_override(tmp_path):
    cfg = tiny_run_config(tmp_path, "train.text_dropout=0.25")
    trainer = Trainer(cfg, PMCClip(cfg.model), RandomPairs(16))
    rates = {m.p for m in trainer.raw_model.text_encoder.modules() if isinstance(m, nn.Dropout)}
    assert rates == {0.25} and trainer.raw_model.text_encoder.config.attention_probs_dropout_prob == 0.25
    untouched = Trainer(tiny_run_config(tmp_path), PMCClip(cfg.model), RandomPairs(16))
    assert {m.p for m in untouched.raw_model.text_encoder.modules() if isinstance(m, nn.Dropout)} == {0.1}


def test_missing_data_fails_before_anything_is_built(tmp_path, capsys):
    from trainer.cli import main

    code = main(["pretrain", "--config", "pmc-oa-rn50-fusion4", f"output_dir={tmp_path}", "--no-progress"])
    assert code == 2 and "data.train" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_progress_bar_counts_samples_per_epoch(capsys):
    from trainer.commands.pretrain import ProgressBar
    from trainer.train import StepProgress

    bar = ProgressBar()
    for epoch in (1, 2):
        for batch in (1, 2, 3):
            bar(StepProgress(epoch, 3 * (epoch - 1) + batch, batch, 3, 32 * batch, 1.5 if batch == 3 else None, 1e-4))
    assert bar.bar is None  # closed at the end of each epoch
    err = capsys.readouterr().err
    assert "epoch 1" in err and "epoch 2" in err and "96/96" in err and "loss=1.5" in err


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["amp", "amp_bf16", "amp_fp16", "fp32"])
def test_mixed_precision_training_on_cuda(tmp_path, precision):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from trainer.checkpoint import load_training_checkpoint

    cfg = tiny_run_config(
        tmp_path,
        f"train.precision={precision}",
        "train.device=cuda",
        "train.epochs=3",
        "optim.lr=2e-3",
        "train.grad_checkpointing=true",
    )
    result = run_training(cfg, datasets=(RandomPairs(32), RandomPairs(12, seed=1)))
    losses = [row["train_loss"] for row in result.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    payload = load_training_checkpoint(result.run_dir / "latest.pt")
    assert bool(payload["scaler"]) == (precision in ("amp", "amp_fp16"))  # a grad scaler only for fp16 (amp = fp16)


class _FullSizePairs(torch.utils.data.Dataset):
    """Random 224² images and 77-token captions in PubMedBERT's id range, for the real-scale preset."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        ids = torch.randint(5, 30522, (77,), generator=g)
        ids[0], ids[-1] = 2, 3
        labels = torch.where(torch.rand(77, generator=g) < 0.15, ids, torch.zeros_like(ids))
        return {"image": torch.randn(3, 224, 224, generator=g), "input_ids": ids, "mlm_labels": labels}


@pytest.mark.slow
def test_real_scale_preset_takes_a_step_and_saves(tmp_path):
    """RN50_fusion4 + BERT-base as configured for PMC-OA (≈200M parameters): CPU steps and a checkpoint."""
    from trainer.checkpoint import load_training_checkpoint
    from trainer.config import load_config

    cfg = load_config(
        "pmc-oa-rn50-fusion4",
        [
            f"output_dir={tmp_path}",
            "train.batch_size=2",
            "train.epochs=1",
            "train.device=cpu",
            "data.num_workers=0",
            "model.text.init=",  # random BERT: no PubMedBERT download in tests
        ],
    )
    result = run_training(cfg, datasets=(_FullSizePairs(), None))
    assert result.steps == 2
    payload = load_training_checkpoint(result.run_dir / "latest.pt")
    assert payload["model"]["mlm_projection"].shape == (768, 30522)
    assert 199e6 < sum(v.numel() for k, v in payload["model"].items() if "running" not in k) < 201e6
