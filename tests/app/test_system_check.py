"""`make run` names the missing system packages before Qt aborts with "Could not load the Qt platform plugin"."""

import re
from pathlib import Path

from app import system_check


def test_missing_xcb_libraries_are_named_with_their_packages(capsys):
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"}
    code = system_check.main(environ={}, present=lambda soname: soname not in absent)
    err = capsys.readouterr().err
    assert code == 1
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err


def test_nothing_missing_passes_and_offscreen_needs_no_xcb(capsys):
    assert system_check.main(environ={}, present=lambda soname: True) == 0
    no_x11 = lambda soname: "xcb" not in soname and "X11" not in soname  # noqa: E731
    assert system_check.main(environ={"QT_QPA_PLATFORM": "offscreen"}, present=no_x11) == 0
    assert system_check.main(environ={}, present=no_x11) == 1
    assert capsys.readouterr().err.count("libxcb-icccm4") == 2  # named, and in the install line


def test_the_readme_lists_every_package_the_check_knows():
    readme = Path(__file__).resolve().parents[2] / "README.md"
    block = re.search(r"sudo apt-get install (.*?)```", readme.read_text(encoding="utf-8"), re.DOTALL).group(1)
    listed = set(block.replace("\\", " ").split())
    known = set(system_check.QT_LIBRARIES.values()) | set(system_check.XCB_LIBRARIES.values())
    assert listed == known


def test_it_runs_without_the_project_installed():
    # `make run` calls it with the system python3 before .venv exists: standard library only.
    source = Path(system_check.__file__).read_text(encoding="utf-8")
    imports = re.findall(r"^(?:from|import) (\w+)", source, flags=re.MULTILINE)
    assert set(imports) <= {"__future__", "ctypes", "os", "re", "shutil", "subprocess", "sys", "collections"}
