"""The main window: search bar on top, library + filters on the left, results grid, detail pane on the right.

It only wires widgets to the AppController; everything slow happens in the controller's workers. The window
owns its settings, its actions and its pages; other code talks to it through its public methods and signals.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
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
from app.problems import Problem
from app.settings import AppSettings
from app.ui.app_controller import AppController
from app.ui.demo_banner import DemoBanner
from app.ui.describe_view import DescribeDialog
from app.ui.detail_pane import DetailPaneWidget
from app.ui.figure_viewer import FigureViewerWindow
from app.ui.filters_panel import FiltersWidget
from app.ui.image_drop import ImageDropMixin
from app.ui.image_input import preview_from_file
from app.ui.library_panel import LibraryPanelWidget
from app.ui.loading_page import LoadingPage
from app.ui.model_actions import ModelActions, PendingSources
from app.ui.model_download import ModelDownloadDialog
from app.ui.notice import NoticeBanner
from app.ui.pane_layout import DETAIL_MIN, LEFT_MIN
from app.ui.results_model import ResultsListModel, display_label
from app.ui.results_page import ResultsPageWidget
from app.ui.results_view import ResultsGridView
from app.ui.search_bar import SearchBarWidget
from app.ui.status_bar import ElidedLabel, ElidingStatusBar
from app.ui.thumbnails import ThumbnailCache
from app.ui.window_actions import WindowActions
from app.ui.window_detail import WindowDetailMixin
from app.ui.window_library import PRODUCT_NAME, WindowLibraryMixin
from engine.types import ScoreScale

logger = logging.getLogger(__name__)

PAGE_EMPTY, PAGE_MESSAGE, PAGE_RESULTS, PAGE_LOADING = range(4)


class MainWindow(WindowLibraryMixin, WindowDetailMixin, ImageDropMixin, QMainWindow):
    demo_requested = Signal()  # "Try the demo library" was clicked (gui_main builds the demo)
    finished_closing = Signal()  # jobs stopped, library saved and closed: the process may end

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
        self._pending_settings: AppSettings | None = None  # adopted only once the library they open has opened
        self._pending_sources: PendingSources | None = None  # added once the library being opened is open
        self._failed_sources: PendingSources | None = None  # those of an open that just failed (for the choices)
        self._browsing: str | None = None  # the collection shown without a query
        self.viewer: FigureViewerWindow | None = None
        self.startup_probe = None
        self.actions = WindowActions(self)
        self.model_actions = ModelActions(self)
        self.setStatusBar(ElidingStatusBar(self))

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
        self.about_action = QAction("About", self, toolTip="Version, commit, and where files and logs are kept")

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
        self.loading_page = LoadingPage()
        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.pages.addWidget(self.message)
        self.pages.addWidget(self.results_page)
        self.pages.addWidget(self.loading_page)
        self.notice = NoticeBanner()
        self.demo_banner = DemoBanner()

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
        center_layout.addWidget(self.demo_banner)
        center_layout.addWidget(self.notice)
        center_layout.addWidget(self.pages, 1)

        self.library_panel = LibraryPanelWidget(self.add_folder_action, self.import_pmc_action)
        self.filters = FiltersWidget()
        self.left_panel = left = QSplitter(Qt.Orientation.Vertical)
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
        left.setMinimumWidth(LEFT_MIN)
        self.detail.setMinimumWidth(DETAIL_MIN)
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
        toolbar.addAction(self.about_action)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        # Elided to what fits (full text in the tooltip): a long path or device reason never pushes others out.
        self.device_label = ElidedLabel("Device: not loaded", elide=Qt.TextElideMode.ElideRight)
        self.device_label.setObjectName("deviceLabel")
        self.device_label.setMaximumWidth(320)
        self.library_label = ElidedLabel("No library open")
        self.library_label.setObjectName("libraryLabel")
        self.library_label.setMaximumWidth(360)
        self.statusBar().addPermanentWidget(self.library_label, 1)  # permanent: messages never cover it
        self.statusBar().addPermanentWidget(self.device_label, 1)
        self.statusBar().show_idle()

    # ---------------------------------------------------------------------------------------- wiring
    def _connect(self) -> None:
        c = self.controller
        self.search_bar.query_changed.connect(self.update_query)
        self.filters.changed.connect(self.update_query)
        c.library_opening.connect(self._on_library_opening)
        c.library_opened.connect(self._on_library_opened)
        c.library_failed.connect(self._on_library_failed)
        c.library_closed.connect(self._on_library_closed)
        c.results_ready.connect(self._on_results)
        c.searching_changed.connect(self._on_searching)
        c.collections_changed.connect(self._on_collections)
        c.facets_changed.connect(self.filters.set_facets)
        c.error.connect(self.show_problem)
        c.library_locked.connect(self.actions.offer_read_only)
        c.library_read_only.connect(lambda why: self.show_info(f"Opened read-only: {why}."))
        c.library_damaged.connect(self.actions.offer_repair)
        c.model_missing.connect(self._on_model_missing)
        c.model_progress.connect(self._on_model_progress)
        self._connect_indexing()
        self.add_folder_action.triggered.connect(self._add_folder)
        self.import_pmc_action.triggered.connect(self._import_pmc_files)
        self.import_pmc_folder_action.triggered.connect(self._import_pmc_folder)
        self.settings_action.triggered.connect(self.actions.open_settings)
        self.about_action.triggered.connect(self.show_about)
        self.detail.find_similar_requested.connect(self.find_similar)
        self.detail.describe_requested.connect(lambda r: self.describe(r.figure_id, display_label(r)))
        self.search_bar.describe_requested.connect(lambda image: self.describe(image.describe_target(), image.label))
        c.captions_ready.connect(self._on_captions)
        c.figure_ready.connect(lambda result: self._show_detail(result, scale=None))
        self.detail.copy_image_requested.connect(self.actions.copy_figure)
        self.detail.export_requested.connect(self.actions.export_citation)
        self.detail.close_requested.connect(self.close_detail)
        # Double-click or Enter on the detail image opens the viewer (the image takes focus for the Enter).
        self.detail.image_label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.detail.image_label.setToolTip("Double-click or press Enter to open the figure viewer (zoom, pan, full "
                                           "screen)")
        self.detail.image_label.installEventFilter(self)
        self.demo_banner.get_model_requested.connect(lambda: self.model_actions.get_pmc_clip())
        self.demo_banner.local_checkpoint_requested.connect(lambda: self.model_actions.use_local_checkpoint())

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
        self.library_panel.resume_requested.connect(c.resume_collection)
        self.library_panel.browse_requested.connect(self.browse_collection)
        c.ingest_running_changed.connect(self.library_panel.set_indexing)

    # ---------------------------------------------------------------------------------------- messages
    def show_problem(self, problem: Problem) -> None:
        """The one place errors are shown: a plain sentence in the banner above the results, details under it."""
        self.notice.show_problem(problem, "error")
        if self.statusBar().currentMessage() == "Searching…":
            self.statusBar().show_idle()

    def show_error(self, text: str) -> None:
        self.show_problem(Problem(text))

    def show_info(self, text: str) -> None:
        self.notice.show_message(text, "info")

    def show_about(self) -> None:
        from app.ui.about_dialog import AboutDialog

        AboutDialog(PRODUCT_NAME, self).exec()

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
        self._browsing = None
        self.controller.set_state(state)
        if state.is_empty:
            self.show_library_state()

    def browse_collection(self, collection_id: int) -> None:
        """Show a collection's figures without a query (a query typed afterwards searches the whole library)."""
        info = next((c for c in (self.library_info.collections if self.library_info else ()) if c.id == collection_id),
                    None)
        if info is None:
            return
        self.search_bar.clear()
        self._browsing = info.name
        self.controller.browse(collection_id)
    def set_query_image(self, image: QueryImage) -> None:
        self.notice.hide()
        self.search_bar.set_image(image)

    def find_similar(self, result) -> None:
        """Figures like this one, from its stored vector (nothing is re-encoded); the chip's preview is decoded by
        the engine in a worker and follows (a file that is gone still searches, without a preview)."""
        image = QueryImage(label=f"Similar to {display_label(result)}", path=Path(result.image_path),
                           figure_id=result.figure_id)
        self.set_query_image(image)

        def add_preview(preview) -> None:
            if self.search_bar.image == image:
                self.search_bar.chip.show_image(dataclasses.replace(image, preview=preview))

        self.controller.run_job(preview_from_file, Path(result.image_path), on_return=add_preview,
                                on_error=lambda error: logger.info("no preview for the chip: %s", error))

    def focus_search(self) -> None:
        self.search_field.setFocus()
        self.search_field.selectAll()

    def clear_query(self) -> None:
        """Esc: the query, a browsed collection and the detail pane all go; the library's overview comes back."""
        self.search_bar.clear()
        self.close_detail()
        if self._browsing is not None:
            self._browsing = None
            self.controller.requests.invalidate("search")
            self.results_model.set_results([])
            self.show_library_state()
        self.search_field.setFocus()

    def _on_searching(self, searching: bool) -> None:
        if searching:
            self.statusBar().showMessage("Searching…")
        elif self.statusBar().currentMessage() == "Searching…":
            self.statusBar().show_idle()  # a search that failed or was superseded must not leave this behind

    def _on_results(self, request_id: int, page) -> None:
        if page is None:
            self.results_model.set_results([])
            self.search_bar.set_unknown_words("")
            self.show_library_state()
            return
        verdict = page.verdict  # None for a browsed collection: no query, so no match to judge and no score
        self.results_model.set_results(page.results, verdict.scale if verdict is not None else None)
        self.results_page.show_verdict(verdict)
        self.search_bar.set_unknown_words(unknown_words_text(verdict))
        n = len(page.results)
        if self._browsing is not None:
            more = f" (the first {n:,} of {page.total_candidates:,})" if page.total_candidates > n else ""
            self.statusBar().showMessage(f"Collection “{self._browsing}”: {page.total_candidates:,} figures{more}")
        else:
            capped = " (the best matches; refine the query to see others)" if n >= self.controller.state.limit else ""
            self.statusBar().showMessage(f"{n:,} figure(s) in {page.elapsed_ms:.0f} ms{capped}", 8000)
        if n:
            self._set_page(PAGE_RESULTS)
            self.grid.setCurrentIndex(self.results_model.index(0))
        else:
            why = f"<p>{html.escape(verdict.message)}</p>" if verdict is not None else ""
            self.message.setText(
                f"<h2>No figures match</h2>{why}<p>Try other words, lower the minimum score, or clear the filters "
                "on the left.</p>"
            )
            self._set_page(PAGE_MESSAGE)

    def show_loading_page(self, path: Path) -> None:
        self.loading_page.show_opening(path)
        self._set_page(PAGE_LOADING)

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
            "(PNG, JPEG, TIFF, DICOM) anywhere on this window to find figures that look like it. "
            "Click a collection on the left to look through it.</p>"
            "<p style='color:#56606e'>Ctrl+L search · arrows move · Enter opens · Ctrl+C copies · Esc clears · "
            "double-click the figure in the detail for the viewer</p>"
        )
        self._set_page(PAGE_MESSAGE)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        detail = getattr(self, "detail", None)  # events arrive while the window is still being built
        if detail is not None and watched is detail.image_label and self._detail_image_event(event):
            return True
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
            self.finished_closing.emit()  # hidden windows do not count as "last window closed": say it
            return
        # Saving a big library's index takes seconds: hide now, finish in a worker, then really close.
        self._closing = True
        self.actions.remember_window()
        self.model_actions.shutdown()
        self.thumbnails.shutdown()
        self.detail.shutdown()
        event.ignore()
        self.hide()
        self.controller.shutdown(then=lambda: QTimer.singleShot(0, self.close))  # not inside this event
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
