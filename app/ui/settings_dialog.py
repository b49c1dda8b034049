"""Settings: the open library and its model (which belongs to the library), the device, which library folder to
open, and whether downloads are allowed."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model_names import describe_model
from app.settings import AppSettings

logger = logging.getLogger(__name__)

MODEL_BELONGS_TO_LIBRARY = (
    "The model belongs to the library: every figure in it was indexed with this model, and only the same model "
    "can search it. To search with another model, make a new library for it; this one stays as it is."
)


def available_models() -> list[str]:
    from engine.models import list_models  # torch: already imported in the background by the time Settings opens

    return list_models()


def available_devices() -> list[tuple[str, str]]:
    """(device name, label) pairs after "auto"."""
    from engine.models.device import list_devices

    return [(d.name, d.label or d.name) for d in list_devices()]


def _plain(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, library_info=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self.wants_new_library = False  # "New library with another model…" was clicked

        self.device = QComboBox()
        self.device.addItem("Automatic (best available)", "auto")
        for name, label in available_devices():
            self.device.addItem(label if label == name else f"{label} ({name})", name)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))

        self.library = QLineEdit(str(settings.library_dir))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_library)
        library_row = QHBoxLayout()
        library_row.addWidget(self.library, 1)
        library_row.addWidget(browse)

        self.offline = QCheckBox("Work offline (never download model files)")
        self.offline.setChecked(settings.offline)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Library folder", library_row)
        form.addRow("", self.offline)
        form.addRow(_plain("Device changes apply when the library is reopened (they reopen it now).", "settingsNote"))
        layout = QVBoxLayout(self)
        layout.addWidget(self._library_box(library_info))
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _library_box(self, info) -> QGroupBox:
        box = QGroupBox("Open library")
        form = QFormLayout(box)
        if info is None:
            self.model_label = _plain("No library is open.", "settingsModel")
            form.addRow("Model", self.model_label)
        else:
            model = describe_model(info.model_spec)
            form.addRow("Library", _plain(str(info.path), "settingsLibrary"))
            self.model_label = _plain(model.title, "settingsModel")
            form.addRow("Model", self.model_label)
            form.addRow("", _plain(f"Knows: {model.knows}"))
        form.addRow(_plain(MODEL_BELONGS_TO_LIBRARY, "settingsModelNote"))
        self.new_library_button = QPushButton("New library with another model…")
        self.new_library_button.clicked.connect(self._new_library)
        form.addRow(self.new_library_button)
        return box

    def _new_library(self) -> None:
        self.wants_new_library = True
        self.reject()  # the window opens the new-library dialog once this one is closed

    def _choose_library(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Library folder", self.library.text())
        if path:
            self.library.setText(path)

    def result_settings(self) -> AppSettings:
        return self._settings.with_changes(
            device=self.device.currentData(),
            library_path=self.library.text().strip(),
            offline=self.offline.isChecked(),
        )
