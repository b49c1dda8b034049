"""The library panel: collections with their counts, add/import/remove, and the indexing job's progress and errors."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.controller import describe_progress
from engine.types import CollectionInfo, IngestProgress, IngestReport

ROLE_ID = Qt.ItemDataRole.UserRole
ROLE_INCOMPLETE = Qt.ItemDataRole.UserRole + 1
KIND_NAMES = {"folder": "Folder", "pmc": "PMC articles", "pmc-oa": "PMC-OA set", "roco": "ROCO set"}


class IndexingWidget(QFrame):
    """Progress bar with count, rate and ETA; pause/resume and cancel; per-file errors below."""

    pause_toggled = Signal(bool)  # True = pause
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("indexingPanel")
        self.title = QLabel("<b>Indexing</b>")
        self.dismiss_button = QToolButton(text="✕", toolTip="Hide this report")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.clicked.connect(self.dismiss)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title, 1)
        title_row.addWidget(self.dismiss_button)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.detail = QLabel()
        self.detail.setObjectName("indexingDetail")
        self.detail.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch; what is indexed so far stays searchable")
        self.cancel_button.clicked.connect(self.cancel_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setToolTip("Copy what this run did and every file it skipped, with the reason")
        self.copy_button.clicked.connect(self.copy_report)
        self.errors_label = QLabel()
        self.errors_label.setObjectName("indexingErrors")
        self.errors = QListWidget()
        self.errors.setObjectName("indexingErrorList")
        self.errors.setMaximumHeight(110)
        self.errors.setWordWrap(True)
        self.errors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wrap, don't scroll sideways
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(title_row)
        for widget in (self.source_label, self.bar, self.detail):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        errors_row = QHBoxLayout()
        errors_row.addWidget(self.errors_label, 1)
        errors_row.addWidget(self.copy_button)
        layout.addLayout(errors_row)
        layout.addWidget(self.errors)
        self._running = False
        self._paused = False
        self._skipped: dict[str, str] = {}  # this run's skipped files: path -> reason (each file once)
        self._last_progress: IngestProgress | None = None
        self.set_running(False)
        self.errors_label.hide()
        self.errors.hide()
        self.copy_button.hide()

    def set_running(self, running: bool) -> None:
        self._running = running
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.pause_button.setVisible(running)
        self.cancel_button.setVisible(running)
        self.bar.setVisible(running)
        self.dismiss_button.setVisible(not running)
        if running:
            self._forget_run()  # the skipped list belongs to its run: a new run starts a new one
            self._paused = False
            self.title.setText("<b>Indexing</b>")
            self.show()
        else:
            self.title.setText("<b>Last indexing run</b>")
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
            self.setVisible(self.errors.count() > 0 or bool(self.detail.text()))

    def dismiss(self) -> None:
        """Forget the last report (errors included) and hide the panel until the next job."""
        self._forget_run()
        self.hide()

    def _forget_run(self) -> None:
        self._skipped.clear()
        self._last_progress = None
        self.errors.clear()
        self.errors.hide()
        self.errors_label.hide()
        self.copy_button.hide()
        self.detail.clear()
        self.source_label.clear()

    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)

    def set_paused(self, paused: bool) -> None:
        """Paused shows paused: the count so far, no rate or time left (they would be stale)."""
        self._paused = paused
        self.title.setText("<b>Indexing — paused</b>" if paused else "<b>Indexing</b>")
        if paused:
            done = self._last_progress.done if self._last_progress else 0
            total = self._last_progress.total if self._last_progress else None
            self.detail.setText("Paused · " + describe_progress(done, total, None, None))
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def start_source(self, collection: CollectionInfo) -> None:
        self.source_label.setText(f"{html.escape(collection.name)}")
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.detail.setText("Looking for figures…")

    def show_progress(self, progress: IngestProgress) -> None:
        self._last_progress = progress
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        for problem in progress.errors:
            self.add_error(problem.path, problem.message)
        if self._paused or progress.phase == "paused":
            self.detail.setText("Paused · " + describe_progress(progress.done, progress.total, None, None))
            return
        text = describe_progress(progress.done, progress.total, progress.rate, progress.eta_seconds)
        self.detail.setText(progress.message or text if progress.phase == "scanning" else text)

    def add_error(self, path: str, message: str) -> None:
        if path in self._skipped:  # each file once, however often it is reported
            return
        self._skipped[path] = message
        # Archive members are "package.tar.gz:member"; the last part is what the user recognises.
        short = path.replace(":", "/").rstrip("/").rsplit("/", 1)[-1]
        item = QListWidgetItem(f"{short} — {message}")
        item.setToolTip(f"{path}\n{message}")
        self.errors.addItem(item)
        self.errors_label.setText(f"{self.errors.count()} file(s) skipped in this run:")
        self.errors_label.show()
        self.errors.show()
        self.copy_button.show()

    def show_report(self, report: IngestReport) -> None:
        verb = "Stopped" if report.cancelled else "Done"
        self.detail.setText(
            f"{verb}: {report.added:,} added, {report.reused:,} unchanged, {report.removed:,} removed"
            + (f", {report.failed:,} skipped" if report.failed else "")
            + (f" in {report.seconds:.0f} s" if report.seconds >= 1 else "")
            + (". The collection is incomplete: select it and click “Resume indexing”." if report.cancelled else "")
        )
        for problem in report.problems:
            self.add_error(problem.path, problem.message)

    def report_text(self) -> str:
        """What the run did and each skipped file with its reason, as plain text for an e-mail or a ticket."""
        lines = [self.source_label.text(), self.detail.text()]
        if self._skipped:
            lines.append(f"{len(self._skipped)} file(s) skipped:")
            lines += [f"{path}\t{message}" for path, message in self._skipped.items()]
        return "\n".join(line for line in lines if line) + "\n"

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text())


def collection_text(collection: CollectionInfo) -> str:
    """"Pleural effusion reading\n52 figures from 7 articles · PMC articles · incomplete"."""
    kind = KIND_NAMES.get(collection.kind, collection.kind)
    counts = f"{collection.figures:,} figures"
    if collection.articles:
        counts += f" from {collection.articles:,} article{'s' if collection.articles != 1 else ''}"
    state = " · incomplete" if collection.status == "incomplete" else ""
    return f"{collection.name}\n{counts} · {kind}{state}"


class LibraryPanelWidget(QFrame):
    remove_requested = Signal(int)  # collection id
    resume_requested = Signal(int)  # collection id: index the rest of an incomplete collection
    browse_requested = Signal(int)  # collection id: show its figures without a query

    def __init__(self, add_folder: QAction, import_pmc: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("libraryPanel")
        heading = QLabel("<b>Library</b>")
        heading_row = QHBoxLayout()
        self.summary = QLabel("No library open")
        self.summary.setObjectName("librarySummary")
        self.summary.setWordWrap(True)
        self.collections = QListWidget()
        self.collections.setObjectName("collectionList")
        self.collections.setWordWrap(True)
        self.collections.itemSelectionChanged.connect(self._update_buttons)
        self.collections.itemClicked.connect(lambda item: self.browse_requested.emit(item.data(ROLE_ID)))
        self.collections.setToolTip("Click a collection to see its figures")
        add_button = QToolButton()
        add_button.setDefaultAction(add_folder)
        add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        import_button = QToolButton()
        import_button.setDefaultAction(import_pmc)
        import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.remove_button = QPushButton("Remove collection")
        self.remove_button.setToolTip("Remove the selected collection from the library (the files stay on disk)")
        self.remove_button.clicked.connect(self._remove_selected)
        self.resume_button = QPushButton("Resume indexing")
        self.resume_button.setToolTip("Index the rest of this collection; what is indexed already is kept")
        self.resume_button.clicked.connect(self._resume_selected)
        self.resume_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(add_button)
        buttons.addWidget(import_button)
        buttons.addStretch(1)
        heading_row.addWidget(heading)
        heading_row.addStretch(1)
        heading_row.addWidget(self.remove_button)
        self.indexing = IndexingWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(heading_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.collections, 1)
        layout.addWidget(self.resume_button)
        layout.addLayout(buttons)
        layout.addWidget(self.indexing)
        self._update_buttons()

    def set_collections(self, collections: list[CollectionInfo]) -> None:
        selected = self.selected_collection_id()
        self.collections.clear()
        total = 0
        for collection in collections:
            total += collection.figures
            item = QListWidgetItem(collection_text(collection))
            item.setData(ROLE_ID, collection.id)
            item.setData(ROLE_INCOMPLETE, collection.status == "incomplete")
            sources = "\n".join(collection.sources or (collection.source,))
            hint = "\nIndexing stopped early: select it and click “Resume indexing”." \
                if collection.status == "incomplete" else ""
            item.setToolTip(sources + hint)
            self.collections.addItem(item)
            if collection.id == selected:
                item.setSelected(True)
        if collections:
            self.summary.setText(f"{total:,} figures in {len(collections)} collection(s)")
        else:
            self.summary.setText("No figures yet. Add a folder of images or import PMC articles.")
        self._update_buttons()

    def selected_collection_id(self) -> int | None:
        items = self.collections.selectedItems()
        return items[0].data(ROLE_ID) if items else None

    def _update_buttons(self) -> None:
        items = self.collections.selectedItems()
        self.remove_button.setEnabled(bool(items))
        self.resume_button.setVisible(bool(items) and bool(items[0].data(ROLE_INCOMPLETE)))

    def set_indexing(self, running: bool) -> None:
        """Resume waits while a run is going (it would queue behind it anyway)."""
        self.resume_button.setEnabled(not running)

    def _resume_selected(self) -> None:
        collection_id = self.selected_collection_id()
        if collection_id is not None:
            self.resume_requested.emit(collection_id)

    def _remove_selected(self) -> None:
        collection_id = self.selected_collection_id()
        if collection_id is not None:
            self.remove_requested.emit(collection_id)
