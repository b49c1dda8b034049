"""A status bar whose texts shrink with the window: messages and the permanent labels are elided ("…"), never
pushed out of sight, and the full text is in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

IDLE = "Ready"


class ElidedLabel(QLabel):
    """A one-line label that shows as much of its text as fits, ending in "…"; the tooltip has all of it."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, elide=Qt.TextElideMode.ElideMiddle):
        super().__init__(parent)
        self._full = ""
        self._elide = elide
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._full = text
        self.setToolTip(text)
        self._refit()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refit()

    def _refit(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._elide, max(self.width(), 10))
        super().setText(shown)


class ElidingStatusBar(QStatusBar):
    """Temporary messages go into an elided label instead of QStatusBar's own message area, which clips them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.message_label = ElidedLabel(parent=self, elide=Qt.TextElideMode.ElideRight)
        self.message_label.setObjectName("statusMessage")
        self.addWidget(self.message_label, 1)
        self._timer_id = 0

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 (Qt's name)
        self.message_label.setText(text)
        if self._timer_id:
            self.killTimer(self._timer_id)
            self._timer_id = 0
        if timeout:
            self._timer_id = self.startTimer(timeout)

    def clearMessage(self) -> None:  # noqa: N802 (Qt's name)
        self.showMessage("")

    def currentMessage(self) -> str:  # noqa: N802 (Qt's name)
        return self.message_label.full_text()

    def show_idle(self) -> None:
        self.showMessage(IDLE)

    def timerEvent(self, event) -> None:
        if event.timerId() == self._timer_id:
            self.killTimer(self._timer_id)
            self._timer_id = 0
            self.message_label.setText(IDLE)
