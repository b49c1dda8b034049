"""Starts the Qt application and the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow


def run_gui(args) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PMC Figure Search")
    app.setOrganizationName("pmc-figure-search")
    window = MainWindow()
    window.show()
    return app.exec()
