import pytest
from PySide6.QtWidgets import QMessageBox

from app.settings import AppSettings, load_settings, load_window_state, save_settings

pytestmark = pytest.mark.gui


def test_settings_round_trip_in_the_tmp_home(isolated_home):
    saved = AppSettings(model_name="biomedclip", weights="/w/ckpt.pt", device="cuda:1", library_path="/libs/a",
                        offline=True)
    save_settings(saved)
    assert load_settings() == saved
    assert list((isolated_home / "data" / "settings").rglob("*.ini"))  # never the user's real settings
    save_settings(AppSettings())
    assert load_settings() == AppSettings()


def test_window_geometry_is_remembered(make_window, qtbot):
    window, _ = make_window(open_library=False)
    window.resize(701, 501)  # inside the offscreen screen: restoreGeometry clamps to it
    window.close()
    geometry, _state = load_window_state()
    assert geometry is not None
    from app.ui.main_window import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    again.restoreGeometry(geometry)
    assert (again.width(), again.height()) == (701, 501)


def test_a_library_held_by_another_instance_is_refused_then_opened_read_only(make_window, qtbot, tmp_path):
    from tests.app.fake_library import FakeLibrary

    window, opener = make_window(open_library=False)
    locked = tmp_path / "library"
    FakeLibrary.locked_paths.add(str(locked))
    try:
        window.controller.open_library(locked, window.settings.model_spec)
        qtbot.waitUntil(lambda: getattr(window, "locked_box", None) is not None, timeout=3000)
        assert opener.opened == []  # refused: nothing was opened for writing
        assert "open in another" in window.notice.text
        box = window.locked_box
        read_only = next(b for b in box.buttons() if b.text() == "Open read-only")
        with qtbot.waitSignal(window.controller.library_opened, timeout=3000):
            read_only.click()
        assert opener.opened[0].read_only
        assert not window.add_folder_action.isEnabled() and not window.import_pmc_action.isEnabled()
        assert "read-only" in window.notice.text
    finally:
        FakeLibrary.locked_paths.discard(str(locked))
        if getattr(window, "locked_box", None) is not None:
            window.locked_box.done(QMessageBox.StandardButton.Cancel)


def test_offline_model_gives_a_clear_explanation(qtbot, tmp_path):
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow
    from engine.errors import OfflineError

    def opener(*args, **kwargs):
        raise OfflineError("text_encoder.pth is not in /cache/pmc_oa and downloads are off")

    window = MainWindow(AppController(opener))
    qtbot.addWidget(window)
    window.show()
    window.controller.open_library(tmp_path / "lib", window.settings.model_spec)
    qtbot.waitUntil(window.notice.isVisible, timeout=3000)
    text = window.notice.text
    assert "text_encoder.pth" in text and "pmc-search download" in text and "Local checkpoint" in text
    assert window.pages.currentIndex() == 0  # back to the empty state, not stuck on "Opening the library…"


def test_model_download_progress_shows_a_dialog(make_window, qtbot):
    from types import SimpleNamespace

    window, _ = make_window(open_library=False)
    window.controller.model_progress.emit(SimpleNamespace(filename="text_encoder.pth", done_bytes=50_000_000,
                                                          total_bytes=200_000_000, rate_bps=5e6, eta_seconds=30))
    dialog = window._download_dialog
    assert dialog.value() == 250 and "50 of 200 MB · 5.0 MB/s · about 30 s left" in dialog.labelText()
    window._close_download_dialog()


def test_status_bar_shows_the_device_and_its_reason(make_window):
    window, _ = make_window()
    assert window.device_label.text() == "Device: cpu — test: no GPU in this test"
    assert "library" in window.library_label.text().lower()
