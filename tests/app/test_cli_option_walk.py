"""Issue 15, must-do 4: every option of every `pmc-search` command, fed out-of-range, NaN, infinite, huge, empty,
undecodable and wrongly typed values, ends in exit 0 or in exit 2 with one plain sentence — never a traceback,
never exit 1 (which is kept for our own bugs)."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pytest

from app.cli import build_parser
from tests.app.test_cli_library import FakeModelCli, restore_logging  # noqa: F401 - fixture
from tests.fakes import solid_image

HOSTILE = (
    "-1", "0", "nan", "inf", "-inf", "1e309", "99999999999999999999", "-99999999999999999999", "abc", "1.5",
    os.fsdecode(b"\xff\xfe"), "", "\x00", "../../../../etc/passwd", "-" * 3,
)
# `embed` loads a real (demo) model for every value that passes parsing: the default suite walks its options with
# these; the slow test walks them with all of HOSTILE.
FEW = ("nan", "99999999999999999999", os.fsdecode(b"\xff\xfe"), "\x00")
DEMO_MODEL = "local-dir:" + str(Path(__file__).resolve().parents[2] / "resources" / "demo-model")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _value_options(parser: argparse.ArgumentParser) -> list[str]:
    return [a.option_strings[-1] for a in parser._actions if a.option_strings and a.nargs != 0 and a.dest != "help"]


def _positionals(parser: argparse.ArgumentParser) -> list[str]:
    return [a.dest for a in parser._actions if not a.option_strings]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A library with one collection, a source folder, a texts file: what every command's baseline needs."""
    root = tmp_path_factory.mktemp("walk")
    src = root / "src"
    src.mkdir()
    for n, colour in enumerate(("red", "green", "blue")):
        solid_image(colour, speckle=n + 1).save(src / f"{colour}.png")
    (root / "texts.txt").write_text("a red figure\n")
    assert FakeModelCli()(["--library", str(root / "lib"), "index", str(src), "--model", "fake", "-q"]) == 0
    return root


def _baselines(world) -> dict[str, list[str]]:
    return {
        "index": [str(world / "src"), "--model", "fake", "-q"],
        "query": ["red"],
        "info": [],
        "remove": ["no-such-collection"],
        "check": [],
        "download": ["--model", "no-such-model"],  # never a real download in a test
        "embed-corpus": [str(world / "src"), "--out", str(world / "shards"), "--model", "fake", "--device", "cpu",
                         "-q"],
        "embed": ["--model", DEMO_MODEL, "--device", "cpu", "--texts-file", str(world / "texts.txt"),
                  "--out", str(world / "out.npz")],
    }


_POSITIONAL_REST = {"index": ("--model", "fake", "-q"), "embed-corpus": ("--out", "shards", "--model", "fake", "-q")}


def _cases(world, everything: bool):
    baselines = _baselines(world)
    commands = _subcommands()
    assert set(commands) == set(baselines), "a new command needs a baseline here"
    for name, parser in commands.items():
        for option in _value_options(parser):
            for value in HOSTILE if everything or name != "embed" else FEW:
                yield name, [*baselines[name], option, value]
        if _positionals(parser) and name in ("index", "query", "remove", "embed-corpus"):
            for value in HOSTILE:
                yield name, [value, *_POSITIONAL_REST.get(name, ())]
    for option in _value_options(build_parser()):
        if option in ("--library", "--screenshot"):
            for value in HOSTILE:
                yield "global", [option, value, "info"]


def _walk(world, tmp_path, capsys, everything: bool) -> int:
    run = FakeModelCli()
    failures = []
    count = 0
    for name, argv in _cases(world, everything):
        library = str(tmp_path / f"lib{count}") if name == "index" else str(world / "lib")
        full = argv if name == "global" else ["--library", library, name, *argv]
        code = run(full)
        out = capsys.readouterr()
        count += 1
        printed = out.out + out.err
        errors = [line for line in out.err.splitlines() if "error:" in line]
        if code not in (0, 2) or "Traceback" in printed or (code == 2 and len(errors) != 1):
            failures.append((full, code, out.err[-300:]))
        if name == "index":
            shutil.rmtree(library, ignore_errors=True)
    assert not failures, "\n".join(f"{argv!r} -> {code}: {err}" for argv, code, err in failures[:20])
    return count


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Relative hostile values ("nan", "abc" as --out) write their files here, never into the repository."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    yield tmp_path / "cwd"


def test_every_option_with_hostile_values_exits_0_or_2_with_a_sentence(world, tmp_path, capsys, in_tmp):
    assert _walk(world, tmp_path, capsys, everything=False) > 450


@pytest.mark.slow
def test_every_option_with_every_hostile_value_including_embed(world, tmp_path, capsys, in_tmp):
    assert _walk(world, tmp_path, capsys, everything=True) > 550
