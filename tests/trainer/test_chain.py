"""The whole chain on the CPU, as a researcher runs it: fetch every data set from (a stand-in for) its public home,
pretrain the tiny preset briefly with its text tower started from a (fake) PubMedBERT on the hub, export, then
`eval all` on what was fetched. Kept small (a few seconds of training) so it stays in the default suite; the
"beats chance" margins are asserted per evaluation in test_eval_*.py."""

from __future__ import annotations

import json

import pytest

from tests.fake_hf_bert import make_fake_bert, serve_fake_bert
from tests.local_hub import serving
from tests.trainer import data_fixtures as fx
from trainer.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXT_TOWER = [  # the fake PubMedBERT's shape, so the tiny preset can start from it
    "model.embed_dim=32",  # = the text width: the fusion module takes the image embedding as a token
    "model.text.vocab_size=0",
    "model.text.hidden_size=32",
    "model.text.num_hidden_layers=1",
    "model.text.num_attention_heads=2",
    "model.text.intermediate_size=64",
    "model.text.max_position_embeddings=16",
    "model.text.context_length=16",
]


def test_fetch_pretrain_export_eval_all(tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "data", tmp_path / "results"
    with serving(monkeypatch) as hub:
        fx.serve_datasets(hub, monkeypatch)
        init = serve_fake_bert(hub, make_fake_bert())
        for name in ("pmc-oa", "roco", "medmnist", "vqa-rad", "slake"):
            assert main(["data", "fetch", name, "--dest", str(root / name)]) == 0, name
        pretrain = [
            "pretrain",
            "--config",
            "tiny",
            "--no-progress",
            f"output_dir={tmp_path / 'runs'}",
            "name=chain",
            f"data.train={root / 'pmc-oa' / 'pmc_oa.jsonl'}",
            f"data.valid={root / 'pmc-oa' / 'valid.jsonl'}",
            f"data.image_root={root / 'pmc-oa' / 'images'}",
            "data.tokenizer=",
            f"model.text.init={init}",
            *TEXT_TOWER,
            "model.vision.image_size=32",
            "data.num_workers=0",
            "train.epochs=1",
            "train.batch_size=8",
            "optim.warmup_steps=1",
        ]
        assert main(pretrain) == 0
    assert main(["export", str(tmp_path / "runs" / "chain"), str(tmp_path / "model")]) == 0
    capsys.readouterr()

    code = main(
        [
            "eval",
            "all",
            "--model",
            f"local-dir:{tmp_path / 'model'}",
            "--data-root",
            str(root),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--fine-tune-epochs",
            "1",
            "--fine-tune-batch",
            "16",
            "--workers",
            "0",
            "--vqa-epochs",
            "2",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads(next(out.glob("*.json")).read_text())
    metrics = doc["metrics"]
    assert set(metrics["retrieval"]) == {"roco", "pmc-oa"} and metrics["retrieval"]["roco"]["scored"] == 1984
    assert metrics["retrieval"]["roco"]["pairs_without_image"] == 2  # the package PMC serves nowhere
    for flag in fx.MEDMNIST_SUBSETS:
        assert {"zero_shot", "linear_probe", "fine_tune"} <= set(metrics["medmnist"][flag]), flag
        assert all(0 <= metrics["medmnist"][flag][m]["acc"] <= 1 for m in ("zero_shot", "linear_probe", "fine_tune"))
    assert {"open", "closed", "overall"} <= set(metrics["vqa"]["vqa-rad"]) and metrics["vqa"]["slake"]["n_overall"] > 0
    assert doc["errors"] == {} and doc["skipped"] == []
    assert len(doc["data"]["medmnist"]["sha256"]) == 3 and "trainset.json" in doc["data"]["vqa-rad"]["sha256"]
    table = (out / "results.md").read_text()
    assert "| PMC-CLIP | paper | 31.41 |" in table and f"local-dir:{(tmp_path / 'model').resolve()}" in table
