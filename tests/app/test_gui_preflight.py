"""Start-up problems Qt cannot report itself — a missing system library, a platform plugin that does not load, no
display — become a readable message, in a dialog and in the log, instead of a silent exit or an abort."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import gui_preflight as gp

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or sys.platform != "linux", reason="needs gcc on Linux")


MISSING = "libpmc-test-missing.so.1"  # a name no system has, standing for e.g. libxcb-cursor.so.0


def _plugin_with_a_missing_library(folder: Path, missing: str = MISSING) -> Path:
    """A real shared library that needs `missing`: linked against a stub of it, and then the stub is deleted."""
    stub_dir = folder / "stub"
    stub_dir.mkdir()
    (folder / "empty.c").write_text("int stub_symbol(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,{missing}", "-o", str(stub_dir / missing),
                    str(folder / "empty.c")], check=True)
    (folder / "plugin.c").write_text("int stub_symbol(void); int plugin(void) { return stub_symbol(); }\n")
    plugin = folder / "libqbroken.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plugin), str(folder / "plugin.c"), "-Wl,--no-as-needed",
                    str(stub_dir / missing)], check=True)
    shutil.rmtree(stub_dir)
    return plugin


@needs_gcc
def test_a_plugin_missing_a_system_library_names_it_and_the_package_to_install(tmp_path, monkeypatch):
    plugin = _plugin_with_a_missing_library(tmp_path)
    monkeypatch.setattr(gp, "plugin_file", lambda name: plugin)
    monkeypatch.setitem(gp.DEBIAN_PACKAGES, MISSING, "libpmc-test-missing1")
    reason = gp.check_platform_plugin("broken", {})
    assert f"{MISSING}: cannot open shared object file" in reason
    assert "sudo apt install libpmc-test-missing1" in reason


@needs_gcc
def test_in_a_bundle_the_loaders_own_message_survives_pyinstallers_wrapper(tmp_path, monkeypatch):
    plugin = _plugin_with_a_missing_library(tmp_path)
    real_cdll = gp.ctypes.CDLL

    def pyinstaller_cdll(name, *args, **kwargs):  # what PyInstaller's pyimod03_ctypes does to ctypes.CDLL
        try:
            return real_cdll(name, *args, **kwargs)
        except OSError as base_error:
            message = f"Failed to load dynlib/dll {name!r}. Most likely this dynlib/dll was not found"
            raise OSError(message) from base_error

    monkeypatch.setattr(gp.ctypes, "CDLL", pyinstaller_cdll)
    monkeypatch.setattr(gp, "plugin_file", lambda name: plugin)
    assert f"{MISSING}: cannot open shared object file" in gp.check_platform_plugin("broken", {})


@needs_gcc
def test_preflight_falls_back_to_the_next_plugin_qt_would_try(tmp_path, monkeypatch):
    plugin = _plugin_with_a_missing_library(tmp_path)
    real_plugin_file = gp.plugin_file
    monkeypatch.setattr(gp, "plugin_file", lambda name: plugin if name == "broken" else real_plugin_file(name))
    environ = {"QT_QPA_PLATFORM": "broken;offscreen"}
    gp.preflight(environ)
    assert environ["QT_QPA_PLATFORM"] == "offscreen"  # pinned: Qt would abort on the broken one


def test_no_loadable_plugin_is_a_startup_problem_with_every_reason(monkeypatch):
    monkeypatch.setattr(gp, "check_platform_plugin", lambda name, environ: f"{name} cannot start")
    with pytest.raises(gp.StartupProblem, match="wayland cannot start xcb cannot start"):
        gp.choose_platform({"QT_QPA_PLATFORM": "wayland;xcb"})


def test_the_real_offscreen_plugin_loads():
    assert gp.check_platform_plugin("offscreen", {}) is None


def test_a_plugin_that_is_not_shipped_says_so():
    assert "not installed" in gp.check_platform_plugin("no-such-platform", {})


@pytest.mark.skipif(sys.platform != "linux", reason="X11")
def test_xcb_without_a_display_says_to_start_from_a_desktop(monkeypatch):
    monkeypatch.setattr(gp.ctypes, "CDLL", lambda path: None)  # pretend the plugin's libraries are all there
    assert "No graphical display" in gp.check_platform_plugin("xcb", {})


def test_which_plugins_qt_tries():
    assert gp.platform_candidates({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert gp.platform_candidates({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == ["vnc"]
    if sys.platform == "linux":
        assert gp.platform_candidates({}) == ["xcb"]
        assert gp.platform_candidates({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}) == [
            "wayland", "xcb"]


def test_a_missing_qt_library_at_import_gets_the_package_hint():
    message = "libEGL.so.1: cannot open shared object file: No such file or directory"
    assert "sudo apt install libegl1" in gp._library_hint(message)


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux dialog tools")
def test_the_error_dialog_uses_the_desktops_dialog_tool(tmp_path, monkeypatch):
    record = tmp_path / "zenity-args"
    fake = tmp_path / "bin" / "zenity"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setenv("DISPLAY", ":0")
    assert gp.show_error_dialog("Title here", "Qt did not load: libEGL.so.1 is missing")
    args = record.read_text().splitlines()
    assert "--error" in args and "--title=Title here" in args
    assert "--text=Qt did not load: libEGL.so.1 is missing" in args


def test_no_dialog_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform == "linux":
        assert gp.show_error_dialog("t", "x") is False


def test_pmc_search_reports_a_startup_problem_with_the_log_path_and_exit_1(monkeypatch, capsys, isolated_home):
    from app import cli

    shown = []

    def broken(environ=None):
        raise gp.StartupProblem('Qt\'s platform plugin "xcb" did not load: libxcb-cursor.so.0: cannot open')

    monkeypatch.setattr(gp, "preflight", broken)
    monkeypatch.setattr(gp, "show_error_dialog", lambda title, text: shown.append((title, text)) or True)
    monkeypatch.setattr(cli, "configure_logging", lambda *a, **k: isolated_home / "logs" / "pmc-search.log")
    assert cli.main([]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "cannot start" in err and "libxcb-cursor.so.0" in err
    assert shown and shown[0][0] == gp.TITLE and str(isolated_home / "logs" / "pmc-search.log") in shown[0][1]
    shown.clear()
    assert cli.main(["--selftest"]) == cli.EXIT_INTERNAL  # headless: the message, but no dialog
    assert not shown


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux dialog tools")
def test_xmessage_gets_the_text_wrapped_because_it_cannot_wrap_itself(tmp_path, monkeypatch):
    record = tmp_path / "xmessage-args"
    fake = tmp_path / "bin" / "xmessage"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s" "$2" > "{record}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))  # no zenity, no kdialog
    monkeypatch.setenv("DISPLAY", ":0")
    long_reason = "Qt's platform plugin \"xcb\" did not load: " + "libxcb-icccm.so.4: cannot open shared object " * 4
    log = "/home/someone/.local/state/pmc-figure-search/log/pmc-search.log"
    assert gp.show_error_dialog(gp.TITLE, long_reason + f"\n\nDetails are in the log file {log}")
    lines = record.read_text().splitlines()
    assert lines[0] == gp.TITLE and max(len(line) for line in lines) <= 88
    assert log in lines[-1]  # a path is never broken at its hyphens
