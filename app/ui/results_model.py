"""The results grid's Qt item model: a thin adapter over a plain list of SearchResult values."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.match_text import score_badge
from app.ui.thumbnails import ThumbnailCache
from engine.types import ScoreScale, SearchResult

RESULT_ROLE = Qt.ItemDataRole.UserRole + 1
THUMBNAIL_FAILED_ROLE = Qt.ItemDataRole.UserRole + 2
BADGE_ROLE = Qt.ItemDataRole.UserRole + 3  # "Strong 3.4", "Similar 93", "Closest, but weak 1.2"


def display_label(result: SearchResult) -> str:
    """"Figure 3" from the article, else the file name (folder images have no label)."""
    return result.label or Path(result.image_path).name


def caption_snippet(caption: str | None, limit: int = 160) -> str:
    text = " ".join((caption or "").split())
    if not text:
        return "No caption"
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


class ResultsListModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailCache, parent=None):
        super().__init__(parent)
        self._results: list[SearchResult] = []
        # The scale the scores are shown on (text or image query); None: no query (a browsed collection), no score.
        self.scale: ScoreScale | None = ScoreScale.STRENGTH
        self._rows_by_path: dict[str, list[int]] = defaultdict(list)
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnail_ready)

    def set_results(
        self, results: list[SearchResult] | tuple[SearchResult, ...], scale: ScoreScale | None = ScoreScale.STRENGTH
    ) -> None:
        self._thumbnails.cancel_pending()  # thumbnails of the previous results are no longer wanted
        self.beginResetModel()
        self._results = list(results)
        self.scale = scale
        self._rows_by_path = defaultdict(list)
        for row, result in enumerate(self._results):
            self._rows_by_path[str(result.image_path)].append(row)
        self.endResetModel()

    def results(self) -> list[SearchResult]:
        return list(self._results)

    def result_at(self, row: int) -> SearchResult | None:
        return self._results[row] if 0 <= row < len(self._results) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._results)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        result = self.result_at(index.row()) if index.isValid() else None
        if result is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return caption_snippet(result.caption)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.pixmap(result.image_path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return caption_snippet(result.caption, 600)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            badge = f", {self._badge(result)}" if self.scale is not None else ""
            return f"{display_label(result)}{badge}: {caption_snippet(result.caption)}"
        if role == BADGE_ROLE:
            return self._badge(result)
        if role == RESULT_ROLE:
            return result
        if role == THUMBNAIL_FAILED_ROLE:
            return self._thumbnails.failure(result.image_path)
        return None

    def _badge(self, result: SearchResult) -> str:
        return score_badge(result, self.scale) if self.scale is not None else ""

    def _on_thumbnail_ready(self, path: str) -> None:
        for row in self._rows_by_path.get(path, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
