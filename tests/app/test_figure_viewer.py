"""The figure viewer: opened from the detail image, zoom (wheel, +/−, fit, 1:1), pan, full screen, previous/next,
and for DICOM window presets and a drag that changes the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


def _with_detail(make_window, qtbot):
    window, opener = make_window()
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    window.open_detail()
    return window, opener


def _open(window, qtbot):
    qtbot.mouseDClick(window.detail.image_label, Qt.MouseButton.LeftButton)
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer is not None and not viewer.view.item.pixmap().isNull(), timeout=5000)
    return viewer


def _wheel(view, steps: int) -> None:
    centre = QPointF(view.viewport().rect().center())
    event = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_double_click_or_enter_on_the_detail_image_opens_the_viewer(make_window, qtbot):
    window, _ = _with_detail(make_window, qtbot)
    viewer = _open(window, qtbot)
    assert viewer.isVisible() and viewer.caption.text().startswith("Figure 1")
    viewer.close()
    qtbot.waitUntil(lambda: window.viewer is None, timeout=3000)  # closed viewers are deleted and forgotten
    window.detail.image_label.setFocus()
    qtbot.keyClick(window.detail.image_label, Qt.Key.Key_Return)
    assert window.viewer is not None and window.viewer.isVisible()
    window.viewer.close()


def test_zoom_fit_one_to_one_and_the_wheel(make_window, qtbot):
    window, _ = _with_detail(make_window, qtbot)
    viewer = _open(window, qtbot)
    view = viewer.view
    fitted = view.scale_factor()
    assert view.fitted and fitted > 1  # the 64×48 test figure is enlarged to fit
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert view.scale_factor() == pytest.approx(fitted * 1.25)
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    assert view.scale_factor() == pytest.approx(fitted / 1.25)
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert view.scale_factor() == 1.0 and viewer.zoom_label.text() == "100%"
    _wheel(view, 2)
    assert view.scale_factor() == pytest.approx(1.25 ** 2)
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    assert view.scale_factor() == pytest.approx(fitted) and view.fitted
    assert view.dragMode() == view.DragMode.ScrollHandDrag  # a left drag pans
    viewer.close()


def test_previous_next_follow_the_results_and_the_grid_follows_the_viewer(make_window, qtbot):
    window, _ = _with_detail(make_window, qtbot)
    viewer = _open(window, qtbot)
    results = window.results_model.results()
    assert not viewer.previous_button.isEnabled()
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.row == 1 and viewer.caption.text().startswith(results[1].label)
    assert window.grid.currentIndex().row() == 1 and window.detail.result == results[1]
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.row == 0
    viewer.toggle_full_screen()
    assert viewer.isFullScreen()
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)  # Esc leaves full screen first …
    assert not viewer.isFullScreen() and viewer.isVisible()
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)  # … then closes
    assert not viewer.isVisible()


def test_dicom_gets_window_presets_and_a_drag_that_changes_the_window(qtbot, tmp_path):
    from app.ui.figure_viewer import FigureViewerWindow
    from app.ui.results_model import display_label  # noqa: F401 (the viewer's label helper)
    from engine.types import SearchResult, WhyMatched
    from tests.engine.test_imaging import write_dicom

    values = np.tile(np.arange(0, 2000, 20, dtype=np.uint16), (100, 1))  # HU -1000 … 980
    path = write_dicom(tmp_path / "ct.dcm", values, RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=40,
                       WindowWidth=400, Modality="CT")
    result = SearchResult(1, 1.0, path, "Axial CT", "Figure 1", "c", None, None, None, WhyMatched(1.0))

    def run_now(func, *args, on_return=None, on_error=None, **kwargs):  # the worker, inline
        on_return(func(*args, **kwargs))

    viewer = FigureViewerWindow([result], 0, run_now)
    qtbot.addWidget(viewer)
    viewer.show()
    names = [viewer.presets.itemText(i) for i in range(viewer.presets.count())]
    assert names[0] == "As stored in the file" and "Lung (−600 / 1500)" in names and "Bone (300 / 1500)" in names
    assert viewer.window_label.text() == "W 400 · L 40"
    soft = viewer.view.item.pixmap().toImage()
    assert soft.pixelColor(10, 50).value() == 0  # air is black in a soft-tissue window

    lung = names.index("Lung (−600 / 1500)")
    viewer.presets.setCurrentIndex(lung)
    viewer.presets.activated.emit(lung)
    assert viewer.window_label.text() == "W 1500 · L -600"
    assert viewer.view.item.pixmap().toImage().pixelColor(10, 50).value() > 0  # air has structure in a lung window

    viewport = viewer.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=QPoint(100, 100))
    qtbot.mouseMove(viewport, QPoint(160, 140))
    qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=QPoint(160, 140))
    assert viewer.window_width > 1500 and viewer.window_center > -600  # right: wider; down: higher level
    viewer.close()
