"""The detail pane: the full figure, its caption with matched words highlighted, where it comes from and its licence."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.citation import doi_url, pmc_url
from app.highlight import highlight_caption
from app.match_text import level_word, modality_text, why_text
from app.ui.results_model import display_label
from app.ui.thumbnails import ThumbnailCache
from engine.types import ScoreScale, SearchResult

FULL_IMAGE_SIZE = 1400
MATCH_HELP = {
    ScoreScale.STRENGTH: "Match strength: how far this figure's similarity to your words rises above what meaningless "
    "text reaches on the same figure, in spreads of that background. 3 or more is strong, 2.5 to 3 weak, below 2.5 "
    "no clear match. Caption words add up to 2, and only where the image already rises above the background.",
    ScoreScale.CLOSENESS: "Closeness: 0 is as similar to the query image as an average figure of this library, 100 is "
    "identical. 99.5 or more is near-identical, 90 or more similar, 75 to 90 weak.",
}
META_ROWS = ("Match", "Journal", "Year", "PMCID", "DOI", "Licence", "Modality", "Collection", "File")


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


class DetailPaneWidget(QFrame):
    find_similar_requested = Signal(object)  # SearchResult
    describe_requested = Signal(object)  # SearchResult: which captions in the library fit this figure
    copy_image_requested = Signal(object)
    export_requested = Signal(object, str)  # SearchResult, "ris"|"bibtex"|"attribution"|"save-ris"|"save-bibtex"
    close_requested = Signal()

    def __init__(self, images: ThumbnailCache | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.result: SearchResult | None = None
        self._query_text = ""
        self._images = images or ThumbnailCache(size=FULL_IMAGE_SIZE, parent=self)
        self._images.ready.connect(self._on_image_ready)

        header = QHBoxLayout()
        self.heading = QLabel()
        self.heading.setObjectName("detailHeading")
        self.heading.setWordWrap(True)
        close = QToolButton(text="✕", toolTip="Close the detail (Esc in the grid keeps it)")
        close.setAutoRaise(True)
        close.clicked.connect(self.close_requested)
        header.addWidget(self.heading, 1)
        header.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

        self.image_label = QLabel("Loading…")
        self.image_label.setObjectName("detailImage")
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMinimumHeight(240)
        self.image_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.caption_label = QLabel()
        self.caption_label.setObjectName("detailCaption")
        self.caption_label.setWordWrap(True)
        self.caption_label.setTextFormat(Qt.TextFormat.RichText)
        self.caption_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.title_label = QLabel()
        self.title_label.setObjectName("detailTitle")
        self.title_label.setWordWrap(True)
        self.meta = QGridLayout()
        self.meta.setColumnStretch(1, 1)
        self._meta_labels: dict[str, QLabel] = {}
        for row, name in enumerate(META_ROWS):
            key = QLabel(name)
            key.setObjectName("metaKey")
            value = QLabel()
            value.setWordWrap(True)
            value.setOpenExternalLinks(True)  # PMC and DOI links open in the browser
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            self.meta.addWidget(key, row, 0, Qt.AlignmentFlag.AlignTop)
            self.meta.addWidget(value, row, 1)
            self._meta_labels[name] = value

        self.find_similar_button = QPushButton("Find similar")
        self.find_similar_button.setToolTip("Search the library for figures that look like this one")
        self.find_similar_button.clicked.connect(lambda: self.result and self.find_similar_requested.emit(self.result))
        self.describe_button = QPushButton("Describe")
        self.describe_button.setToolTip("List the captions in the library that best describe this figure")
        self.describe_button.clicked.connect(lambda: self.result and self.describe_requested.emit(self.result))
        self.copy_button = QPushButton("Copy image")
        self.copy_button.setToolTip("Copy the figure to the clipboard (Ctrl+C)")
        self.copy_button.clicked.connect(lambda: self.result and self.copy_image_requested.emit(self.result))
        self.export_button = QToolButton(text="Export citation ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for text, kind in (
            ("Copy attribution (credit line)", "attribution"),
            ("Copy citation as RIS", "ris"),
            ("Copy citation as BibTeX", "bibtex"),
            ("Save RIS file…", "save-ris"),
            ("Save BibTeX file…", "save-bibtex"),
        ):
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, k=kind: self.result and self.export_requested.emit(self.result, k))
            menu.addAction(action)
        self.export_button.setMenu(menu)
        buttons = QHBoxLayout()
        buttons.addWidget(self.find_similar_button)
        buttons.addWidget(self.describe_button)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(header)
        layout.addWidget(self.image_label)
        layout.addLayout(buttons)
        layout.addWidget(self.caption_label)
        layout.addWidget(self.title_label)
        layout.addLayout(self.meta)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._pixmap: QPixmap | None = None

    def show_result(self, result: SearchResult, query_text: str = "", scale: ScoreScale | None = None) -> None:
        """Show a figure; with `scale`, it is a search result and the Match row says how well it matched."""
        self.result = result
        self._query_text = query_text
        article = result.article
        self.heading.setText(f"<b>{html.escape(display_label(result))}</b>")
        # Only the words that counted as keyword evidence are marked: a marked word always means "this helped".
        self.caption_label.setText(highlight_caption(result.caption, list(result.why.matched_terms)))
        self.title_label.setText(f"<b>{html.escape(article.title)}</b>" if article and article.title else "")
        self.title_label.setVisible(bool(article and article.title))
        values = {
            "Journal": html.escape(article.journal) if article and article.journal else "",
            "Year": str(article.year) if article and article.year else "",
            "PMCID": _link(pmc_url(article.pmcid), article.pmcid) if article and article.pmcid else "",
            "DOI": _link(doi_url(article.doi), article.doi) if article and article.doi else "",
            "Licence": self._licence_html(result),
            "Modality": html.escape(modality_text(result)),
            "Collection": html.escape(", ".join(result.collections or (result.collection,))),
            "File": _link(QUrl.fromLocalFile(str(result.image_path)).toString(), str(result.image_path)),
            "Match": self._why_html(result, scale) if scale is not None else "",
        }
        for name, value in values.items():
            label = self._meta_labels[name]
            label.setText(value)
            label.setVisible(bool(value))
            label.setToolTip(MATCH_HELP.get(scale, "") if name == "Match" else "")
            key_item = self.meta.itemAtPosition(META_ROWS.index(name), 0)
            key_item.widget().setVisible(bool(value))
        self._pixmap = self._images.pixmap(result.image_path)
        self._render_image()

    @staticmethod
    def _licence_html(result: SearchResult) -> str:
        article = result.article
        if article and article.license:
            text = html.escape(article.license)
            return _link(article.license_url, article.license) if article.license_url else text
        return "<i>Unknown — check the source before reusing this figure</i>"

    @staticmethod
    def _why_html(result: SearchResult, scale: ScoreScale) -> str:
        why = result.why
        parts = [f"<b>{html.escape(level_word(result, scale))}</b>", html.escape(why_text(result, scale))]
        if why.vector_rank is not None:
            parts.append(f"image rank {why.vector_rank}")
        if why.keyword_rank is not None and why.keyword_bonus:
            parts.append(f"caption keyword rank {why.keyword_rank}")
        return " · ".join(parts)

    def _on_image_ready(self, path: str) -> None:
        if self.result is not None and str(self.result.image_path) == path:
            self._pixmap = self._images.pixmap(path)
            if self._pixmap is None:
                self.image_label.setText(f"The image file cannot be read: {self._images.failure(path) or path}")
            self._render_image()

    def _render_image(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            if self.result is not None and self._images.failure(self.result.image_path) is None:
                self.image_label.setText("Loading…")
            return
        width = max(200, self.image_label.width() - 4)
        height = max(200, min(int(self.height() * 0.55), self._pixmap.height()))
        self.image_label.setPixmap(
            self._pixmap.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                Qt.TransformationMode.SmoothTransformation)
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render_image()

    def shutdown(self) -> None:
        """Stop decoding full-size images (the window is closing)."""
        self._images.shutdown()
