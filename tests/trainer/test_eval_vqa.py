"""`eval vqa`: our answer-classification protocol on real-format VQA-RAD and SLAKE, beating chance."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.trainer import data_fixtures as fx
from tests.trainer.eval_helpers import ColorEncoder, tiny_model_dir
from trainer.cli import main
from trainer.datasets.vqa import VqaItem
from trainer.evaluate.encode import ModelSpec
from trainer.evaluate.vqa_eval import VqaSettings, accuracy, evaluate_vqa, normalise_answer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Stated margins, with a model that sees the colour: overall accuracy at least 0.3 above the majority answer's share
# of the test questions (the best a head can do without looking), and closed (balanced yes/no) accuracy at least
# 0.7, i.e. 0.2 above chance.
VQA_MARGIN = 0.3
CLOSED_MARGIN = 0.2


def _vqa_rad(tmp_path):
    with zipfile.ZipFile(io.BytesIO(fx.vqa_rad_osf_zip(n_images=48))) as zf:
        zf.extractall(tmp_path)
    return tmp_path / "VQA-RAD"


def _slake(tmp_path, n_images=48):
    files = fx.slake_files(n_images=n_images)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "imgs.zip") as zf:
        zf.extractall(tmp_path)
    return tmp_path


def test_answers_are_normalised_for_matching():
    assert normalise_answer(" The Left Lung. ") == "left lung"
    assert normalise_answer("Yes") == normalise_answer("yes") == "yes"
    assert normalise_answer(4) == "4"


def test_accuracy_splits_open_and_closed():
    items = [
        VqaItem(i, None, "q", a, t) for i, (a, t) in enumerate([("Yes", "CLOSED"), ("no", "CLOSED"), ("MRI", "OPEN")])
    ]
    m = accuracy(items, ["yes", "yes", "mri"])
    assert m == {"overall": 2 / 3, "n_overall": 3, "open": 1.0, "n_open": 1, "closed": 0.5, "n_closed": 2}


def _majority_share(items) -> float:
    from collections import Counter

    counts = Counter(normalise_answer(i.answer) for i in items)
    return counts.most_common(1)[0][1] / len(items)


@pytest.mark.parametrize("dataset", ["vqa-rad", "slake"])
def test_frozen_head_beats_the_majority_answer(tmp_path, dataset):
    from trainer.evaluate.vqa_eval import load_splits

    folder = _vqa_rad(tmp_path) if dataset == "vqa-rad" else _slake(tmp_path)
    result = evaluate_vqa(
        ModelSpec("color-oracle"), dataset, folder, encoder=ColorEncoder(), settings=VqaSettings(epochs=200)
    )
    majority = _majority_share(load_splits(dataset, folder).test)
    assert result["overall"] >= majority + VQA_MARGIN
    assert result["closed"] >= 0.5 + CLOSED_MARGIN
    assert result["n_open"] > 0 and result["n_closed"] > 0 and result["test_answers_in_vocabulary"] > 0.9


def test_fine_tune_mode_runs_through_the_engine_model(tmp_path, capsys):
    model = tiny_model_dir(tmp_path / "model")
    folder = _slake(tmp_path, n_images=24)
    args = [
        "eval",
        "vqa",
        "--model",
        f"local-dir:{model}",
        "--data",
        str(folder),
        "--dataset",
        "slake",
        "--mode",
        "fine_tune",
        "--vqa-epochs",
        "1",
        "--vqa-batch",
        "16",
        "--device",
        "cpu",
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "fine_tune" and {"open", "closed", "overall"} <= set(result)
    assert result["n_overall"] == 18  # 6 test images × 3 English questions
