"""AdamW groups and the learning-rate schedule of the reference (pmc-clip.md §4.1)."""

from __future__ import annotations

import math

import pytest
import torch

from engine.models.pmc_clip import PMCClip
from tests.trainer.tiny import tiny_model_config
from trainer.config import OptimConfig
from trainer.optim import build_optimizer, lr_at, param_groups


def test_no_decay_groups_follow_the_reference_rule():
    model = PMCClip(tiny_model_config())
    no_decay, decay = param_groups(model, 0.1)
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    ids_no_decay = {id(p) for p in no_decay["params"]}
    ids_decay = {id(p) for p in decay["params"]}
    names = dict(model.named_parameters())
    assert not ids_no_decay & ids_decay
    assert ids_no_decay | ids_decay == {id(p) for p in names.values()}
    for name in (
        "logit_scale",
        "ln_final.weight",
        "visual.bn1.weight",
        "visual.attnpool.q_proj.bias",
        "text_encoder.embeddings.LayerNorm.weight",
        "fusion_module.resblocks.0.ln_1.weight",
    ):
        assert id(names[name]) in ids_no_decay, name
    # img_special_token is [1, 1, D] (ndim 3) and its name matches no pattern: the reference decays it
    for name in (
        "visual.conv1.weight",
        "visual.attnpool.q_proj.weight",
        "text_projection",
        "mlm_projection",
        "positional_embedding",
        "text_encoder.embeddings.word_embeddings.weight",
        "fusion_module.resblocks.0.attn.in_proj_weight",
        "img_special_token",
    ):
        assert id(names[name]) in ids_decay, name


def test_optimizer_hyperparameters():
    model = PMCClip(tiny_model_config())
    opt = build_optimizer(model, OptimConfig())
    assert isinstance(opt, torch.optim.AdamW)
    for group in opt.param_groups:
        assert group["lr"] == 1e-4 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.1]


def test_warmup_then_cosine_to_zero():
    kw = dict(base_lr=1e-4, warmup_steps=500, total_steps=10_500)
    assert lr_at(0, **kw) == pytest.approx(1e-4 / 500)
    assert lr_at(249, **kw) == pytest.approx(1e-4 * 250 / 500)
    assert lr_at(499, **kw) == pytest.approx(1e-4)
    assert lr_at(500, **kw) == pytest.approx(1e-4)  # cosine starts at the peak
    assert lr_at(500 + 5000, **kw) == pytest.approx(0.5e-4)  # half way down
    assert lr_at(500 + 2500, **kw) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)) * 1e-4)
    assert lr_at(10_500, **kw) == pytest.approx(0.0, abs=1e-15)
    assert lr_at(20_000, **kw) == pytest.approx(0.0, abs=1e-15)  # never negative, never back up
    values = [lr_at(s, **kw) for s in range(500, 10_501, 100)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_constant_schedule_and_no_decay_room():
    assert lr_at(10, base_lr=1.0, warmup_steps=5, total_steps=20, schedule="constant") == 1.0
    assert lr_at(10, base_lr=1.0, warmup_steps=50, total_steps=20) == pytest.approx(11 / 50)
