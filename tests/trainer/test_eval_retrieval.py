"""`eval retrieval`: protocols on real-format ROCO/PMC-OA files, bootstrap CIs, and beating chance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import UserInputError
from tests.trainer import data_fixtures as fx
from tests.trainer.eval_helpers import ColorEncoder, tiny_model_dir
from trainer.cli import main
from trainer.evaluate.retrieval import RetrievalSet, choose_rows, evaluate_retrieval, jsonl_set, roco_set

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The synthetic pairs carry one of 4 colours as their only signal, so a perfect colour model reaches 4× chance at
# best. The stated margin: R@1, R@5 and R@10 at least 3× chance and the mean rank at most half of chance, in both
# directions, on every protocol.
RECALL_FACTOR = 3.0
MEAN_RANK_FACTOR = 0.5


def _roco_folder(tmp_path, n=40):
    fixture = fx.roco_files(n=n)
    folder = tmp_path / "roco"
    for relative, content in fixture.text.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    images = folder / "data/test/radiology/images"
    images.mkdir()
    for i, roco_id in enumerate(fixture.ids[:-1]):  # the last pair's image is absent, as after a failed package
        fx.color_image(fx.NAMES[i % 4], 500 + i).save(images / f"{roco_id}.jpg")
    return folder


def _pmc_oa_folder(tmp_path):
    folder = tmp_path / "pmc-oa"
    folder.mkdir()
    for name, content in fx.pmc_oa_files(n=40).items():
        (folder / name).write_bytes(content)
    import zipfile

    with zipfile.ZipFile(folder / "images.zip") as zf:
        zf.extractall(folder / "images")
    return folder


def test_roco_set_reads_captions_and_leaves_out_pairs_without_images(tmp_path):
    data = roco_set(_roco_folder(tmp_path))
    assert len(data) == 39 and data.dropped == 1 and data.fixed2k_name == "roco_test_radiology"
    assert data.captions[0] == fx.caption("red", 0)  # the leading space is gone
    assert data.name == "roco test/radiology"


@pytest.mark.parametrize("protocol", ["reference", "fixed2k", "full"])
def test_every_protocol_beats_chance_with_a_model_that_sees_colour(tmp_path, protocol):
    folder = _pmc_oa_folder(tmp_path)
    result = evaluate_retrieval(ColorEncoder(), jsonl_set(folder / "pmc_oa.jsonl"), protocol=protocol)
    for direction in ("image_to_text", "text_to_image"):
        for k in (1, 5, 10):
            assert result[direction][f"R@{k}"] >= RECALL_FACTOR * result["chance"][f"R@{k}"], (direction, k)
        assert result[direction]["mean_rank"] <= MEAN_RANK_FACTOR * result["chance"]["mean_rank"], direction
    expected = {"reference": 1984, "fixed2k": 40, "full": 40}[protocol]  # fixed2k of 40 rows: all of them
    assert result["scored"] == expected


def test_reference_protocol_scores_the_official_draw_and_encodes_each_pair_once(tmp_path):
    data = roco_set(_roco_folder(tmp_path))
    encoder = ColorEncoder()
    result = evaluate_retrieval(encoder, data, protocol="reference")
    assert result["scored"] == 1984 and result["distinct"] <= 39
    assert encoder.calls == 1  # 39 distinct images, one chunk
    rows, _ = choose_rows(data, "reference")
    np.random.seed(0)
    assert set(rows) <= set(np.random.choice(range(39), 2000))


def test_fixed2k_uses_an_ids_file_and_names_missing_ids(tmp_path):
    data = RetrievalSet("x", [f"id{i}" for i in range(5)], [tmp_path] * 5, ["c"] * 5)
    (tmp_path / "ids.txt").write_text("# comment\nid3\nid1\n")
    rows, info = choose_rows(data, "fixed2k", ids_file=tmp_path / "ids.txt")
    assert rows.tolist() == [3, 1] and info["scored"] == 2
    (tmp_path / "ids.txt").write_text("id9\n")
    with pytest.raises(UserInputError, match="id9"):
        choose_rows(data, "fixed2k", ids_file=tmp_path / "ids.txt")
    with pytest.raises(UserInputError, match="protocol"):
        choose_rows(data, "first2k")


def test_the_shipped_roco_list_needs_the_real_test_split(tmp_path):
    with pytest.raises(UserInputError, match="fixed-subset ids are not in the data"):
        evaluate_retrieval(ColorEncoder(), roco_set(_roco_folder(tmp_path)), protocol="fixed2k")


def test_bootstrap_intervals_bracket_the_estimate(tmp_path):
    data = jsonl_set(_pmc_oa_folder(tmp_path) / "pmc_oa.jsonl")
    result = evaluate_retrieval(ColorEncoder(), data, protocol="full", bootstrap=200, seed=1)
    for direction in ("image_to_text", "text_to_image"):
        low, high = result[direction]["ci95"]["R@1"]
        assert low <= result[direction]["R@1"] <= high and low < high


def test_cli_with_an_exported_model_prints_named_metrics(tmp_path, capsys):
    model = tiny_model_dir(tmp_path / "model")
    folder = _pmc_oa_folder(tmp_path)
    args = [
        "eval",
        "retrieval",
        "--model",
        f"local-dir:{model}",
        "--data",
        str(folder / "test.jsonl"),
        "--protocol",
        "full",
        "--device",
        "cpu",
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scored"] == 12 and result["protocol"] == "full" and result["ties"] == "official"
    assert set(result["image_to_text"]) == {"R@1", "R@5", "R@10", "mean_rank", "median_rank"}
    assert (
        main(
            [
                "eval",
                "retrieval",
                "--model",
                f"local-dir:{model}",
                "--roco",
                str(_roco_folder(tmp_path)),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "protocol reference" in out and "1984 pairs scored" in out and "1 pairs left out" in out
