"""The results grid: a virtualised QListView in icon mode with a delegate that paints figure cards.

Only visible cells are painted, so 10,000 results cost what 30 do; thumbnails arrive later and repaint their cell.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.results_model import BADGE_ROLE, RESULT_ROLE, THUMBNAIL_FAILED_ROLE, display_label
from engine.types import MatchLevel, SearchResult

CARD_WIDTH = 236
THUMB_HEIGHT = 196
CARD_HEIGHT = 318
PADDING = 8

_CARD_BG = QColor("#ffffff")
_CARD_BORDER = QColor("#d5dbe3")
_SELECTED_BORDER = QColor("#1d5fbf")
_THUMB_BG = QColor("#1e232b")  # dark mat: radiology images are judged against black
_MUTED = QColor("#56606e")
_TEXT = QColor("#1b2330")
# Badge colours by match level (background, text); the badge's words say the level too.
_BADGE = {
    MatchLevel.IDENTICAL: (QColor("#d3ecda"), QColor("#17502a")),
    MatchLevel.NEAR_IDENTICAL: (QColor("#d3ecda"), QColor("#17502a")),
    MatchLevel.STRONG: (QColor("#e3f4e8"), QColor("#17502a")),
    MatchLevel.WEAK: (QColor("#fff1cc"), QColor("#6b4700")),
    MatchLevel.NONE: (QColor("#eceff3"), QColor("#56606e")),
}


def source_line(result: SearchResult) -> str:
    """The card's last line: journal and year, else the collection; every collection when the image is in several."""
    if len(result.collections) > 1:
        return f"In {len(result.collections)} collections: " + ", ".join(result.collections)
    article = result.article
    source = " · ".join(str(x) for x in (article and article.journal, article and article.year) if x)
    return source or result.collection


def _wrap_lines(text: str, metrics: QFontMetrics, width: int, max_lines: int) -> list[str]:
    words, lines, current = text.split(), [], ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if metrics.horizontalAdvance(candidate) <= width:
            current = candidate
            continue
        lines.append(current or word)
        current = word if current else ""
        if len(lines) == max_lines:
            rest = " ".join([lines[-1], *words[i:]])
            lines[-1] = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)
            return lines
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
    return lines


class FigureCardDelegate(QStyledItemDelegate):
    card_width = CARD_WIDTH  # the view widens cards so the columns fill the viewport

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.card_width, CARD_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        result = index.data(RESULT_ROLE)
        if result is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(_SELECTED_BORDER if selected else _CARD_BORDER, 3 if selected else 1))
        painter.setBrush(_CARD_BG)
        painter.drawRoundedRect(card, 6, 6)

        thumb_rect = QRect(card.left() + PADDING, card.top() + PADDING, card.width() - 2 * PADDING, THUMB_HEIGHT)
        painter.fillRect(thumb_rect, _THUMB_BG)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.scaled(
                thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            x = thumb_rect.left() + (thumb_rect.width() - scaled.width()) // 2
            y = thumb_rect.top() + (thumb_rect.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
        else:
            failed = index.data(THUMBNAIL_FAILED_ROLE)
            painter.setPen(QColor("#aab3bf"))
            painter.drawText(thumb_rect, Qt.AlignmentFlag.AlignCenter, "Image not readable" if failed else "Loading…")

        base_font = QFont(option.font)
        bold = QFont(base_font)
        bold.setBold(True)
        text_left = card.left() + PADDING
        text_width = card.width() - 2 * PADDING
        y = thumb_rect.bottom() + 8

        # Line 1: figure label on the left, the match badge (the number the grid is ordered by) on the right.
        painter.setFont(bold)
        metrics = QFontMetrics(bold)
        self._paint_badge(painter, index.data(BADGE_ROLE) or "", result.match, metrics, card, y, text_width)
        badge_width = min(metrics.horizontalAdvance(index.data(BADGE_ROLE) or "") + 14, text_width // 2 + 30)
        label = display_label(result)
        painter.setPen(_TEXT)
        painter.drawText(
            QRect(text_left, y, text_width - badge_width - 6, metrics.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(label, Qt.TextElideMode.ElideRight, text_width - badge_width - 6),
        )
        y += metrics.height() + 4

        # Caption: three lines, elided.
        painter.setFont(base_font)
        metrics = QFontMetrics(base_font)
        painter.setPen(_TEXT)
        for line in _wrap_lines(index.data(Qt.ItemDataRole.DisplayRole) or "", metrics, text_width, 3):
            painter.drawText(QRect(text_left, y, text_width, metrics.height()), Qt.AlignmentFlag.AlignLeft, line)
            y += metrics.height()

        # Source line pinned to the bottom of the card.
        source = source_line(result)
        small = QFont(base_font)
        small.setPointSizeF(max(7.0, base_font.pointSizeF() * 0.9))
        painter.setFont(small)
        metrics = QFontMetrics(small)
        painter.setPen(_MUTED)
        bottom = QRect(text_left, card.bottom() - PADDING - metrics.height(), text_width, metrics.height())
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft, metrics.elidedText(source, Qt.TextElideMode.ElideRight,
                                                                                text_width))
        painter.restore()

    @staticmethod
    def _paint_badge(
        painter: QPainter, text: str, level: MatchLevel, metrics: QFontMetrics, card: QRect, y: int, text_width: int
    ) -> None:
        width = min(metrics.horizontalAdvance(text) + 14, text_width // 2 + 30)
        pill = QRect(card.right() - PADDING - width, y, width, metrics.height())
        background, foreground = _BADGE.get(level, _BADGE[MatchLevel.NONE])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(pill, 8, 8)
        painter.setPen(foreground)
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width - 8)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, elided)


class ResultsGridView(QListView):
    open_requested = Signal(QModelIndex)  # Enter / double click: show the detail

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.card_delegate = FigureCardDelegate(self)
        self.setItemDelegate(self.card_delegate)
        self.setGridSize(QSize(CARD_WIDTH + 8, CARD_HEIGHT + 8))
        self.doubleClicked.connect(self.open_requested)

    def resizeEvent(self, event) -> None:
        # Spread the columns over the whole width instead of leaving a strip of empty space on the right.
        width = self.viewport().width() - 2
        columns = max(1, width // (CARD_WIDTH + 8))
        cell = max(CARD_WIDTH + 8, width // columns)
        self.card_delegate.card_width = min(cell - 8, int(CARD_WIDTH * 1.4))
        self.setGridSize(QSize(cell, CARD_HEIGHT + 8))
        super().resizeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.open_requested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)
