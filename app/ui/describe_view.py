"""The Describe view: for a dropped or selected figure, the library's captions that best describe it, each with its
figure. Double-clicking a row opens that figure in the detail pane.

Captions are ranked by match strength (the caption read as a text query against this image; README: What the numbers
mean), so "Strong 3.6" here means what it means on a text search's result card.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.match_text import score_number
from app.ui.thumbnails import ThumbnailCache
from engine.types import CaptionMatch, MatchLevel, ScoreScale

ICON_SIZE = 88
FIGURE_ROLE = Qt.ItemDataRole.UserRole + 1
_WORDS = {MatchLevel.STRONG: "Strong", MatchLevel.WEAK: "Weak", MatchLevel.NONE: "No clear match"}


def caption_row_text(match: CaptionMatch) -> str:
    from engine.search.verdict import TEXT_SCALE  # the search engine's package: only once captions are shown

    level = TEXT_SCALE.level(match.score)
    article = match.article
    source = " · ".join(str(x) for x in (article and article.journal, article and article.year) if x)
    head = f"{_WORDS.get(level, 'Weak')} {score_number(match.score, ScoreScale.STRENGTH)}"
    head += f" — {match.label}" if match.label else ""
    return f"{head}\n{match.caption}" + (f"\n{source}" if source else "")


class DescribeDialog(QDialog):
    figure_requested = Signal(int)  # a row was opened: show this figure

    def __init__(self, thumbnails: ThumbnailCache, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("describeDialog")
        self.setWindowTitle("Describe: captions that fit this figure")
        self.resize(640, 620)
        self._thumbnails = thumbnails
        self._items_by_path: dict[str, list[QListWidgetItem]] = {}
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.captions = QListWidget()
        self.captions.setObjectName("describeList")
        self.captions.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.captions.setWordWrap(True)
        self.captions.setSpacing(2)
        self.captions.itemActivated.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.captions, 1)
        layout.addWidget(buttons)
        thumbnails.ready.connect(self._on_thumbnail)

    def show_loading(self, label: str) -> None:
        self.heading.setText(f"<b>{label}</b><br>Finding the captions in this library that best describe it…")
        self.captions.clear()
        self._items_by_path.clear()

    def show_matches(self, label: str, matches: list[CaptionMatch]) -> None:
        self.captions.clear()
        self._items_by_path.clear()
        if not matches:
            self.heading.setText(f"<b>{label}</b><br>No figure near this one has a caption.")
            return
        self.heading.setText(
            f"<b>{label}</b><br>The captions in this library that best describe it, best first "
            "(match strength: 3 or more is strong). Double-click one to open its figure."
        )
        for match in matches:
            item = QListWidgetItem(caption_row_text(match))
            item.setData(FIGURE_ROLE, match.figure_id)
            item.setToolTip(match.caption)
            if match.image_path is not None:
                self._items_by_path.setdefault(str(match.image_path), []).append(item)
                pixmap = self._thumbnails.pixmap(Path(match.image_path))
                if pixmap is not None:
                    item.setIcon(QIcon(pixmap))
            self.captions.addItem(item)

    def rows(self) -> list[str]:
        return [self.captions.item(i).text() for i in range(self.captions.count())]

    def _on_thumbnail(self, path: str) -> None:
        pixmap = self._thumbnails.pixmap(Path(path))
        for item in self._items_by_path.get(path, ()):
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))

    def _open(self, item: QListWidgetItem) -> None:
        figure_id = item.data(FIGURE_ROLE)
        if figure_id is not None:
            self.figure_requested.emit(int(figure_id))
