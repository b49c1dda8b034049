"""End to end through the CLI: synthetic data → pretrain → export → the engine loads `local-dir:` and retrieves."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from engine.models import PMCClip, create_encoder
from engine.models.tokenizer import load_tokenizer
from trainer.checkpoint import load_training_checkpoint
from trainer.cli import main
from trainer.config import config_from_dict
from trainer.data import CaptionDataset, read_rows
from trainer.evaluation import embed_pairs


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("e2e")
    data = tmp / "synth"
    assert main(["synth", str(data), "--n", "60", "--image-size", "64", "--val-fraction", "0.2"]) == 0
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--no-progress",
        f"output_dir={tmp / 'runs'}",
        "name=e2e",
        f"data.train={data / 'train.jsonl'}",
        f"data.valid={data / 'valid.jsonl'}",
        f"data.image_root={data / 'images'}",
        f"data.tokenizer={data / 'tokenizer'}",
        "data.num_workers=0",
        "train.epochs=2",
        "train.batch_size=16",
        "optim.warmup_steps=2",
    ]
    assert main(args) == 0
    return tmp, data, tmp / "runs" / "e2e"


def test_pretrain_writes_a_complete_run_folder(trained_run):
    _, _, run_dir = trained_run
    for name in ("config.yaml", "latest.pt", "steps.csv", "epochs.csv", "curves.png", "tokenizer/vocab.txt"):
        assert (run_dir / name).is_file(), name
    payload = load_training_checkpoint(run_dir / "latest.pt")
    assert payload["epoch"] == 2 and payload["step"] == 6  # 48 pairs // 16 = 3 steps per epoch
    cfg = config_from_dict(payload["config"])
    assert cfg.model.text.vocab_size == len(load_tokenizer(run_dir / "tokenizer"))  # 0 resolved from the vocab


def test_exported_folder_loads_in_the_engine_and_matches_the_trained_model(trained_run, capsys):
    tmp, data, run_dir = trained_run
    out = tmp / "exported"
    assert main(["export", str(run_dir), str(out)]) == 0
    encoder = create_encoder(f"local-dir:{out}", device="cpu")
    rows = read_rows(data / "valid.jsonl").rows
    images = encoder.encode_images([data / "images" / r.image for r in rows])
    texts = encoder.encode_texts([r.caption for r in rows])
    assert images.shape == texts.shape == (12, 128) and images.dtype == np.float32

    payload = load_training_checkpoint(run_dir / "latest.pt")
    cfg = config_from_dict(payload["config"])
    model = PMCClip(cfg.model)
    model.load_state_dict(payload["model"])
    tokenizer = load_tokenizer(run_dir / "tokenizer")
    valid = CaptionDataset(rows, data / "images", tokenizer, train=False, image_size=64, context_length=48)
    ref_images, ref_texts, _ = embed_pairs(model, valid, batch_size=8, device="cpu")
    assert np.min(np.sum(images * ref_images, axis=1)) > 0.999
    assert np.min(np.sum(texts * ref_texts, axis=1)) > 0.999
    # retrieval with the exported encoder ranks like the trained model does
    assert np.array_equal(np.argmax(images @ texts.T, axis=1), np.argmax(ref_images @ ref_texts.T, axis=1))

    capsys.readouterr()
    code = main(
        [
            "eval",
            "retrieval",
            "--model",
            f"local-dir:{out}",
            "--data",
            str(data / "valid.jsonl"),
            "--image-root",
            str(data / "images"),
            "--protocol",
            "full",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    with (run_dir / "epochs.csv").open() as f:
        last_epoch = list(csv.DictReader(f))[-1]
    for direction, k in (("image_to_text", 1), ("image_to_text", 10), ("text_to_image", 5)):
        logged = float(last_epoch[f"val_{direction}_R@{k}"])
        assert metrics[direction][f"R@{k}"] == pytest.approx(logged, abs=1 / 12 + 1e-9), (direction, k)
    assert metrics["scored"] == 12 == float(last_epoch["val_num_samples"])


def test_resume_from_a_run_folder_needs_no_config(trained_run):
    tmp, _, run_dir = trained_run
    assert main(["pretrain", "--resume", str(run_dir), "--no-progress", "train.epochs=3"]) == 0
    assert load_training_checkpoint(run_dir / "latest.pt")["epoch"] == 3
    assert main(["pretrain", "--resume", "latest", "--no-progress"]) == 2  # which run? --config is needed
