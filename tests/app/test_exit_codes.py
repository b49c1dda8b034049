"""Issue 15, item 8 and must-do 4: what the user can fix gives exit 2 and one plain sentence (with the log file's
path); only our own bugs give exit 1. Each case of the issue, as it was found."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from app.cli import main
from tests.app.test_cli_library import FakeModelCli, restore_logging  # noqa: F401 - fixture
from tests.engine.library.test_library_damage import read_only_view  # noqa: F401 - fixture
from tests.engine.library.test_repair import garble
from tests.fakes import solid_image

DEMO = str(Path(__file__).resolve().parents[2] / "resources" / "demo-model")


@pytest.fixture
def cli():
    return FakeModelCli()


@pytest.fixture
def library(tmp_path, cli):
    src = tmp_path / "src"
    src.mkdir()
    for n, colour in enumerate(("red", "green", "blue", "yellow") * 10):
        solid_image(colour, speckle=n + 1).save(src / f"{colour}{n}.png")
    lib = tmp_path / "lib"
    assert cli(["--library", str(lib), "index", str(src), "--model", "fake", "-q"]) == 0
    return lib


def _refused(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("pmc-search") or "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "details:" in lines[0] and "pmc-search.log" in lines[0], err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--year-min", "99999999999999999999"], "between 0 and 9999"),
        (["-k", "10000000000000000000"], "between 1 and 10000"),
        (["--offset", "10000000000000000000"], "between 0 and 1000000"),
        (["--term-weight", "nan", "--plus", "mri"], "between 0.0 and 100.0, not 'nan'"),
        (["-k", "-1"], "between 1 and 10000"),
        (["--offset", "-5"], "between 0 and 1000000"),
        (["--min-score", "inf"], "between -1000.0 and 1000.0, not 'inf'"),
    ],
)
def test_out_of_range_query_options_exit_2(library, cli, capsys, argv, said):
    capsys.readouterr()
    assert cli(["--library", str(library), "query", "red", *argv]) == 2
    assert said in capsys.readouterr().err


def test_a_query_with_undecodable_bytes_is_searched(library, cli, capsys):
    capsys.readouterr()
    assert cli(["--library", str(library), "query", os.fsdecode(b"red \xff\xfe"), "--json"]) == 0
    verdict, *results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert verdict["verdict"] == "strong" and "red" in verdict["message"]  # the bytes became U+FFFD, "red" counts
    assert len(results) == 10 and results[0]["path"].rsplit("/", 1)[1].startswith("red")


def test_query_image_that_is_a_folder_or_a_fifo_says_what_it_is(library, cli, capsys, tmp_path):
    assert cli(["--library", str(library), "query", "--image", str(tmp_path)]) == 2
    _refused(capsys, "is a folder")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "q.png")
        assert cli(["--library", str(library), "query", "--image", str(tmp_path / "q.png")]) == 2
        _refused(capsys, "FIFO")


def test_a_full_disk_exits_2_with_a_plain_sentence(library, cli, capsys, monkeypatch, tmp_path):
    from engine.index import hnsw

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(library / "index.hnsw"))

    monkeypatch.setattr(hnsw.VectorIndex, "save", full)
    (tmp_path / "src" / "new.png").write_bytes((tmp_path / "src" / "red0.png").read_bytes() + b"\0")
    capsys.readouterr()
    assert cli(["--library", str(library), "index", str(tmp_path / "src"), "-q"]) == 2
    _refused(capsys, "the disk is full")


def test_sqlite_disk_full_exits_2(library, cli, capsys, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from engine.library import library as library_module

    def full(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(library_module.Library, "add_collection", full)
    capsys.readouterr()
    assert cli(["--library", str(library), "index", str(library.parent / "src"), "-q"]) == 2
    _refused(capsys, "the disk is full")


def test_a_read_only_library_folder_refuses_index_and_answers_query(library, cli, capsys, read_only_view):  # noqa: F811
    view = read_only_view(library)
    capsys.readouterr()
    assert cli(["--library", str(view), "index", str(library.parent / "src"), "-q"]) == 2
    _refused(capsys, "read-only folder")
    assert cli(["--library", str(view), "query", "red", "-k", "3", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3  # the verdict, then the results


def test_damaged_and_unfinished_libraries_exit_2_with_the_way_out(library, cli, capsys, tmp_path):
    garble(library / "catalog.sqlite", "figures", pages=1)
    capsys.readouterr()
    assert cli(["--library", str(library), "query", "red"]) == 2
    _refused(capsys, "damaged", "check --repair")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "catalog.sqlite").write_bytes(b"")
    assert cli(["--library", str(unfinished), "info"]) == 2
    _refused(capsys, "never finished", "index FOLDER")
    assert cli(["--library", str(library), "check"]) == 2
    assert "check --repair" in capsys.readouterr().out
    assert cli(["--library", str(library), "check", "--repair"]) == 0
    assert "repaired" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- bad model files
def _demo_copy(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(DEMO, folder)
    return folder


def _index_with(tmp_path, cli_argv, capsys):
    src = tmp_path / "imgs"
    src.mkdir(exist_ok=True)
    solid_image("red").save(src / "a.png")
    capsys.readouterr()
    return main(["--library", str(tmp_path / "newlib"), "index", str(src), "-q", "--device", "cpu", *cli_argv])


@pytest.mark.parametrize(("value", "said"), [("128", "must be a whole number"), (10**9, "between 1 and 16384")])
def test_a_model_config_with_a_bad_embed_dim_exits_2(tmp_path, capsys, value, said):
    folder = _demo_copy(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model_config"]["embed_dim"] = value
    (folder / "config.json").write_text(json.dumps(config))
    assert _index_with(tmp_path, ["--model", f"local-dir:{folder}"], capsys) == 2
    _refused(capsys, "embed_dim", said)


def test_a_pickle_named_safetensors_exits_2(tmp_path, capsys):
    folder = _demo_copy(tmp_path)
    with open(folder / "model.safetensors", "wb") as handle:
        pickle.dump({"not": "tensors"}, handle)
    assert _index_with(tmp_path, ["--model", f"local-dir:{folder}"], capsys) == 2
    _refused(capsys, "model.safetensors", "not a readable safetensors file")


def test_weights_of_the_wrong_shape_are_refused_not_ignored(tmp_path, capsys):
    from engine.models.model_dir import load_model_dir

    model, _, _ = load_model_dir(DEMO)
    state = {k: torch.zeros(*(s + 1 for s in v.shape)) if v.dim() else v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "wrong.pt")
    assert _index_with(tmp_path, ["--model", f"local-dir:{DEMO}", "--weights", str(tmp_path / "wrong.pt")], capsys) == 2
    _refused(capsys, "does not match the model's shapes")
    assert not (tmp_path / "newlib" / "catalog.sqlite").exists()  # nothing recorded as the library's weights


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_refused_pickle_on_the_open_clip_path_is_unsafe_not_a_download_error(tmp_path, capsys):
    torch.save({"state_dict": {"w": torch.ones(1)}, "x": _Payload()}, tmp_path / "evil.pt")
    code = _index_with(tmp_path, ["--model", "open_clip:RN50", "--weights", str(tmp_path / "evil.pt")], capsys)
    assert code == 2
    line = _refused(capsys, "refusing to load", "posix.system")
    assert "weights_only=False" not in line and "download" not in line.lower()


def test_only_a_real_bug_exits_1_and_says_where_the_traceback_is(library, cli, capsys, monkeypatch):
    from engine.library import library as library_module

    def bug(self):
        return 1 / 0

    monkeypatch.setattr(library_module.Library, "info", bug)
    capsys.readouterr()
    assert cli(["--library", str(library), "info"]) == 1
    err = capsys.readouterr().err
    assert "internal error (a bug" in err and "ZeroDivisionError" in err and "pmc-search.log" in err
    assert "Traceback" not in err
