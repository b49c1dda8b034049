"""The main window's detail side: the detail pane, how the width is shared with it, and the figure viewer opened
from its image. A mixin of `MainWindow` (like `ImageDropMixin`), split off along that seam."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QModelIndex, Qt

from app.ui.describe_view import DescribeDialog
from app.ui.figure_viewer import FigureViewerWindow
from app.ui.pane_layout import plan_panes
from app.ui.results_model import RESULT_ROLE
from app.ui.results_view import CARD_WIDTH
from engine.types import ScoreScale


class WindowDetailMixin:
    # ---------------------------------------------------------------------------------------- detail
    def open_detail(self, index: QModelIndex | None = None) -> None:
        index = index if index is not None and index.isValid() else self.grid.currentIndex()
        result = index.data(RESULT_ROLE) if index.isValid() else None
        if result is None:
            return
        self._show_detail(result, scale=self.results_model.scale)

    def _show_detail(self, result, *, scale: ScoreScale | None) -> None:
        """Show a figure in the detail pane (`scale`: it is one of the results, shown on that scale; None: a figure
        opened from elsewhere, e.g. the Describe view, shown without a score)."""
        self.detail.show_result(result, self.search_bar.text, scale)
        if not self.detail.isVisible():
            self.detail.show()
            self.fit_panes()

    def describe(self, image, label: str) -> None:
        """Open the Describe view for a figure id, an image file or a pasted image; the captions come later."""
        if self.describe_dialog is None:
            self.describe_dialog = DescribeDialog(self.thumbnails, self)
            self.describe_dialog.figure_requested.connect(self.controller.fetch_figure)
        self.describe_dialog.show_loading(html.escape(label))
        self.describe_dialog.show()
        self.describe_dialog.raise_()
        self.controller.describe(image, label)

    def _on_captions(self, label: str, matches) -> None:
        if self.describe_dialog is not None:
            self.describe_dialog.show_matches(html.escape(label), matches)

    def close_detail(self) -> None:
        if self.detail.isVisible():
            self.detail.hide()
            self.fit_panes()

    def fit_panes(self) -> None:
        """Share the width so the grid keeps two columns of cards (see app/ui/pane_layout.py)."""
        handles = self.splitter.handleWidth() * 2
        chrome = self.grid.verticalScrollBar().sizeHint().width() + 2 * self.grid.frameWidth() + 4 + handles
        cell = CARD_WIDTH + 8  # the narrowest grid cell (the view widens cells to fill its width)
        sizes = plan_panes(self.splitter.width(), cell, self.detail.isVisible(), chrome)
        self.left_panel.setVisible(sizes.left > 0)
        self.splitter.setSizes([sizes.left, sizes.centre, sizes.detail])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_panes()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.detail.isVisible() and current.isValid():
            self.open_detail(current)

    def current_result(self):
        index = self.grid.currentIndex()
        return index.data(RESULT_ROLE) if index.isValid() else None

    def open_viewer(self) -> FigureViewerWindow | None:
        """The figure in the detail pane at full size, with the other results one key away."""
        results = self.results_model.results()
        current = self.detail.result
        if current is None:
            return None
        rows = [i for i, r in enumerate(results) if r.figure_id == current.figure_id]
        if not rows:
            results, rows = [current], [0]
        viewer = FigureViewerWindow(results, rows[0], self.controller.run_job, self)
        viewer.current_changed.connect(self._viewer_moved)
        viewer.destroyed.connect(self._viewer_closed)
        viewer.show()
        self.viewer = viewer
        return viewer

    def _viewer_closed(self) -> None:
        self.viewer = None

    def _viewer_moved(self, row: int) -> None:
        index = self.results_model.index(row)
        if index.isValid():
            self.grid.setCurrentIndex(index)

    def _detail_image_event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonDblClick:
            self.open_viewer()
            return True
        if event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_viewer()
            return True
        return False

