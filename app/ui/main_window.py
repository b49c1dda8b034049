"""The main window: search bar on top, library + filters on the left, results grid, detail pane on the right.

It only wires widgets to the AppController; everything slow happens in the controller's workers. The window
owns its settings, its actions and its pages; other code talks to it through its public methods and signals.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.controller import QueryImage, SearchState
from app.match_text import unknown_words_text
from app.settings import AppSettings, save_settings
from app.ui.app_controller import AppController
from app.ui.describe_view import DescribeDialog
from app.ui.detail_pane import DetailPaneWidget
from app.ui.filters_panel import FiltersWidget
from app.ui.image_drop import ImageDropMixin
from app.ui.library_panel import LibraryPanelWidget
from app.ui.model_download import ModelDownloadDialog, offline_message
from app.ui.notice import NoticeBanner
from app.ui.results_model import RESULT_ROLE, ResultsListModel, display_label
from app.ui.results_page import ResultsPageWidget
from app.ui.results_view import ResultsGridView
from app.ui.search_bar import SearchBarWidget
from app.ui.thumbnails import ThumbnailCache
from app.ui.window_actions import WindowActions, needs_reopen
from engine.types import ScoreScale

logger = logging.getLogger(__name__)

PRODUCT_NAME = "PMC Figure Search"
PAGE_EMPTY, PAGE_MESSAGE, PAGE_RESULTS = range(3)


class MainWindow(ImageDropMixin, QMainWindow):
    demo_requested = Signal()  # "Try the demo library" was clicked (gui_main builds the demo)

    def __init__(
        self,
        controller: AppController | None = None,
        *,
        settings: AppSettings | None = None,
        demo_available: bool = False,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle(PRODUCT_NAME)
        self.setObjectName("mainWindow")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.controller = controller or AppController(parent=self)
        self.settings = settings or AppSettings()
        self.library_info = None
        self.last_page = None
        self._demo_available = demo_available
        self._download_dialog: ModelDownloadDialog | None = None
        self.describe_dialog: DescribeDialog | None = None
        self._closing = False
        self.actions = WindowActions(self)

        self._build_actions()
        self._build_search_bar()
        self._build_results()
        self._build_pages()
        self._build_layout()
        self._build_toolbar()
        self._build_status_bar()
        self.actions.install_shortcuts()
        self._connect()
        self.show_library_state()

    # ---------------------------------------------------------------------------------------- builders
    def _build_actions(self) -> None:
        self.add_folder_action = QAction("Add folder…", self, toolTip="Index every image in a folder (and below)")
        self.import_pmc_action = QAction(
            "Import PMC articles…", self, toolTip="Index figures of PMC article packages (.tar.gz) or .nxml files"
        )
        self.import_pmc_folder_action = QAction("Import PMC article folder…", self)
        for action in (self.add_folder_action, self.import_pmc_action):
            action.setIconText(action.text())  # tool buttons would otherwise drop the "…" that promises a dialog
        self.settings_action = QAction("Settings…", self)

    def _build_search_bar(self) -> None:
        self.search_bar = SearchBarWidget()
        self.search_field = self.search_bar.field
        self.search_field.installEventFilter(self)

    def _build_results(self) -> None:
        self.thumbnails = ThumbnailCache(parent=self)
        self.results_model = ResultsListModel(self.thumbnails, self)
        self.grid = ResultsGridView()
        self.grid.setModel(self.results_model)
        self.grid.open_requested.connect(self.open_detail)
        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.results_page = ResultsPageWidget(self.grid)

    def _build_pages(self) -> None:
        self.empty_state = QLabel(
            f"<h1>{PRODUCT_NAME}</h1>"
            "<p>Find figures from PubMed Central articles and your own image folders by describing them "
            "(“MRI of a meningioma”) or by dropping an image.</p>"
            "<p>Your library is empty. Add a folder of images or import PubMed Central articles to start searching.</p>"
        )
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setMaximumWidth(680)
        self.demo_button = QPushButton("Try the demo library")
        self.demo_button.setObjectName("demoButton")
        self.demo_button.clicked.connect(self.demo_requested)
        self.demo_button.hide()
        self.message = QLabel()
        self.message.setObjectName("pageMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.pages.addWidget(self.message)
        self.pages.addWidget(self.results_page)
        self.notice = NoticeBanner()

    def _empty_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        # Centred by stretches, not an alignment flag: with a flag the layout ignores the wrapped text's height.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.empty_state, 100)
        row.addStretch(1)
        layout.addLayout(row)
        for action in (self.add_folder_action, self.import_pmc_action):
            button = QPushButton(action.text())
            button.setObjectName("emptyStateButton")
            button.clicked.connect(action.trigger)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _build_layout(self) -> None:
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(self.notice)
        center_layout.addWidget(self.pages, 1)

        self.library_panel = LibraryPanelWidget(self.add_folder_action, self.import_pmc_action)
        self.filters = FiltersWidget()
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.library_panel)
        left.addWidget(self.filters)
        left.setStretchFactor(0, 1)
        self.detail = DetailPaneWidget()
        self.detail.hide()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 980, 0])
        self.splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(250)
        self.detail.setMinimumWidth(340)
        self.setCentralWidget(self.splitter)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Search", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.search_bar)
        toolbar.addSeparator()
        import_menu = QMenu(self)
        import_menu.addAction(self.import_pmc_folder_action)
        self.import_pmc_action.setMenu(import_menu)
        toolbar.addAction(self.settings_action)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("Device: not loaded")
        self.device_label.setObjectName("deviceLabel")
        self.library_label = QLabel("No library open")
        self.library_label.setObjectName("libraryLabel")
        self.statusBar().addPermanentWidget(self.library_label)  # permanent: messages never cover it
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Ready")

    # ---------------------------------------------------------------------------------------- wiring
    def _connect(self) -> None:
        c = self.controller
        self.search_bar.query_changed.connect(self.update_query)
        self.filters.changed.connect(self.update_query)
        c.library_opening.connect(self._on_library_opening)
        c.library_opened.connect(self._on_library_opened)
        c.library_failed.connect(self._close_download_dialog)
        c.library_failed.connect(self.show_library_state)
        c.library_closed.connect(self._on_library_closed)
        c.results_ready.connect(self._on_results)
        c.searching_changed.connect(self._on_searching)
        c.collections_changed.connect(self._on_collections)
        c.facets_changed.connect(self.filters.set_facets)
        c.error.connect(self.show_error)
        c.library_locked.connect(self.actions.offer_read_only)
        c.model_offline.connect(self._on_model_offline)
        c.model_progress.connect(self._on_model_progress)
        self._connect_indexing()
        self.add_folder_action.triggered.connect(self._add_folder)
        self.import_pmc_action.triggered.connect(self._import_pmc_files)
        self.import_pmc_folder_action.triggered.connect(self._import_pmc_folder)
        self.settings_action.triggered.connect(self.actions.open_settings)
        self.detail.find_similar_requested.connect(self.find_similar)
        self.detail.describe_requested.connect(lambda r: self.describe(r.figure_id, display_label(r)))
        self.search_bar.describe_requested.connect(lambda image: self.describe(image.describe_target(), image.label))
        c.captions_ready.connect(self._on_captions)
        c.figure_ready.connect(lambda result: self._show_detail(result, scale=None))
        self.detail.copy_image_requested.connect(self.actions.copy_figure)
        self.detail.export_requested.connect(self.actions.export_citation)
        self.detail.close_requested.connect(self.detail.hide)

    def _connect_indexing(self) -> None:
        c, indexing = self.controller, self.library_panel.indexing
        c.ingest_running_changed.connect(indexing.set_running)
        c.ingest_source_started.connect(indexing.start_source)
        c.ingest_progress.connect(indexing.show_progress)
        c.ingest_finished.connect(indexing.show_report)
        c.ingest_paused_changed.connect(indexing.set_paused)
        indexing.pause_toggled.connect(lambda paused: c.pause_ingest() if paused else c.resume_ingest())
        indexing.cancel_requested.connect(c.cancel_ingest)
        self.library_panel.remove_requested.connect(self._remove_collection)

    # ---------------------------------------------------------------------------------------- messages
    def show_error(self, text: str) -> None:
        """The one place errors are shown: plain text (escaped here), in the banner above the results."""
        self.notice.show_message(html.escape(text), "error")

    def show_info(self, text: str) -> None:
        self.notice.show_message(html.escape(text), "info")

    # ---------------------------------------------------------------------------------------- settings
    def apply_settings(self, new: AppSettings) -> None:
        """Adopt and remember new settings; reopen the library when the change concerns it."""
        old, self.settings = self.settings, new
        save_settings(new)
        if needs_reopen(old, new) and (self.controller.library is not None or new.library_dir != old.library_dir):
            self.open_library(new.library_dir)

    def open_library(self, path: Path, *, read_only: bool = False) -> None:
        """Open `path` with the current settings' model, device and offline mode."""
        s = self.settings
        self.controller.open_library(path, s.model_spec, device=s.device, offline=s.offline, read_only=read_only)

    # ---------------------------------------------------------------------------------------- query
    def update_query(self) -> None:
        # The minimum score is read on the scale these results will be shown on: closeness with an image.
        self.filters.set_scale(ScoreScale.CLOSENESS if self.search_bar.image is not None else ScoreScale.STRENGTH)
        state = SearchState(
            text=self.search_bar.text,
            image=self.search_bar.image,
            filters=self.filters.filters(),
            min_score=self.filters.min_score(),
            sort=self.filters.sort_order(),
        )
        self.controller.set_state(state)
        if state.is_empty:
            self.show_library_state()

    def set_query_image(self, image: QueryImage) -> None:
        self.notice.hide()
        self.search_bar.set_image(image)

    def find_similar(self, result) -> None:
        """Figures like this one, from its stored vector (nothing is re-encoded)."""
        self.set_query_image(
            QueryImage(label=f"Similar to {display_label(result)}", path=Path(result.image_path),
                       figure_id=result.figure_id)
        )

    def focus_search(self) -> None:
        self.search_field.setFocus()
        self.search_field.selectAll()

    def clear_query(self) -> None:
        self.search_bar.clear()
        self.search_field.setFocus()

    def _on_searching(self, searching: bool) -> None:
        if searching:
            self.statusBar().showMessage("Searching…")

    def _on_results(self, request_id: int, page) -> None:
        if page is None:
            self.results_model.set_results([])
            self.search_bar.set_unknown_words("")
            self.show_library_state()
            return
        verdict = page.verdict
        self.results_model.set_results(page.results, verdict.scale)
        self.results_page.show_verdict(verdict)
        self.search_bar.set_unknown_words(unknown_words_text(verdict))
        n = len(page.results)
        capped = " (the best matches; refine the query to see others)" if n >= self.controller.state.limit else ""
        self.statusBar().showMessage(f"{n:,} figure(s) in {page.elapsed_ms:.0f} ms{capped}", 8000)
        if n:
            self._set_page(PAGE_RESULTS)
            self.grid.setCurrentIndex(self.results_model.index(0))
        else:
            self.message.setText(
                f"<h2>No figures match</h2><p>{html.escape(verdict.message)}</p><p>Try other words, lower the "
                "minimum score, or clear the filters on the left.</p>"
            )
            self._set_page(PAGE_MESSAGE)

    def _set_page(self, page: int) -> None:
        self.last_page = page
        self.pages.setCurrentIndex(page)

    def show_library_state(self) -> None:
        """The centre when no query is typed: empty-library help, or what the open library holds."""
        info = self.library_info
        if info is None or info.figures == 0:
            self.demo_button.setVisible(self._demo_available and info is None)
            self._set_page(PAGE_EMPTY)
            return
        self.message.setText(
            f"<h2>Search {info.figures:,} figures</h2>"
            "<p>Type what you are looking for — a finding, a modality, a stain — or drop an image "
            "(PNG, JPEG, TIFF, DICOM) anywhere on this window to find figures that look like it.</p>"
            "<p style='color:#56606e'>Ctrl+L search · arrows move · Enter opens · Ctrl+C copies · Esc clears</p>"
        )
        self._set_page(PAGE_MESSAGE)

    # ---------------------------------------------------------------------------------------- detail
    def open_detail(self, index: QModelIndex | None = None) -> None:
        index = index if index is not None and index.isValid() else self.grid.currentIndex()
        result = index.data(RESULT_ROLE) if index.isValid() else None
        if result is None:
            return
        self._show_detail(result, scale=self.results_model.scale)

    def _show_detail(self, result, *, scale: ScoreScale | None) -> None:
        """Show a figure in the detail pane (`scale`: it is one of the results, shown on that scale)."""
        self.detail.show_result(result, self.search_bar.text, scale)
        if not self.detail.isVisible():
            self.detail.show()
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([280, max(400, total - 280 - 440), 440])

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.detail.isVisible() and current.isValid():
            self.open_detail(current)

    def describe(self, image, label: str) -> None:
        """Open the Describe view for a figure id, an image file or a pasted image; the captions come later."""
        if self.describe_dialog is None:
            self.describe_dialog = DescribeDialog(self.thumbnails, self)
            self.describe_dialog.figure_requested.connect(self.controller.fetch_figure)
        self.describe_dialog.show_loading(html.escape(label))
        self.describe_dialog.show()
        self.describe_dialog.raise_()
        self.controller.describe(image, label)

    def _on_captions(self, label: str, matches) -> None:
        if self.describe_dialog is not None:
            self.describe_dialog.show_matches(html.escape(label), matches)

    def current_result(self):
        index = self.grid.currentIndex()
        return index.data(RESULT_ROLE) if index.isValid() else None

    # ---------------------------------------------------------------------------------------- library
    def _on_library_opened(self, info) -> None:
        self.library_info = info
        reason = info.device_reason or ""
        self.device_label.setText(f"Device: {info.device or '?'}" + (f" — {reason}" if reason else ""))
        self.device_label.setToolTip(reason)
        self.statusBar().showMessage(f"Library {info.path} · model {info.model_id}", 10_000)
        self.library_panel.summary.setText(f"{info.figures:,} figures · {info.path}")
        self.library_label.setText(f"Library: {info.path}")
        read_only = " (read-only)" if info.read_only else ""
        self.setWindowTitle(f"{PRODUCT_NAME} — {Path(info.path).name}{read_only}")
        self._close_download_dialog()
        if not info.read_only and str(info.path) != str(self.settings.library_dir):
            self.settings = self.settings.with_changes(library_path=str(info.path))
            save_settings(self.settings)  # the last library opens again next time
        for action in (self.add_folder_action, self.import_pmc_action, self.import_pmc_folder_action):
            action.setEnabled(not info.read_only)
        self.library_panel.remove_button.setVisible(not info.read_only)
        if self.search_bar.image is None and not self.search_bar.text:
            self.show_library_state()

    def _on_library_opening(self, path: str) -> None:
        self.statusBar().showMessage(f"Opening library {path} …")
        self.message.setText(
            "<h2>Opening the library…</h2><p>Loading the search model. The first time, its weights are "
            "downloaded (about 600 MB); afterwards this takes a few seconds.</p>"
        )
        self._set_page(PAGE_MESSAGE)

    def _on_library_closed(self) -> None:
        self.library_info = None
        self.library_label.setText("No library open")
        self.setWindowTitle(PRODUCT_NAME)
        self.results_model.set_results([])
        self.show_library_state()

    def _on_collections(self, collections) -> None:
        self.library_panel.set_collections(collections)
        self.filters.set_collections(collections)
        if self.library_info is not None:
            figures = sum(c.figures for c in collections)
            self.library_info = dataclasses.replace(self.library_info, figures=figures, collections=tuple(collections))
            if self.search_bar.image is None and not self.search_bar.text.strip():
                self.show_library_state()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of figures")
        if folder:
            self.add_sources([Path(folder)], "folder")

    def _import_pmc_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import PMC articles", "", "PMC articles (*.tar.gz *.tgz *.nxml *.xml);;All files (*)"
        )
        if files:
            self.add_sources([Path(f) for f in files], "auto")

    def _import_pmc_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a PMC article folder (or a folder of packages)")
        if folder:
            self.add_sources([Path(folder)], "auto")

    def add_sources(self, sources: list[Path], kind: str) -> None:
        """Index `sources`; with no library open yet, the settings' library is opened (or created) first."""
        controller = self.controller
        if controller.library is not None:
            controller.add_sources(sources, kind)
            return

        def opened(_info):
            disconnect()
            controller.add_sources(sources, kind)

        def disconnect():
            controller.library_opened.disconnect(opened)
            controller.library_failed.disconnect(disconnect)  # a failed open must not run this on a later one

        controller.library_opened.connect(opened)
        controller.library_failed.connect(disconnect)
        self.open_library(self.settings.library_dir)

    def _remove_collection(self, collection_id: int) -> None:
        if self.actions.ask_yes_no("Remove this collection from the library? The files on disk stay."):
            self.controller.remove_collection(collection_id)

    def _on_model_offline(self, message: str) -> None:
        self._close_download_dialog()
        self.notice.show_message(offline_message(message), "error")

    def _on_model_progress(self, progress) -> None:
        if self._download_dialog is None:
            self._download_dialog = ModelDownloadDialog(self)
        self._download_dialog.show_progress(progress)

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.close()
            self._download_dialog = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search_field and event.type() == QEvent.Type.KeyPress:
            if event.matches(QKeySequence.StandardKey.Paste) and self.paste_image():
                return True  # an image on the clipboard becomes the query image instead of text
            if event.key() == Qt.Key.Key_Escape:
                self.clear_query()
                return True
            if event.matches(QKeySequence.StandardKey.Copy) and not self.search_field.hasSelectedText():
                self.actions.copy_figure(self.current_result())  # nothing to copy as text: the figure
                return True
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) and self.results_model.rowCount():
                self.grid.setFocus()  # arrows move from the field into the results
                return True
        return super().eventFilter(watched, event)

    # ---------------------------------------------------------------------------------------- lifetime
    @property
    def shut_down(self) -> bool:
        """True once closing has finished: every job stopped and the library closed and saved."""
        return self._closing and not self.controller.busy and self.controller.library is None

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            super().closeEvent(event)
            return
        # Saving a big library's index takes seconds: hide now, finish in a worker, then really close.
        self._closing = True
        self.actions.remember_window()
        self.thumbnails.shutdown()
        self.detail.shutdown()
        event.ignore()
        self.hide()
        self.controller.shutdown(then=lambda: QTimer.singleShot(0, self.close))  # not inside this event
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
