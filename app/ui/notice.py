"""A dismissible banner above the results: the one place the window shows errors and warnings."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

_STYLES = {
    "error": "background:#fde8e8; color:#7a1212; border:1px solid #f1b4b4;",
    "info": "background:#e8f1fd; color:#123f7a; border:1px solid #b4cdf1;",
}


class NoticeBanner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setOpenExternalLinks(True)
        close = QToolButton(text="✕", toolTip="Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self._auto_hide = QTimer(self, singleShot=True)
        self._auto_hide.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, kind: str = "error", timeout_ms: int = 0) -> None:
        self.kind = kind
        self.setStyleSheet(f"#noticeBanner {{ {_STYLES[kind]} border-radius:4px; }}")
        self.label.setText(text)
        self.show()
        if timeout_ms:
            self._auto_hide.start(timeout_ms)
        else:
            self._auto_hide.stop()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
