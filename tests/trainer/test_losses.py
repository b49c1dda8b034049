"""Losses against values computed by hand from the formulas of pmc-clip.md §3.2–3.4."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.losses import clip_loss, mlm_loss, pmc_clip_loss


def _nll(logits_row: list[float], target: int) -> float:
    return -(logits_row[target] - math.log(sum(math.exp(v) for v in logits_row)))


def test_clip_loss_is_the_mean_of_both_directions():
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    scale = torch.tensor(2.0)
    # similarities I·Tᵀ = [[1, .6], [0, .8]]; image→text rows, text→image columns, targets on the diagonal
    i2t = (_nll([2.0, 1.2], 0) + _nll([0.0, 1.6], 1)) / 2
    t2i = (_nll([2.0, 0.0], 0) + _nll([1.2, 1.6], 1)) / 2
    expected = (i2t + t2i) / 2
    assert clip_loss(image, text, scale).item() == pytest.approx(expected, rel=1e-6)
    assert i2t != pytest.approx(t2i)  # the example really distinguishes the two directions


def test_clip_loss_is_low_for_matching_pairs_and_high_for_swapped():
    feats = torch.nn.functional.normalize(torch.randn(8, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    good = clip_loss(feats, feats, torch.tensor(50.0)).item()
    bad = clip_loss(feats, feats.roll(1, dims=0), torch.tensor(50.0)).item()
    assert good < 0.05 < 5 < bad


def test_mlm_loss_ignores_pad_only_and_scores_cls_and_sep_labels():
    logits = torch.tensor([[[2.0, 0.5, 1.0, -1.0], [0.0, 3.0, 0.0, 0.0], [1.0, 1.0, 1.0, 4.0]]])
    labels = torch.tensor([[2, 0, 3]])  # [CLS] label, an ignored pad, [SEP] label
    expected = (_nll([2.0, 0.5, 1.0, -1.0], 2) + _nll([1.0, 1.0, 1.0, 4.0], 3)) / 2
    assert mlm_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    # label 1 ([UNK]) is not ignored either: only id 0 is
    labels_unk = torch.tensor([[2, 1, 3]])
    expected_unk = (_nll([2.0, 0.5, 1.0, -1.0], 2) + _nll([0.0, 3.0, 0.0, 0.0], 1) + _nll([1.0, 1.0, 1.0, 4.0], 3)) / 3
    assert mlm_loss(logits, labels_unk).item() == pytest.approx(expected_unk, rel=1e-6)


def test_total_loss_weights_and_skipped_terms():
    g = torch.Generator().manual_seed(1)
    image = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=-1)
    outputs = {
        "image_features": image,
        "text_features": text,
        "logit_scale": torch.tensor(10.0),
        "mlm_logits": torch.randn(4, 5, 11, generator=g),
    }
    labels = torch.randint(0, 11, (4, 5), generator=g)
    clip = clip_loss(image, text, torch.tensor(10.0)).item()
    mlm = mlm_loss(outputs["mlm_logits"], labels).item()
    out = pmc_clip_loss(outputs, labels)
    assert out["loss"].item() == pytest.approx(0.5 * clip + 0.5 * mlm, rel=1e-6)
    out = pmc_clip_loss(outputs, labels, w_clip=0.33, w_mlm=0.66)
    assert out["loss"].item() == pytest.approx(0.33 * clip + 0.66 * mlm, rel=1e-6)
    clip_only = pmc_clip_loss({k: v for k, v in outputs.items() if k != "mlm_logits"}, None, w_clip=1.0, w_mlm=0.0)
    assert clip_only["loss"].item() == pytest.approx(clip, rel=1e-6)
    assert clip_only["mlm"].item() == 0.0
    with pytest.raises(ValueError):
        pmc_clip_loss({k: v for k, v in outputs.items() if k != "mlm_logits"}, labels)
