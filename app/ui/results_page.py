"""The results page: one sentence that answers "did anything match?" above the grid of figure cards."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.types import MatchLevel, Verdict

# Colours carry the verdict; the sentence says it in words too (never colour alone).
VERDICT_STYLES = {
    MatchLevel.STRONG: "background:#e3f4e8; color:#17502a; border:1px solid #a9d8b6;",
    MatchLevel.WEAK: "background:#fff4d6; color:#6b4700; border:1px solid #efd089;",
    MatchLevel.NONE: "background:#eceff3; color:#33404f; border:1px solid #c9d1db;",
}


class ResultsPageWidget(QWidget):
    def __init__(self, grid: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = grid
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("verdictBar")
        self.verdict_label.setWordWrap(True)
        self.verdict: Verdict | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.verdict_label)
        layout.addWidget(grid, 1)

    def show_verdict(self, verdict: Verdict | None) -> None:
        self.verdict = verdict
        if verdict is None:
            self.verdict_label.hide()
            return
        style = VERDICT_STYLES.get(verdict.level, VERDICT_STYLES[MatchLevel.NONE])
        box = "border-radius:4px; padding:6px 10px; font-size:14px;"
        self.verdict_label.setStyleSheet(f"#verdictBar {{ {style} {box} }}")
        self.verdict_label.setText(html.escape(verdict.message))
        self.verdict_label.setToolTip(
            "Strong: clearly above what meaningless text (or, for an image, an average figure of this library) "
            "reaches. Weak: above it, but not clearly. None: no figure stands out — the closest are shown, "
            "but they are weak."
        )
        self.verdict_label.show()

    @property
    def verdict_text(self) -> str:
        return self.verdict_label.text() if self.verdict_label.isVisible() else ""
