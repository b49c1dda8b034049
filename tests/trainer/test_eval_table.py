"""The markdown renderer: the paper's rows beside ours and beside other models, percentages, dashes for gaps."""

from __future__ import annotations

import json

from trainer.evaluate import paper
from trainer.evaluate.suite import write_outputs
from trainer.evaluate.table import render


def _doc(model_id: str, *, roco=None, medmnist=None, vqa=None) -> dict:
    return {
        "model": {"model": model_id, "id": model_id},
        "metrics": {"retrieval": {"roco": roco} if roco else {}, "medmnist": medmnist or {}, "vqa": vqa or {}},
    }


ROCO = {
    "protocol": "reference",
    "scored": 1984,
    "image_to_text": {"R@1": 0.3141, "R@5": 0.6115, "R@10": 0.71875, "mean_rank": 9.0, "median_rank": 2.0},
    "text_to_image": {"R@1": 0.1, "R@5": 0.2, "R@10": 0.3, "mean_rank": 20.0, "median_rank": 5.0},
}


def _rows(markdown: str, title: str) -> list[list[str]]:
    section = markdown.split(f"### {title}")[1].split("###")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]


def test_retrieval_table_has_the_paper_rows_then_each_model():
    md = render([_doc("pmc-clip", roco=ROCO), _doc("biomedclip")])
    rows = _rows(md, "Image–text retrieval, ROCO test (%)")
    assert rows[0] == ["model", "source", *paper.RETRIEVAL_COLUMNS]
    assert rows[1:6] == [[name, "paper", *[f"{v:.2f}" for v in values]] for name, values in paper.RETRIEVAL.items()]
    assert rows[6] == ["pmc-clip", "ours, reference (1984 pairs)", "31.41", "61.15", "71.88", "10.00", "20.00", "30.00"]
    assert len(rows) == 7  # a model without ROCO results gets no row


def test_medmnist_rows_per_method_with_dashes_for_missing_subsets():
    medmnist = {
        "pneumoniamnist": {"zero_shot": {"acc": 0.5, "auc": 0.61234}, "fine_tune": {"acc": 0.9535, "auc": 0.9902}},
        "dermamnist": {"fine_tune": {"acc": 0.798, "auc": float("nan")}},
    }
    rows = _rows(render([_doc("mine", medmnist=medmnist)]), "MedMNIST (%)")
    assert rows[-2] == ["mine", "ours, zero_shot", "61.23", "50.00", "–", "–", "–", "–"]
    assert rows[-1] == ["mine", "ours, fine_tune", "99.02", "95.35", "–", "–", "–", "79.80"]
    assert rows[1][0] == "ResNet50" and rows[4][0] == "PMC-CLIP"


def test_vqa_row_and_the_pmc_oa_table_only_when_there_are_results():
    vqa = {"vqa-rad": {"mode": "frozen", "open": 0.5, "closed": 0.75, "overall": 0.65}}
    md = render([_doc("mine", vqa=vqa)])
    assert _rows(md, "Medical VQA accuracy (%)")[-1] == [
        "mine",
        "ours, frozen head",
        "50.00",
        "75.00",
        "65.00",
        "–",
        "–",
        "–",
    ]
    assert "PMC-OA test" not in md


def test_write_outputs_tabulates_every_json_in_the_folder_and_compare_files(tmp_path):
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps(_doc("biomedclip", roco=ROCO)))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.json").write_text("[1, 2]")  # not an eval-all document: ignored
    json_path, md_path = write_outputs(_doc("open_clip:RN50/openai", roco=ROCO), tmp_path / "out", [other])
    assert json_path.name == "open_clip_RN50_openai.json"
    names = [r[0] for r in _rows(md_path.read_text(), "Image–text retrieval, ROCO test (%)")]
    assert names[-2:] == ["biomedclip", "open_clip:RN50/openai"]
