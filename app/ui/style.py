"""The app's look: one Qt style sheet in resources/, loaded once at start-up."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QApplication

from engine.paths import resource_path

logger = logging.getLogger(__name__)


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")  # the same look on every platform, and offscreen screenshots match users' screens
    sheet = resource_path("style.qss")
    try:
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))
    except OSError as error:
        logger.warning("style sheet not loaded: %s", error)
