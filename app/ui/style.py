"""The app's look: one Qt style sheet and the app icon from resources/, loaded once at start-up."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.paths import resource_path

logger = logging.getLogger(__name__)

ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)  # resources/icons/pmc-figure-search-<size>.png, drawn by packaging/


def app_icon() -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES:
        path = resource_path("icons", f"pmc-figure-search-{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


def apply_style(app: QApplication) -> None:
    app.setWindowIcon(app_icon())  # title bars, task switchers; the menu entry uses the .desktop file's icon
    app.setStyle("Fusion")  # the same look on every platform, and offscreen screenshots match users' screens
    sheet = resource_path("style.qss")
    try:
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))
    except OSError as error:
        logger.warning("style sheet not loaded: %s", error)
