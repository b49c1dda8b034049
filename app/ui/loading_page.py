"""The centre of the window while a library opens: which library, that its model is loading, a busy bar.

Shown within a second of launch, while the model loads in a worker; a model that must be downloaded first gets
its own progress dialog, so nothing here promises a download.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget


class LoadingPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("loadingPage")
        self.title = QLabel()
        self.title.setObjectName("loadingTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel()
        self.text.setObjectName("loadingText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: loading a model has no meaningful percentage
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(280)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def show_opening(self, path: Path, model_title: str | None = None) -> None:
        self.title.setText(f"Opening the library “{Path(path).name}”…")
        model = model_title or "its search model"
        self.text.setText(
            f"Loading {model} in the background. This takes a few seconds (longer right after the computer "
            "started). The window is ready to use meanwhile."
        )
