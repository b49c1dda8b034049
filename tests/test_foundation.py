import subprocess
import sys
from pathlib import Path

import pytest

from engine import paths

REPO = Path(__file__).resolve().parent.parent


def test_data_and_cache_dirs_follow_pmc_search_home(isolated_home):
    assert paths.data_dir() == isolated_home / "data"
    assert paths.cache_dir() == isolated_home / "cache"
    assert paths.data_dir().is_dir() and paths.cache_dir().is_dir()


def test_resource_path_points_into_resources():
    assert paths.resource_path("x.png") == REPO / "resources" / "x.png"


@pytest.mark.parametrize("module, prog", [("app", "pmc-search"), ("trainer", "pmc-trainer")])
def test_version_flag(module, prog):
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(prog + " ")


def test_trainer_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "trainer", "--help"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0
    assert "usage: pmc-trainer" in out.stdout


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
