"""The window over the real engine Library (catalog + index + ingestion) with the FakeEncoder from tests/fakes."""


import pytest
from PySide6.QtCore import QMimeData, QUrl

from tests.app.event_loop_probe import EventLoopProbe

pytestmark = pytest.mark.gui


@pytest.fixture
def colour_folder(tmp_path):
    from tests.fakes import solid_image

    folder = tmp_path / "colours"
    folder.mkdir()
    for i, colour in enumerate(["red", "green", "blue", "white"] * 3):
        solid_image(colour, speckle=i).save(folder / f"{colour}-{i}.png")
        (folder / f"{colour}-{i}.txt").write_text(f"A {colour} figure number {i}.")
    return folder


@pytest.fixture
def real_window(qtbot, tmp_path, fake_model_controller):
    from app.ui.main_window import MainWindow

    def build(delay: float = 0.0):
        window = MainWindow(fake_model_controller(delay))
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        with qtbot.waitSignal(window.controller.library_opened, timeout=10_000):
            window.controller.open_library(tmp_path / "library", window.settings.model_spec)
        return window

    return build


def test_index_a_folder_then_text_and_image_queries_find_the_right_figures(real_window, colour_folder, qtbot):
    window = real_window()
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=20_000) as done:
        window.add_sources([colour_folder], "folder")
    assert done.args[0].added == 12 and done.args[0].failed == 0
    qtbot.waitUntil(lambda: "12 figures" in window.library_panel.summary.text(), timeout=5000)

    window.search_field.setText("red")
    with qtbot.waitSignal(window.controller.results_ready, timeout=5000):
        window.search_bar.submit_now()
    top = [window.results_model.result_at(r).image_path.name for r in range(3)]
    assert all(name.startswith("red-") for name in top), top

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(colour_folder / "blue-2.png"))])
    window.search_field.clear()
    with qtbot.waitSignal(window.controller.results_ready, timeout=5000):
        window.accept_image_data(mime)
    top = [window.results_model.result_at(r).image_path.name for r in range(3)]
    assert all(name.startswith("blue-") for name in top), top  # blue copies differ only by a few speckles


def test_gui_never_blocks_200ms_while_the_real_library_indexes_with_a_slow_encoder(
    real_window, colour_folder, qtbot
):
    window = real_window(delay=0.05)  # 50 ms per image: ~0.6 s of "model" time in the worker
    probe = EventLoopProbe(interval_ms=20)
    probe.start()
    try:
        with qtbot.waitSignal(window.controller.ingest_finished, timeout=30_000):
            window.add_sources([colour_folder], "folder")
    finally:
        probe.stop()
    gaps = probe.gaps
    assert len(gaps) > 10
    assert max(gaps) < 0.2, f"GUI thread blocked for {max(gaps) * 1000:.0f} ms"


def test_status_bar_shows_the_open_librarys_device_and_why(real_window, tmp_path):
    """The device line comes from the real library's LibraryInfo (the encoder's choice and its reason)."""
    from tests.fakes import FakeEncoder

    window = real_window()
    assert window.device_label.text() == f"Device: cpu — {FakeEncoder().device_reason}"
    assert str(tmp_path / "library") in window.library_label.toolTip() + window.library_label.text()
