"""`--version` and the About box: the version and the commit, from git in a checkout and baked into a bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import build_info as bi

REPO = Path(__file__).resolve().parents[2]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(autouse=True)
def fresh_build_info():
    bi.build_info.cache_clear()
    yield
    bi.build_info.cache_clear()


@needs_git
def test_a_checkout_reports_its_commit_and_says_dirty_after_an_edit(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "--short=12", "HEAD")
    assert bi.git_commit(tmp_path) == head
    (tmp_path / "untracked.txt").write_text("new files do not count\n")
    assert bi.git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n")
    assert bi.git_commit(tmp_path) == f"{head}-dirty"


def test_a_folder_without_git_history_says_unknown(tmp_path):
    assert bi.git_commit(tmp_path) == bi.UNKNOWN


def test_a_bundle_reads_what_was_baked_in_and_never_asks_git(tmp_path, monkeypatch):
    baked = bi.BuildInfo(version="9.8.7", commit="0123456789ab", variant="cpu")
    bi.write_build_info(tmp_path / "resources" / bi.BUILD_INFO_FILE, baked)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(bi, "git_commit", lambda root: pytest.fail("a bundle must not run git"))
    assert bi.build_info() == baked
    assert bi.describe() == "9.8.7 (commit 0123456789ab, cpu build)"


def test_a_bundle_without_build_info_says_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert bi.build_info().commit == bi.UNKNOWN


@needs_git
def test_version_option_prints_version_and_the_checkout_commit():
    from engine import __version__

    out = subprocess.run(
        [sys.executable, "-m", "app", "--version"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    head = _git(REPO, "rev-parse", "--short=12", "HEAD")
    assert out.stdout.startswith(f"pmc-search {__version__} (commit {head}")
    assert out.stdout.rstrip().endswith("source build)")


@pytest.mark.gui
def test_about_dialog_shows_version_commit_and_the_log_folder(qtbot, monkeypatch):
    from app.ui import about_dialog
    from engine import paths

    monkeypatch.setattr(about_dialog, "build_info", lambda: bi.BuildInfo("1.2.3", "feedfacecafe", "cuda"))
    dialog = about_dialog.AboutDialog("PMC Figure Search")
    qtbot.addWidget(dialog)
    text = dialog.text.text()
    assert "1.2.3" in text and "feedfacecafe" in text and "cuda" in text
    assert str(paths.log_dir()) in text
