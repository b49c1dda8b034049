"""Run config: YAML + dotted overrides -> frozen dataclasses; bad input fails early with ConfigError."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from engine.errors import ConfigError
from trainer.config import PRESETS_DIR, RunConfig, build_config, load_config, parse_override, save_config, to_dict


def test_defaults_are_the_reference_recipe():
    cfg = build_config({})
    assert isinstance(cfg, RunConfig)
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.warmup_steps) == (1e-4, 0.1, 500)
    assert (cfg.optim.beta1, cfg.optim.beta2, cfg.optim.eps) == (0.9, 0.999, 1e-8)
    assert (cfg.loss.w_clip, cfg.loss.w_mlm) == (0.5, 0.5)
    assert not (cfg.loss.gather_with_grad or cfg.loss.mlm_global_norm or cfg.train.sync_bn)
    assert cfg.data.mask_ratio == 0.15 and cfg.data.crop_scale == (0.5, 1.0)
    assert cfg.model.vision.layers == (3, 4, 6, 3) and cfg.model.fusion_layers == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3  # type: ignore[misc]


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "train": {"epochs": 7, "batch_size": 8},
                "model": {"vision": {"layers": [1, 1, 1, 1], "width": 16}},
            }
        )
    )
    cfg = load_config(
        path,
        [
            "train.epochs=3",
            "optim.lr=1e-3",
            "data.valid=null",
            "model.text.num_hidden_layers=2",
            "data.crop_scale=[0.8, 1.0]",
            "optim.grad_clip_norm=1",
        ],
    )
    assert cfg.name == "x" and cfg.train.epochs == 3 and cfg.train.batch_size == 8
    assert cfg.optim.lr == 1e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.grad_clip_norm == 1.0 and isinstance(cfg.optim.grad_clip_norm, float)
    assert cfg.model.vision.layers == (1, 1, 1, 1) and cfg.model.vision.width == 16
    assert cfg.model.text.num_hidden_layers == 2 and cfg.model.text.hidden_size == 768
    assert cfg.data.crop_scale == (0.8, 1.0)


@pytest.mark.parametrize(
    "override",
    [
        "train.epochz=3",
        "train.epochs=three",
        "train.epochs=1.5",
        "train.sync_bn=1",
        "optim.lr=fast",
        "train.precision=fp8",
        "nothing",
        "model.vision=3",
        "train.batch_size=0",
    ],
)
def test_bad_settings_are_refused(override):
    with pytest.raises(ConfigError):
        build_config({}, [override])


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=null") == (["a", "b"], None)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("x.y=hello=world") == (["x", "y"], "hello=world")


def test_resolved_config_round_trips(tmp_path):
    cfg = build_config({}, ["train.epochs=2", "data.train=t.jsonl", "model.text.vocab_size=0"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == cfg
    assert to_dict(again)["model"]["vision"]["layers"] == [3, 4, 6, 3]


@pytest.mark.parametrize("preset", sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
def test_presets_load(preset):
    cfg = load_config(preset)
    assert cfg.train.epochs >= 1


def test_real_scale_preset_is_the_papers_recipe():
    cfg = load_config("pmc-oa-rn50-fusion4")
    assert cfg.train.batch_size == 128 and cfg.train.epochs == 100
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.warmup_steps) == (1e-4, 0.1, 500)
    # RN50_fusion4 is the default architecture; the preset adds the reference's PubMedBERT start
    assert dataclasses.replace(cfg.model, text=dataclasses.replace(cfg.model.text, init="")) == build_config({}).model
    assert cfg.model.text.vocab_size == 30522
    assert cfg.model.text.init == "hf:microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"
    assert cfg.train.precision == "amp" and cfg.data.valid_sampling == "reference" and cfg.data.valid_max_rows == 20000


def test_unknown_config_names_the_presets(tmp_path):
    with pytest.raises(ConfigError, match="tiny-clip"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
