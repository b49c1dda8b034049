"""Checkpoints: full state, atomic files, safe loading, and resume that reproduces an uninterrupted run exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from engine.errors import ConfigError, WeightsError
from tests.trainer.tiny import RandomPairs, tiny_run_config
from trainer.checkpoint import (
    atomic_torch_save,
    capture_rng_state,
    load_training_checkpoint,
    resolve_resume_path,
    restore_rng_state,
)
from trainer.run import run_training


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = capture_rng_state()
    expected = _draws()
    atomic_torch_save({"rng": state}, tmp_path / "rng.pt")
    loaded = torch.load(tmp_path / "rng.pt", weights_only=True)["rng"]
    _draws()
    restore_rng_state(loaded)
    assert _draws() == expected


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    atomic_torch_save({"a": torch.ones(2)}, tmp_path / "x.pt")
    atomic_torch_save({"a": torch.zeros(2)}, tmp_path / "x.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]
    assert torch.load(tmp_path / "x.pt", weights_only=True)["a"].tolist() == [0.0, 0.0]


class _Payload:  # any object a pickle would construct: our loader must refuse it
    pass


def test_foreign_or_unsafe_checkpoints_are_refused(tmp_path):
    torch.save({"format": "pmc-figure-search/train-checkpoint", "x": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(WeightsError):
        load_training_checkpoint(tmp_path / "evil.pt")
    torch.save({"state_dict": {}}, tmp_path / "official.pt")
    with pytest.raises(WeightsError, match="init-checkpoint"):
        load_training_checkpoint(tmp_path / "official.pt")
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(WeightsError):
        load_training_checkpoint(tmp_path / "truncated.pt")
    with pytest.raises(WeightsError):
        resolve_resume_path("latest", tmp_path / "no-run")


def _params(run_dir):
    return load_training_checkpoint(run_dir / "latest.pt")["model"]


def test_resume_latest_reproduces_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    data = (RandomPairs(24), None)
    # dropout stays on (BERT's 0.1), so the restored torch RNG state matters
    straight = tiny_run_config(tmp_path / "a", "train.epochs=2", "train.save_every_epochs=1")
    run_training(straight, datasets=data)
    resumed = tiny_run_config(tmp_path / "b", "train.epochs=2", "train.save_every_epochs=1")
    first = run_training(resumed, datasets=data, stop_after_epoch=1)
    assert (first.epochs, first.steps) == (1, 6)
    second = run_training(resumed, datasets=data, resume="latest")
    assert (second.epochs, second.steps) == (2, 12) and len(second.history) == 1

    a, b = _params(straight.run_dir), _params(resumed.run_dir)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    payload = load_training_checkpoint(straight.run_dir / "latest.pt")
    assert payload["epoch"] == 2 and payload["step"] == 12 and len(payload["rng"]) == 1
    assert payload["config"]["train"]["epochs"] == 2 and payload["optimizer"]["state"]
    assert {p.name for p in straight.run_dir.glob("*.pt")} == {"latest.pt", "epoch_1.pt", "epoch_2.pt"}
    # the resumed run appended to the same history files
    assert len((resumed.run_dir / "epochs.csv").read_text().splitlines()) == 3


def test_resume_refuses_another_model(tmp_path):
    data = (RandomPairs(16), None)
    cfg = tiny_run_config(tmp_path, "train.epochs=1")
    run_training(cfg, datasets=data)
    other = tiny_run_config(tmp_path, "train.epochs=2", "model.fusion_layers=2")
    with pytest.raises(ConfigError):
        run_training(other, datasets=data, resume="latest")


class _Interrupted(Exception):
    pass


def test_resume_from_a_mid_epoch_checkpoint_is_exact(tmp_path):
    torch.set_num_threads(1)
    data = (RandomPairs(24), None)
    straight = tiny_run_config(tmp_path / "a", "train.epochs=2")
    run_training(straight, datasets=data)
    cut = tiny_run_config(tmp_path / "b", "train.epochs=2", "train.save_every_steps=4")

    def interrupt(progress):
        if progress.step == 9:  # after the step-8 save, one step is lost, as in a real crash
            raise _Interrupted

    with pytest.raises(_Interrupted):
        run_training(cut, datasets=data, on_progress=interrupt)
    saved = load_training_checkpoint(cut.run_dir / "latest.pt")
    assert (saved["epoch"], saved["step"], saved["batch_in_epoch"]) == (1, 8, 2)
    result = run_training(cut, datasets=data, resume="latest")
    assert (result.epochs, result.steps) == (2, 12)
    a, b = _params(straight.run_dir), _params(cut.run_dir)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_init_checkpoint_in_the_official_layout_is_the_starting_point(tmp_path):
    from engine.models.pmc_clip import PMCClip
    from tests.trainer.tiny import tiny_model_config

    torch.manual_seed(123)
    source = PMCClip(tiny_model_config())
    official = {
        "epoch": 100,
        "name": "pmc-clip",
        "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
    }
    torch.save(official, tmp_path / "checkpoint.pt")
    cfg = tiny_run_config(tmp_path, "train.epochs=1", "optim.lr=0.0", "train.max_steps_per_epoch=1")
    run_training(cfg, datasets=(RandomPairs(8), None), init_checkpoint=str(tmp_path / "checkpoint.pt"))
    trained = _params(cfg.run_dir)
    params = dict(source.named_parameters())
    for name, value in params.items():  # lr 0: the parameters are still the official ones (BN buffers moved)
        assert torch.equal(trained[name], value.detach()), name
    fresh = tiny_run_config(tmp_path / "fresh", "train.epochs=1", "optim.lr=0.0", "train.max_steps_per_epoch=1")
    run_training(fresh, datasets=(RandomPairs(8), None))
    assert not torch.equal(_params(fresh.run_dir)["text_projection"], params["text_projection"].detach())
