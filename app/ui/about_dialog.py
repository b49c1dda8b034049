"""About: what this program is, which version and commit, and where it keeps its files and logs."""

from __future__ import annotations

import html
import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.build_info import build_info
from engine import paths

ICON = ("icons", "pmc-figure-search-128.png")


def about_html(product_name: str) -> str:
    info = build_info()
    rows = [
        ("Version", info.version),
        ("Commit", info.commit),
        ("Build", info.variant),
        ("Libraries and settings", str(paths.data_dir())),
        ("Logs", str(paths.log_dir())),
        ("Qt / Python", f"PySide6 {pyside_version}, Python {platform.python_version()}"),
    ]
    table = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<h2>{html.escape(product_name)}</h2>"
        "<p>Search biomedical figures from PubMed Central and your own folders by text or by image, "
        "with PMC-CLIP on your own machine.</p>"
        f"<table cellspacing='4'>{table}</table>"
    )


class AboutDialog(QDialog):
    def __init__(self, product_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"About {product_name}")
        self.setObjectName("aboutDialog")
        icon = QLabel()
        icon.setPixmap(QPixmap(str(paths.resource_path(*ICON))))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QLabel(about_html(product_name))
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # users paste it in reports
        self.text.setWordWrap(True)
        body = QHBoxLayout()
        body.addWidget(icon)
        body.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(buttons)
