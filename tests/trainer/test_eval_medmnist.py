"""`eval medmnist`: MedMNIST's ACC/AUC rules on hand-computed cases, and each method beating chance."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.trainer import data_fixtures as fx
from tests.trainer.eval_helpers import BREAST_WORDS, DERMA_WORDS, ColorEncoder, tiny_model_dir
from trainer.cli import main
from trainer.datasets import medmnist
from trainer.evaluate.encode import ModelSpec
from trainer.evaluate.medmnist_eval import FineTuneSettings, class_prompts, evaluate_medmnist
from trainer.evaluate.medmnist_metrics import medmnist_metrics

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Stated margins over chance on the synthetic subsets (class = grey level or colour; chance AUC 0.5, chance ACC
# 1/classes): zero-shot and linear probe with a model that sees the signal, fine-tuning a tiny random model.
AUC_MARGIN = 0.3  # AUC ≥ 0.8
ACC_MARGIN = 0.25  # ACC ≥ 1/classes + 0.25
FINE_TUNE_AUC_MARGIN = 0.25  # AUC ≥ 0.75 after 3 epochs from random weights


def test_binary_uses_the_last_column_and_a_half_threshold():
    y = np.array([[0], [1], [1], [0], [1]])
    s = np.array([[0.8, 0.2], [0.3, 0.7], [0.75, 0.25], [0.7, 0.3], [0.1, 0.9]])
    m = medmnist_metrics("binary-class", y, s)
    assert m["auc"] == pytest.approx(5 / 6)  # positives .7 .25 .9 against negatives .2 .3: 5 of 6 pairs right
    assert m["acc"] == pytest.approx(4 / 5)  # .25 > .5 is false for a positive


def test_multi_class_is_the_mean_one_vs_rest_auc_and_argmax_accuracy():
    y = np.array([0, 1, 2, 2])[:, None]
    s = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    m = medmnist_metrics("multi-class", y, s)
    # class 0: .6 vs {.2,.1,.2} → 1; class 1: .5 vs {.3,.6,.2} → 2/3; class 2: {.3,.6} vs {.1,.3} → (0.5+1+1+1)/4
    assert m["auc"] == pytest.approx((1 + 2 / 3 + 3.5 / 4) / 3)
    assert m["acc"] == pytest.approx(3 / 4)


def test_multi_label_averages_per_label_auc_and_accuracy():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    s = np.array([[0.9, 0.4], [0.2, 0.6], [0.6, 0.3], [0.4, 0.7]])
    m = medmnist_metrics("multi-label, binary-class", y, s)
    assert m["auc"] == pytest.approx((1.0 + 0.25) / 2)  # label 1: positives .6 .3 vs negatives .4 .7 → 1 of 4
    assert m["acc"] == pytest.approx((1.0 + 0.5) / 2)  # label 1 predicts 0 1 0 1 for 0 1 1 0: half right


def test_auc_of_a_split_with_one_class_is_nan_not_a_guess():
    assert np.isnan(medmnist_metrics("binary-class", np.ones((3, 1)), np.array([0.1, 0.5, 0.9]))["auc"])


def test_multi_label_prompts_pair_a_negative_with_each_label(tmp_path):
    data = medmnist.load(_npz(tmp_path, "chestmnist", label_cols=14))
    prompts = class_prompts(data)
    assert len(prompts) == 28 and prompts[0][0] == "chest x-ray showing no atelectasis." and "hernia" in prompts[-1][0]


def _npz(tmp_path, flag, label_cols=1):
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.zeros((4, 28, 28), np.uint8)
        arrays[f"{split}_labels"] = np.zeros((4, label_cols), np.uint8)
    np.savez(tmp_path / f"{flag}.npz", **arrays)
    return tmp_path / f"{flag}.npz"


def _subset(tmp_path, flag, seed=0) -> medmnist.MedMnistData:
    (tmp_path / f"{flag}.npz").write_bytes(fx.medmnist_npz(flag, seed=seed))
    return medmnist.load(tmp_path / f"{flag}.npz")


@pytest.mark.parametrize(("flag", "lexicon"), [("breastmnist", BREAST_WORDS), ("dermamnist", DERMA_WORDS)])
def test_zero_shot_and_linear_probe_beat_chance(tmp_path, flag, lexicon):
    data = _subset(tmp_path, flag)
    result = evaluate_medmnist(
        ModelSpec("color-oracle"), data, methods=("zero_shot", "linear_probe"), encoder=ColorEncoder(lexicon)
    )
    for method in ("zero_shot", "linear_probe"):
        assert result[method]["auc"] >= 0.5 + AUC_MARGIN, method
        assert result[method]["acc"] >= 1 / data.n_classes + ACC_MARGIN, method
    assert result["linear_probe"]["C"] in (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
    assert set(result) >= {"subset", "size", "task", "n_test", "zero_shot", "linear_probe"}


def test_fine_tuning_a_tiny_model_beats_chance(tmp_path):
    model = tiny_model_dir(tmp_path / "model")
    data = _subset(tmp_path, "breastmnist")
    settings = FineTuneSettings(epochs=3, batch_size=16, tower_lr=1e-3, head_lr=1e-2, num_workers=0)
    result = evaluate_medmnist(
        ModelSpec(f"local-dir:{model}", device="cpu"), data, methods=("fine_tune",), settings=settings
    )
    assert result["fine_tune"]["auc"] >= 0.5 + FINE_TUNE_AUC_MARGIN
    assert 1 <= result["fine_tune"]["best_epoch"] <= 3 and result["fine_tune"]["settings"]["epochs"] == 3


def test_cli_json_names_methods_and_metrics(tmp_path, capsys):
    model = tiny_model_dir(tmp_path / "model")
    _subset(tmp_path, "pneumoniamnist")
    args = [
        "eval",
        "medmnist",
        "--model",
        f"local-dir:{model}",
        "--data",
        str(tmp_path),
        "--subset",
        "PneumoniaMNIST",
        "--methods",
        "zero_shot,linear_probe",
        "--device",
        "cpu",
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["zero_shot"]) == {"acc", "auc"} and {"acc", "auc", "C"} <= set(result["linear_probe"])
    assert result["subset"] == "pneumoniamnist" and result["size"] == 28
    assert main(args[:-1] + ["--methods", "zero_shot,guess"]) == 2


def test_medmnist_npz_fixture_is_in_the_real_format():
    with np.load(io.BytesIO(fx.medmnist_npz("dermamnist")), allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))
        assert npz["train_images"].dtype == np.uint8 and npz["train_images"].shape[1:] == (28, 28, 3)
        assert npz["test_labels"].ndim == 2
