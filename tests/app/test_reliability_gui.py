"""Issue 15 in the window: a damaged library is offered the repair in a dialog; a read-only one says so."""

from __future__ import annotations

import pytest

from tests.engine.library.helpers import drain, new_library, write_images
from tests.engine.library.test_library_damage import read_only_view  # noqa: F401 - fixture
from tests.engine.library.test_repair import garble

pytestmark = pytest.mark.gui

COLOURS = ("red", "green", "blue", "yellow")


def _library(tmp_path, count=80):
    write_images(tmp_path / "src", {f"img{n:03}.png": COLOURS[n % 4] for n in range(count)})
    with new_library(tmp_path / "library") as library:
        drain(library.ingest(library.add_collection(tmp_path / "src").id))
    return tmp_path / "library"


def _window(qtbot, fake_model_controller):
    from app.ui.main_window import MainWindow

    window = MainWindow(fake_model_controller())
    qtbot.addWidget(window)
    window.show()
    return window


def test_a_damaged_library_is_repaired_from_the_dialog_and_opens(qtbot, tmp_path, fake_model_controller):
    folder = _library(tmp_path)
    garble(folder / "catalog.sqlite", "figures")
    window = _window(qtbot, fake_model_controller)
    window.controller.open_library(folder, window.settings.model_spec)
    qtbot.waitUntil(lambda: window.actions.repair_dialog is not None, timeout=10_000)
    dialog = window.actions.repair_dialog
    assert "check --repair" in dialog.message.text() and "damaged" in dialog.message.text()
    with qtbot.waitSignal(window.controller.library_opened, timeout=30_000) as opened:
        dialog.repair_button.click()
    assert opened.args[0].figures == 80
    assert "Repaired" in dialog.message.text() and "salvaged:  figures" in dialog.report.toPlainText()
    dialog.close()


def test_a_library_on_read_only_media_opens_read_only_and_says_so(qtbot, tmp_path, fake_model_controller,
                                                                    read_only_view):  # noqa: F811
    folder = read_only_view(_library(tmp_path, count=8))
    window = _window(qtbot, fake_model_controller)
    with qtbot.waitSignal(window.controller.library_opened, timeout=10_000) as opened:
        window.controller.open_library(folder, window.settings.model_spec)
    assert opened.args[0].read_only and opened.args[0].figures == 8
    assert "(read-only)" in window.windowTitle() and "read-only" in window.notice.text
    assert not window.add_folder_action.isEnabled()
    with qtbot.waitSignal(window.controller.library_closed, timeout=10_000):
        window.controller.close_library()  # before the read-only mount goes
