"""The repair a damaged library needs, offered in a dialog: the same `check_library(repair=True)` as
`pmc-search check --repair`, run in a worker, with the report (what was salvaged, restored and lost) shown after.

Opened when a library fails to open with LibraryDamagedError. Non-modal, so offscreen tests never block on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

logger = logging.getLogger(__name__)


class RepairDialog(QDialog):
    repaired = Signal(object)  # engine.library.repair.CheckReport, after a repair that worked
    failed = Signal(str)

    def __init__(self, path: str, problem: str, start_repair: Callable, parent: QWidget | None = None):
        """`start_repair(on_done, on_error)` runs the repair in a worker and calls back on the GUI thread."""
        super().__init__(parent)
        self.setWindowTitle("Library damaged")
        self._start_repair = start_repair
        self.message = QLabel(
            f"The library at {path} cannot be opened:\n{problem}\n\nRepair salvages what the catalog still holds, "
            "re-encodes damaged vectors and reads the library's folders again for lost figures. The damaged "
            "catalog is kept beside the repaired one."
        )
        self.message.setWordWrap(True)
        self.report = QPlainTextEdit(readOnly=True)
        self.report.hide()
        self.buttons = QDialogButtonBox()
        self.repair_button: QPushButton = self.buttons.addButton("Repair", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.repair_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.report, self.buttons):
            layout.addWidget(widget)

    def start(self) -> None:
        self.repair_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.message.setText("Repairing … (a large library takes a while)")
        self._start_repair(self._done, self._error)

    def _done(self, report) -> None:
        self.report.setPlainText("\n".join(report.lines()))
        self.report.show()
        ok = report.repaired or report.healthy
        self.message.setText("Repaired. The library opens again." if ok else "The repair could not fix everything:")
        self.close_button.setText("Close")
        self.close_button.setEnabled(True)
        if ok:
            self.repaired.emit(report)

    def _error(self, error: BaseException) -> None:
        logger.error("repair failed", exc_info=error)
        self.message.setText(f"The repair failed: {error}")
        self.close_button.setEnabled(True)
        self.failed.emit(str(error))
