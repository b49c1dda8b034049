"""`pmc-search index | query | info` end to end, in-process, with the fake model."""

from __future__ import annotations

import json
import logging

import pytest

from app.cli import main
from engine.modality import MIN_CONFIDENCE
from tests.fakes import FakeEncoder, solid_image


@pytest.fixture(autouse=True)
def restore_logging():
    """main() installs console + file handlers on the root logger; close them so no test inherits them."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


class FakeModelCli:
    """`pmc-search ARGV` in-process with the fake model; `made` records each (spec, device) a model was built for."""

    def __init__(self):
        self.made: list = []

    def factory(self, spec, device, offline, progress):
        self.made.append((spec, device))
        return FakeEncoder()

    def __call__(self, argv: list[str]) -> int:
        return main(argv, encoder_factory=self.factory)


@pytest.fixture
def fake_model():
    return FakeModelCli()


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for n, colour in enumerate(["red", "red", "green", "blue"]):
        solid_image(colour, speckle=n + 1).save(images / f"{colour}{n}.png")
        (images / f"{colour}{n}.txt").write_text(f"A {colour} figure from experiment {n}")
    (images / "broken.png").write_bytes(b"not a png")
    return images


def test_index_query_info_end_to_end(tmp_path, folder, fake_model, capsys):
    lib = str(tmp_path / "lib")
    assert fake_model(["--library", lib, "index", str(folder), "--model", "fake", "-q"]) == 0
    out = capsys.readouterr().out
    assert "4 added, 0 unchanged or reused, 0 removed, 1 failed" in out
    assert "problem:" in out and "broken.png" in out
    assert fake_model.made[0][0].name == "fake"

    assert fake_model(["--library", lib, "query", "red", "-k", "2", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    verdict, *results = [json.loads(line) for line in lines]
    assert verdict["verdict"] == "strong" and verdict["scale"] == "strength" and verdict["message"]
    assert verdict["best_score"] == results[0]["score"] and verdict["total"] >= 2
    assert len(results) == 2
    assert {r["path"].rsplit("/", 1)[1] for r in results} == {"red0.png", "red1.png"}
    first = results[0]
    assert set(first) >= {"id", "score", "match", "collections", "path", "caption", "article", "why"}
    assert first["why"]["matched_terms"] == ["red"] and first["why"]["similarity"] > 0.9
    assert first["match"] == "strong" and first["collections"] == ["images"]
    assert first["score"] == pytest.approx(first["why"]["vector_score"] + first["why"]["keyword_bonus"], abs=1e-5)
    assert first["caption"].startswith("A red figure") and first["rank"] == 1

    query_image = tmp_path / "q.png"
    solid_image("blue").save(query_image)
    assert fake_model(["--library", lib, "query", "--image", str(query_image), "-k", "1"]) == 0
    assert "blue3.png" in capsys.readouterr().out

    assert fake_model(["--library", lib, "info"]) == 0
    out = capsys.readouterr().out
    assert "figures:     4 in 1 collection(s)" in out and "model:       fake" in out
    assert fake_model(["--library", lib, "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["figures"] == 4 and info["index_size"] == 4 and info["problems"] == 1 and info["model_id"] == "fake"

    # A second run reuses the recorded model and re-encodes nothing.
    assert fake_model(["--library", lib, "index", str(folder), "-q"]) == 0
    assert "0 added, 4 unchanged or reused" in capsys.readouterr().out
    assert all(spec.name == "fake" for spec, _ in fake_model.made)


def test_bad_input_exits_2(tmp_path, folder, fake_model, capsys):
    lib = str(tmp_path / "lib")
    assert fake_model(["--library", lib, "query", "red"]) == 2  # no library yet
    assert "no library" in capsys.readouterr().err
    assert fake_model(["--library", lib, "index", str(tmp_path / "missing"), "--model", "fake"]) == 2
    assert fake_model(["--library", lib, "index", str(folder), "--model", "fake", "-q"]) == 0
    assert fake_model(["--library", lib, "index", str(folder), "--model", "pmc-clip"]) == 2  # model is fixed
    capsys.readouterr()
    assert fake_model(["--library", lib, "query"]) == 2  # nothing to search for
    assert fake_model(["--library", lib, "query", "", "--json"]) == 0  # an empty text: answered, not refused
    (verdict,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert verdict["verdict"] == "none" and verdict["total"] == 0 and "empty" in verdict["message"]
    assert fake_model(["--library", lib, "query", "--image", str(tmp_path / "nope.png")]) == 2
    assert fake_model(["--library", lib, "query", "red", "--collection", "no-such"]) == 2


def test_query_filters_and_paging(tmp_path, folder, fake_model, capsys):
    lib = str(tmp_path / "lib")
    assert fake_model(["--library", lib, "index", str(folder), "--model", "fake", "-q"]) == 0
    capsys.readouterr()
    assert fake_model(["--library", lib, "query", "red", "-k", "1", "--offset", "1", "--json", "--no-keywords"]) == 0
    _, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert second["rank"] == 2 and "red" in second["path"]
    assert fake_model(["--library", lib, "query", "red", "--json", "--min-score", "-1000"]) == 0
    verdict, *everything = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(everything) == 4 and verdict["total"] == 4  # a low minimum on the shown scale lists every figure
    cut = (everything[1]["score"] + everything[2]["score"]) / 2
    assert fake_model(["--library", lib, "query", "red", "--json", "--min-score", str(cut)]) == 0
    _, *kept = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in kept] == [r["id"] for r in everything[:2]]
    assert fake_model(["--library", lib, "query", "red", "--json", "--min-score", "999"]) == 0
    (verdict,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert verdict["total"] == 0  # the minimum can empty the list
    assert fake_model(["--library", lib, "query", "red", "--json", "--year-min", "2000"]) == 0
    (verdict,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # folder images have no year
    assert verdict["total"] == 0 and verdict["best_score"] is None


def test_real_tiny_model_end_to_end(tmp_path, folder, capsys):
    """The default model factory: a tiny real-architecture PMC-CLIP exported as a model folder."""
    from engine.models import save_model_dir
    from engine.models.transforms import PreprocessConfig
    from tests.engine.models.tiny_models import tiny_model, tiny_vocab

    model_dir = save_model_dir(tiny_model(), tiny_vocab(tmp_path / "vocab"), tmp_path / "model", PreprocessConfig(64))
    lib = str(tmp_path / "lib")
    model = f"local-dir:{model_dir}"
    assert main(["--library", lib, "index", str(folder), "--model", model, "--device", "cpu", "-q"]) == 0
    assert "4 added" in capsys.readouterr().out
    assert main(["--library", lib, "query", "chest x-ray", "-k", "3", "--json", "--device", "cpu"]) == 0
    _, *results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(results) <= 3 and all(-1.0 <= r["similarity"] <= 1.0 for r in results)
    # classified zero-shot with the library's own model: a label, or "unclassified" with its best probability
    assert results and all(r["modality_confidence"] is not None for r in results)
    assert all(r["modality"] is None or r["modality_confidence"] >= MIN_CONFIDENCE for r in results)
    assert main(["--library", lib, "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model"]["name"] == model and info["model_id"].startswith("local-dir:") and info["dim"] == 32
    assert info["device"] and info["device_reason"]


def test_remove_takes_a_collection_out_of_results(tmp_path, folder, fake_model, capsys):
    lib = str(tmp_path / "lib")
    assert fake_model(["--library", lib, "index", str(folder), "--model", "fake", "-q"]) == 0
    capsys.readouterr()
    assert fake_model(["--library", lib, "remove", "no-such-collection"]) == 2
    assert fake_model(["--library", lib, "remove", folder.name]) == 0
    assert f"removed [1] {folder.name}" in capsys.readouterr().out
    assert fake_model(["--library", lib, "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["figures"] == 0 and info["collections"] == [] and info["index_size"] == 0


def test_several_paths_become_one_named_collection(tmp_path, folder, fake_model, capsys):
    lib = str(tmp_path / "lib")
    other = tmp_path / "more"
    other.mkdir()
    solid_image("white", speckle=9).save(other / "red0.png")  # the same file name as in `folder`
    argv = ["--library", lib, "index", str(folder), str(other), "--collection-name", "Ward 3 scans", "-q"]
    assert fake_model(argv + ["--model", "fake"]) == 0
    assert "Ward 3 scans: 5 added" in capsys.readouterr().out
    assert fake_model(["--library", lib, "info"]) == 0
    out = capsys.readouterr().out
    assert "figures:     5 in 1 collection(s)" in out and "Ward 3 scans (folder): 5 figures from 2 sources" in out
