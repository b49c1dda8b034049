from pathlib import Path

import pytest
from PySide6.QtCore import Qt
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
        qtbot.waitUntil(lambda: window.actions.locked_box is not None, timeout=3000)
        assert opener.opened == []  # refused: nothing was opened for writing
        assert "open in another" in window.notice.text
        box = window.actions.locked_box
        read_only = next(b for b in box.buttons() if b.text() == "Open read-only")
        with qtbot.waitSignal(window.controller.library_opened, timeout=3000):
            read_only.click()
        assert opener.opened[0].read_only
        assert not window.add_folder_action.isEnabled() and not window.import_pmc_action.isEnabled()
        assert "read-only" in window.notice.text
    finally:
        FakeLibrary.locked_paths.discard(str(locked))
        if window.actions.locked_box is not None:
            window.actions.locked_box.done(QMessageBox.StandardButton.Cancel)


def test_a_missing_model_offers_download_checkpoint_or_demo_in_plain_words(qtbot, tmp_path):
    from app.ui.app_controller import AppController
    from app.ui.main_window import PAGE_EMPTY, MainWindow
    from engine.errors import DownloadError, OfflineError

    errors = [OfflineError("text_encoder.pth is not in /cache/pmc_oa; set HF_ENDPOINT or unset HF_HUB_OFFLINE"),
              DownloadError("cannot reach huggingface.co (set HF_ENDPOINT to use a mirror)")]

    def opener(*args, **kwargs):
        raise errors.pop(0)

    window = MainWindow(AppController(opener))
    qtbot.addWidget(window)
    window.show()
    for _ in range(2):  # offline, and online without a connection
        window.add_sources([tmp_path], "folder")  # "Add folder…" on a fresh library
        qtbot.waitUntil(window.notice.isVisible, timeout=3000)
        text = window.notice.text
        assert "not on this computer" in text or "could not be downloaded" in text
        assert "HF_" not in text and "environment" not in text and "pmc-search" not in text  # nothing to type
        assert "text_encoder.pth" in window.notice.details or "huggingface.co" in window.notice.details
        buttons = [b.text() for b in window.notice.action_buttons()]
        assert buttons == ["Download PMC-CLIP (≈590 MB)", "Use a local checkpoint…", "Use the demo model"]
        assert window.pages.currentIndex() == PAGE_EMPTY  # not stuck on "Opening the library…"
        assert window.statusBar().currentMessage() == "Ready"
        window.notice.hide()


def test_model_download_progress_shows_a_dialog(make_window, qtbot):
    from types import SimpleNamespace

    window, _ = make_window(open_library=False)
    window.controller.model_progress.emit(SimpleNamespace(filename="text_encoder.pth", done_bytes=50_000_000,
                                                          total_bytes=200_000_000, rate_bps=5e6, eta_seconds=30))
    dialog = window._download_dialog
    assert dialog.value() == 250 and "50 of 200 MB · 5.0 MB/s · about 30 s left" in dialog.labelText()
    window._close_download_dialog()


def test_closing_waits_for_indexing_and_saving_in_a_worker_never_on_the_gui_thread(make_window, qtbot, tmp_path):
    """Close mid-ingest with a library whose close (index save) takes 0.6 s: the event loop keeps running."""
    from tests.app.event_loop_probe import EventLoopProbe
    from tests.app.fake_library import make_figures

    window, opener = make_window(batch_delay=0.2, batches=10)
    library = opener.opened[0]
    library.close_delay = 0.6
    source = tmp_path / "more"
    make_figures(source, 10)
    window.add_sources([source], "folder")
    # Mid-ingest: the library's ingest has begun (the worker starts it a step after `ingest_running`).
    qtbot.waitUntil(lambda: window.controller.ingest_running and bool(library.ingest_calls), timeout=3000)
    with EventLoopProbe(interval_ms=20) as probe:
        window.close()
        qtbot.waitUntil(lambda: window.shut_down, timeout=10_000)
    assert library.closed and not window.isVisible()
    assert len(library.ingest_calls) == 1 and not window.controller.ingest_running  # stopped, not left running
    assert max(probe.gaps) < 0.2, f"GUI thread blocked for {max(probe.gaps) * 1000:.0f} ms while closing"


def test_a_failed_switch_to_another_library_leaves_the_open_one_in_use(make_window, qtbot, tmp_path):
    from tests.app.fake_library import FakeLibrary

    window, opener = make_window()
    first = opener.opened[0]
    other = tmp_path / "held-elsewhere"
    FakeLibrary.locked_paths.add(str(other))
    try:
        with qtbot.waitSignal(window.controller.library_failed, timeout=3000):
            window.open_library(other)
        qtbot.waitUntil(lambda: window.library_info is not None and window.library_info.path == first.path)
        assert window.controller.library is first and not first.closed
        window.search_field.setText("histology")  # the old library still answers
        with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
            window.search_bar.submit_now()
        assert window.results_model.rowCount() > 0
    finally:
        FakeLibrary.locked_paths.discard(str(other))
        if window.actions.locked_box is not None:
            window.actions.locked_box.done(0)


def test_a_failed_settings_switch_keeps_the_library_and_the_saved_settings(make_window, qtbot, tmp_path):
    from app.settings import load_settings
    from engine.errors import OfflineError

    window, opener = make_window()
    first = opener.opened[0]
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    window.open_detail()
    before, saved_before = window.settings, load_settings()

    def failing(path, spec, **options):
        raise OfflineError("biomedclip's open_clip_pytorch_model.bin is not here and downloads are off")

    window.controller._opener = failing
    wanted = before.with_changes(library_path=str(tmp_path / "biomed"), device="cpu")
    with qtbot.waitSignal(window.controller.library_failed, timeout=3000):
        window.apply_settings(wanted)
    qtbot.waitUntil(lambda: window.library_info is not None and window.library_info.path == first.path)
    assert window.controller.library is first and not first.closed
    assert window.settings == before and load_settings() == saved_before  # the failed path is not remembered
    # One library everywhere: the panel, the centre, the status bar and the detail pane all show the old one.
    assert window.library_panel.collections.count() == len(first.collections())
    assert window.results_model.rowCount() > 0 and window.detail.isVisible()
    assert all(Path(r.image_path).parent == Path(first.collections()[0].source)
               for r in window.results_model.results())
    assert str(first.path) in window.library_label.full_text()
    assert window.statusBar().currentMessage() != "Opening library …"


def test_a_successful_switch_shows_nothing_of_the_previous_library(make_window, qtbot, tmp_path):
    from app.settings import load_settings

    window, opener = make_window()
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    window.open_detail()
    window.search_bar.clear()
    with qtbot.waitSignal(window.controller.library_opened, timeout=3000):
        window.apply_settings(window.settings.with_changes(library_path=str(tmp_path / "second")))
    assert not window.detail.isVisible() and window.results_model.rowCount() == 0
    assert window.windowTitle() == "second — PMC Figure Search"
    assert load_settings().library_path == str(tmp_path / "second")


def test_error_banners_are_plain_sentences_with_the_detail_behind_a_button(make_window, qtbot):
    from app.problems import describe_error
    from engine.errors import ImageDecodeError

    window, _ = make_window()
    window.controller.error.emit(describe_error(ImageDecodeError(
        "patient's scan.dcm: cannot decode DICOM pixel data in transfer syntax JPEG 2000 (1.2.840.10008.1.2.4.90)")))
    assert window.notice.text == "This DICOM image is compressed in a way this program cannot read yet."
    assert window.notice.label.textFormat() == Qt.TextFormat.PlainText  # a quote stays a quote, never &#x27;
    assert not window.notice.details_label.isVisible()
    window.notice.details_button.click()
    assert window.notice.details_label.isVisible() and "1.2.840.10008.1.2.4.90" in window.notice.details
    assert "patient's scan.dcm" in window.notice.details_label.text()

    window.controller.error.emit(describe_error(RuntimeError("list index out of range")))
    assert window.notice.text.startswith("Something went wrong inside the program")
    assert "RuntimeError" not in window.notice.text and "RuntimeError" in window.notice.details
