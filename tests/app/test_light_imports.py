"""Cheap things stay cheap: `--help`/`--version` and the download code never load the model stack or Qt."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "open_clip", "PySide6", "sqlalchemy", "hnswlib")


def _modules_loaded_by(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if '.' not in m)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_building_the_cli_parser_loads_no_model_stack_qt_or_database():
    loaded = _modules_loaded_by("from app.cli import build_parser; build_parser().format_help()")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("module", ["engine.hub", "engine.fileio", "engine.paths", "engine.types"])
def test_low_level_engine_modules_need_no_torch(module):
    assert "torch" not in _modules_loaded_by(f"import {module}")


def test_version_answers_without_importing_the_app(capsys):
    from app.cli import main

    assert main(["--version"]) == 0  # argparse's exit is returned as the exit code, never raised
    assert capsys.readouterr().out.startswith("pmc-search ")
