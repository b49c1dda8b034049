"""The figure viewer: a figure at full resolution, opened by a double-click or Enter on the detail image.

Zoom with the wheel, +/− or the buttons; Fit and 1:1; drag to pan; F11 for full screen; ←/→ (or PgUp/PgDn) for
the previous and next result. A greyscale DICOM is shown from its real values (Hounsfield units for CT) through a
window: presets for CT (soft tissue, lung, bone, brain), and a right-button drag (or a left drag with
"Adjust window" on) changes it — left/right the width, up/down the level — as on a radiology workstation.

Images are decoded by the engine (`open_image`, `read_dicom_grey`) in a worker; a newer request wins.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.problems import describe_error
from app.ui.results_model import display_label

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.02, 32.0
WL_DRAG_SENSITIVITY = 1 / 256  # a drag across 256 px changes the window by its own width


@dataclass(frozen=True)
class WindowPreset:
    name: str
    center: float | None  # None: the file's own window
    width: float | None


CT_PRESETS = (
    WindowPreset("Soft tissue (40 / 400)", 40, 400),
    WindowPreset("Lung (−600 / 1500)", -600, 1500),
    WindowPreset("Bone (300 / 1500)", 300, 1500),
    WindowPreset("Brain (40 / 80)", 40, 80),
)


def presets_for(grey) -> list[WindowPreset]:
    """The file's window, the full range of its values, and for CT the usual ones."""
    import numpy as np

    values = grey.values[np.isfinite(grey.values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    presets = [WindowPreset("As stored in the file", None, None),
               WindowPreset("Full range", (lo + hi) / 2, max(hi - lo, 1.0))]
    if grey.modality.upper() == "CT":
        presets += CT_PRESETS
    return presets


@dataclass
class LoadedFigure:
    """What a worker hands back: an 8-bit image to show, or a DICOM's values to window on the GUI thread."""

    rgb: Any = None  # numpy [h, w, 3] uint8
    grey: Any = None  # engine.imaging.DicomGrey


def load_figure(path: Path) -> LoadedFigure:
    """Runs in a worker: the engine's decoding, DICOM kept in real units so it can be windowed."""
    from engine.imaging import is_dicom_file, open_image, read_dicom_grey

    if path.suffix.lower() in (".dcm", ".dicom") or is_dicom_file(path):
        grey = read_dicom_grey(path)
        if grey is not None:
            return LoadedFigure(grey=grey)
    import numpy as np

    return LoadedFigure(rgb=np.asarray(open_image(path)))


def qimage_from_array(array: np.ndarray) -> QImage:
    import numpy as np

    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    if array.ndim == 2:
        return QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QImage(array.data, width, height, width * 3, QImage.Format.Format_RGB888).copy()


class FigureView(QGraphicsView):
    """The picture: wheel zoom about the cursor, drag to pan, right-drag to adjust the DICOM window."""

    zoomed = Signal(float)
    window_dragged = Signal(float, float)  # d(level), d(width) in pixels of mouse travel

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("figureView")
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setBackgroundBrush(Qt.GlobalColor.black)  # radiology images are judged against black
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.left_drag_adjusts_window = False
        self.fitted = True
        self._window_drag: QPointF | None = None

    def scale_factor(self) -> float:
        return self.transform().m11()

    def set_pixmap(self, pixmap: QPixmap, *, keep_view: bool = False) -> None:
        self.item.setPixmap(pixmap)
        self.scene().setSceneRect(self.item.boundingRect())
        if not keep_view:
            self.fit()

    def fit(self) -> None:
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.fitted = True
        self.zoomed.emit(self.scale_factor())

    def actual_size(self) -> None:
        self.resetTransform()
        self.fitted = False
        self.zoomed.emit(1.0)

    def zoom_by(self, factor: float) -> None:
        current = self.scale_factor()
        factor = max(MIN_SCALE / current, min(MAX_SCALE / current, factor))
        self.scale(factor, factor)
        self.fitted = False
        self.zoomed.emit(self.scale_factor())

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def mousePressEvent(self, event) -> None:
        adjusting = event.button() == Qt.MouseButton.RightButton or (
            event.button() == Qt.MouseButton.LeftButton and self.left_drag_adjusts_window
        )
        if adjusting:
            self._window_drag = event.position()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._window_drag is not None:
            delta = event.position() - self._window_drag
            self._window_drag = event.position()
            self.window_dragged.emit(delta.y(), delta.x())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._window_drag is not None:
            self._window_drag = None
            event.accept()
            return
        super().mouseReleaseEvent(event)


class FigureViewerWindow(QWidget):
    """A separate window over the results: one figure at a time, the others one key away."""

    current_changed = Signal(int)  # row of the figure now shown (the grid follows)

    def __init__(self, results: Sequence, row: int, run_job: Callable, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("figureViewer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1100, 800)
        self.results, self.row, self._run_job = list(results), row, run_job
        self._request = 0
        self.grey = None  # the DICOM on screen, when it is one
        self.window_center: float | None = None
        self.window_width: float | None = None
        self.view = FigureView()
        self.view.zoomed.connect(lambda s: self.zoom_label.setText(f"{s:.0%}"))
        self.view.window_dragged.connect(self._drag_window)
        self.caption = QLabel()
        self.caption.setObjectName("viewerCaption")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)
        self.status = QLabel()
        self.status.setObjectName("viewerStatus")
        self.zoom_label = QLabel("100%")
        self.window_label = QLabel()
        self.presets = QComboBox()
        self.presets.setToolTip("Window / level presets (drag with the right mouse button to adjust)")
        self.presets.activated.connect(self._apply_preset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._toolbar())
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self._shortcuts()
        for widget in (self.presets, self.adjust_button, self.window_label):
            widget.hide()  # shown for a DICOM only
        self.show_row(row)

    # ---------------------------------------------------------------------------------------- building
    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(text=text, toolTip=tip)
        button.clicked.connect(slot)
        return button

    def _toolbar(self) -> QHBoxLayout:
        self.previous_button = self._button("◀ Previous", "Previous result (←, PgUp)", lambda: self.step(-1))
        self.next_button = self._button("Next ▶", "Next result (→, PgDn)", lambda: self.step(1))
        self.adjust_button = self._button("Adjust window", "Left drag adjusts window/level instead of panning",
                                          self._toggle_adjust)
        self.adjust_button.setCheckable(True)
        row = QHBoxLayout()
        for widget in (
            self.previous_button, self.next_button,
            self._button("−", "Zoom out (−)", lambda: self.view.zoom_by(1 / ZOOM_STEP)),
            self._button("+", "Zoom in (+)", lambda: self.view.zoom_by(ZOOM_STEP)),
            self._button("Fit", "Fit the window (F or 0)", self.view.fit),
            self._button("1:1", "Actual pixels (1)", self.view.actual_size),
            self.zoom_label, self.presets, self.adjust_button, self.window_label,
        ):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.status)
        row.addWidget(self._button("Full screen", "Full screen (F11; Esc leaves it)", self.toggle_full_screen))
        return row

    def _shortcuts(self) -> None:
        keys = {
            ("+", "=", QKeySequence.StandardKey.ZoomIn): lambda: self.view.zoom_by(ZOOM_STEP),
            ("-", QKeySequence.StandardKey.ZoomOut): lambda: self.view.zoom_by(1 / ZOOM_STEP),
            ("F", "0"): self.view.fit,
            ("1",): self.view.actual_size,
            ("Left", "PgUp"): lambda: self.step(-1),
            ("Right", "PgDown"): lambda: self.step(1),
            ("F11",): self.toggle_full_screen,
            ("Esc",): self._escape,
        }
        for sequences, slot in keys.items():
            for sequence in sequences:
                QShortcut(QKeySequence(sequence), self, activated=slot)

    # ---------------------------------------------------------------------------------------- navigation
    def show_row(self, row: int) -> None:
        self.row = max(0, min(row, len(self.results) - 1))
        result = self.results[self.row]
        self.setWindowTitle(f"{display_label(result)} — figure viewer")
        self.caption.setText(f"{display_label(result)}: {result.caption or 'no caption'}")
        self.status.setText(f"{self.row + 1} of {len(self.results)}")
        self.previous_button.setEnabled(self.row > 0)
        self.next_button.setEnabled(self.row < len(self.results) - 1)
        self._request += 1
        request, path = self._request, Path(result.image_path)
        self.status.setText(f"{self.row + 1} of {len(self.results)} · loading…")
        self._run_job(load_figure, path, on_return=lambda loaded: self._loaded(request, loaded),
                      on_error=lambda error: self._failed(request, error))

    def step(self, delta: int) -> None:
        target = self.row + delta
        if 0 <= target < len(self.results) and target != self.row:
            self.show_row(target)
            self.current_changed.emit(self.row)

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def closeEvent(self, event) -> None:
        self._request += 1  # a figure still decoding arrives after the window is gone: drop it
        super().closeEvent(event)

    def _escape(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.close()

    # ---------------------------------------------------------------------------------------- pixels
    def _loaded(self, request: int, loaded: LoadedFigure) -> None:
        if request != self._request:
            return  # the user moved on meanwhile
        self.status.setText(f"{self.row + 1} of {len(self.results)}")
        self.grey = loaded.grey
        dicom = self.grey is not None
        for widget in (self.presets, self.adjust_button, self.window_label):
            widget.setVisible(dicom)
        if dicom:
            self.window_center, self.window_width = self.grey.center, self.grey.width
            self.presets.clear()
            for preset in presets_for(self.grey):
                self.presets.addItem(preset.name, preset)
            self._render_window(keep_view=False)
        else:
            self.view.set_pixmap(QPixmap.fromImage(qimage_from_array(loaded.rgb)))

    def _failed(self, request: int, error: BaseException) -> None:
        if request != self._request:
            return
        problem = describe_error(error)
        self.status.setText(f"{self.row + 1} of {len(self.results)} · {problem.summary}")
        self.status.setToolTip(problem.details)
        self.view.set_pixmap(QPixmap())

    def _apply_preset(self, index: int) -> None:
        preset: WindowPreset = self.presets.itemData(index)
        if self.grey is None or preset is None:
            return
        self.window_center = self.grey.center if preset.center is None else preset.center
        self.window_width = self.grey.width if preset.width is None else preset.width
        self._render_window(keep_view=True)

    def set_window(self, center: float, width: float) -> None:
        self.window_center, self.window_width = center, max(width, 1.0)
        self._render_window(keep_view=True)

    def _drag_window(self, d_level: float, d_width: float) -> None:
        if self.grey is None:
            return
        step = self.window_width * WL_DRAG_SENSITIVITY
        self.set_window(self.window_center + d_level * step, self.window_width * math.exp(d_width / 256))

    def _render_window(self, *, keep_view: bool) -> None:
        grey = self.grey.render(self.window_center, self.window_width)
        self.view.set_pixmap(QPixmap.fromImage(qimage_from_array(grey)), keep_view=keep_view)
        self.window_label.setText(f"W {self.window_width:.0f} · L {self.window_center:.0f}")

    def _toggle_adjust(self) -> None:
        adjusting = self.adjust_button.isChecked()
        self.view.left_drag_adjusts_window = adjusting
        self.view.setDragMode(
            QGraphicsView.DragMode.NoDrag if adjusting else QGraphicsView.DragMode.ScrollHandDrag
        )
