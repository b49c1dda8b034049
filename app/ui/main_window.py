"""The main window: search field on top, results in the middle, status bar with device and library."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QLineEdit, QMainWindow, QToolBar, QVBoxLayout, QWidget

PRODUCT_NAME = "PMC Figure Search"


class MainWindow(QMainWindow):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(PRODUCT_NAME)
        self.resize(1280, 800)

        self.search_field = QLineEdit(placeholderText="Search figures: e.g. “CT of a pneumothorax with chest tube”")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setObjectName("searchField")

        self.empty_state = QLabel(
            f"<h1>{PRODUCT_NAME}</h1>"
            "<p>Your library is empty. Add a folder of images or import PubMed Central articles to start searching.</p>"
        )
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setObjectName("emptyState")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.search_field)
        layout.addWidget(self.empty_state, 1)
        self.setCentralWidget(central)

        self.add_folder_action = QAction("Add folder…", self)
        self.import_pmc_action = QAction("Import PMC articles…", self)
        focus_search = QAction("Focus search", self, shortcut=QKeySequence("Ctrl+L"))
        focus_search.triggered.connect(self.search_field.setFocus)
        self.addAction(focus_search)
        toolbar = QToolBar("Library", self)
        toolbar.addAction(self.add_folder_action)
        toolbar.addAction(self.import_pmc_action)
        self.addToolBar(toolbar)
        self.statusBar().showMessage("No library open")
