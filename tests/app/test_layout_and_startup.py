"""Layout at small and large sizes, elided status texts, a title without repeats, a window that needs none of the
model stack to appear, and a GUI suite that fails any test in which an exception escapes a Qt event handler."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def _columns(window) -> int:
    return window.grid.viewport().width() // (window.grid.gridSize().width() or 1)


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_the_grid_keeps_two_columns_with_the_detail_open(make_window, qtbot, size):
    window, _ = make_window()
    window.resize(*size)
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    window.open_detail()
    qtbot.wait(50)
    assert window.detail.isVisible() and window.detail.width() >= 340
    assert _columns(window) >= 2
    window.close_detail()
    qtbot.wait(50)
    assert window.left_panel.isVisible()  # the library panel is back once the detail closes


def test_status_texts_are_elided_not_pushed_out(make_window, qtbot):
    window, _ = make_window()
    window.resize(1024, 700)
    long_message = "Opening library " + "/very/long/folder/name" * 12 + " …"
    window.statusBar().showMessage(long_message)
    window.library_label.setText("Library: " + "/a/deeply/nested/clinical/share" * 8)
    qtbot.wait(50)
    bar = window.statusBar()
    for label in (bar.message_label, window.library_label, window.device_label):
        assert label.isVisible() and label.geometry().right() <= bar.width()
    assert bar.message_label.text().endswith("…") and bar.currentMessage() == long_message
    assert "…" in window.library_label.text() and window.library_label.toolTip().startswith("Library: /a/")


def test_the_window_title_names_the_library_once_and_the_product_once(make_window, qtbot):
    from PySide6.QtWidgets import QApplication

    from app.gui_main import create_application

    window, _ = make_window()
    create_application()  # sets the display name that Qt appends to titles that do not end with it
    display = QApplication.applicationDisplayName()
    title = window.windowTitle()
    shown = title if title.endswith(display) else f"{title} — {display}"
    assert shown == "library — PMC Figure Search"


def test_the_window_appears_without_the_model_stack_or_the_database():
    probe = textwrap.dedent("""
        import json, os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from app.gui_main import build_window, create_application
        app = create_application()
        window = build_window(None, open_library=False)
        window.show()
        app.processEvents()
        print(json.dumps(sorted(m for m in sys.modules if "." not in m)))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                              "PMC_SEARCH_HOME": str(ROOT / ".pytest-home-unused")}).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    heavy = {"torch", "transformers", "open_clip", "sqlalchemy", "hnswlib", "superqt", "numpy", "pydicom"} & loaded
    assert not heavy, f"the window waited for {sorted(heavy)}"


ESCAPING = '''
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication


def test_an_exception_escaping_an_event_filter(qtbot):
    from app.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.clear_query = lambda: 1 / 0  # a bug in what Esc in the search field does
    event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)
    QApplication.postEvent(window.search_field, event)  # delivered by the event loop, as a real key press is
    qtbot.wait(100)
'''


def test_an_exception_escaping_an_event_handler_fails_the_gui_test(tmp_path):
    test_file = tmp_path / "test_escape.py"
    test_file.write_text(ESCAPING, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.app.conftest", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(test_file)],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "ZeroDivisionError" in done.stdout and "1 failed" in done.stdout


def test_the_exception_capture_cannot_be_switched_off():
    from types import SimpleNamespace

    from tests.app import conftest

    config = SimpleNamespace(getini=lambda name: name == "qt_no_exception_capture")
    with pytest.raises(pytest.UsageError):
        conftest.pytest_configure(config)
