"""packaging/linux/install.sh puts the app into the user's menu (a .desktop file + icons) and takes it out again."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "packaging" / "linux" / "install.sh"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux menu installer")


@pytest.fixture
def bundle(tmp_path) -> Path:
    """An unpacked download as the user has it: the app folder with the script and template at the top."""
    folder = tmp_path / "Apps $HOME" / "PMC Figure Search"  # spaces and a $ that must not expand
    (folder / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(REPO / "resources" / "icons", folder / "_internal" / "resources" / "icons")
    (folder / "pmc-search").write_text("#!/bin/sh\necho started\n")
    (folder / "pmc-search").chmod(0o755)
    for name in ("install.sh", "pmc-figure-search.desktop"):
        shutil.copy2(REPO / "packaging" / "linux" / name, folder / name)
    return folder


def _run(script: Path, *args: str, data: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data.parent), "XDG_DATA_HOME": str(data)}
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=60)


def test_install_writes_a_valid_menu_entry_that_starts_the_bundle(bundle, tmp_path):
    data = tmp_path / "share"
    result = _run(bundle / "install.sh", data=data)
    assert result.returncode == 0, result.stderr
    desktop = data / "applications" / "pmc-figure-search.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(desktop)
    section = entry["Desktop Entry"]
    exe = bundle / "pmc-search"
    assert section["Exec"] == '"' + str(exe).replace("$", "\\$") + '"'
    assert section["TryExec"] == str(exe)
    assert section["Icon"] == "pmc-figure-search" and section["Name"] == "PMC Figure Search"
    for size in (16, 48, 256, 512):
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "pmc-figure-search.png"
        assert icon.read_bytes() == (REPO / "resources" / "icons" / f"pmc-figure-search-{size}.png").read_bytes()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    # What a menu does with Exec: unquote (the desktop-entry rules) and run it.
    argv = ["sh", "-c", 'eval "exec $1"', "sh", section["Exec"]]
    assert subprocess.run(argv, capture_output=True, text=True).stdout == "started\n"

    assert _run(bundle / "install.sh", "--uninstall", data=data).returncode == 0
    assert not desktop.exists()
    assert not list((data / "icons").rglob("pmc-figure-search.png"))


def test_install_from_a_checkout_takes_the_bundle_folder_as_argument(bundle, tmp_path):
    data = tmp_path / "share"
    assert _run(INSTALL, str(bundle), data=data).returncode == 0
    assert (data / "applications" / "pmc-figure-search.desktop").is_file()


def test_install_refuses_a_folder_without_the_app(tmp_path):
    result = _run(INSTALL, str(tmp_path), data=tmp_path / "share")
    assert result.returncode == 2 and "no executable pmc-search" in result.stderr
