"""A dismissible banner above the results: the one place the window shows errors and warnings.

Plain sentences only (no markup is interpreted, so a quote in a file name shows as a quote); the technical detail
of a problem sits under "Details…", and a problem may offer buttons that fix it ("Use a local checkpoint…").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.problems import Problem

_STYLES = {
    "error": "background:#fde8e8; color:#7a1212; border:1px solid #f1b4b4;",
    "warning": "background:#fff4e0; color:#6b4300; border:1px solid #f0d19a;",
    "info": "background:#e8f1fd; color:#123f7a; border:1px solid #b4cdf1;",
}

Action = tuple[str, Callable[[], None]]


class NoticeBanner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(text="Details…", toolTip="Show the technical details")
        self.details_button.setCheckable(True)
        self.details_button.setAutoRaise(True)
        self.details_label = QLabel()
        self.details_label.setObjectName("noticeDetails")
        self.details_label.setWordWrap(True)
        self.details_label.setTextFormat(Qt.TextFormat.PlainText)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.hide()
        self.details_button.toggled.connect(self.details_label.setVisible)
        close = QToolButton(text="✕", toolTip="Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        self._actions_row = QHBoxLayout()
        self._actions_row.setContentsMargins(0, 0, 0, 0)
        self._action_buttons: list[QPushButton] = []
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(self._actions_row)
        layout.addWidget(self.details_label)
        self.kind = ""
        self._auto_hide = QTimer(self, singleShot=True)
        self._auto_hide.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, kind: str = "error", timeout_ms: int = 0) -> None:
        """A plain sentence, nothing to expand."""
        self.show_problem(Problem(text), kind, timeout_ms=timeout_ms)

    def show_problem(
        self, problem: Problem, kind: str = "error", actions: Sequence[Action] = (), timeout_ms: int = 0
    ) -> None:
        self.kind = kind
        self.setStyleSheet(f"#noticeBanner {{ {_STYLES[kind]} border-radius:4px; }}")
        self.label.setText(problem.summary)
        self.details_label.setText(problem.details)
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(problem.details))
        self._set_actions(actions)
        self.show()
        if timeout_ms:
            self._auto_hide.start(timeout_ms)
        else:
            self._auto_hide.stop()

    def _set_actions(self, actions: Sequence[Action]) -> None:
        while self._actions_row.count():  # buttons and the stretch after them
            item = self._actions_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._action_buttons = []
        for text, callback in actions:
            button = QPushButton(text)
            button.setObjectName("noticeAction")
            button.clicked.connect(callback)
            self._actions_row.addWidget(button)
            self._action_buttons.append(button)
        if actions:
            self._actions_row.addStretch(1)

    def action_buttons(self) -> list[QPushButton]:
        return list(self._action_buttons)

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    @property
    def details(self) -> str:
        return self.details_label.text() if self.isVisible() else ""
