"""Settings: which model, which device, where the library lives, and whether downloads are allowed."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.settings import AppSettings

logger = logging.getLogger(__name__)

LOCAL_CHECKPOINT = "__local__"
LOCAL_FOLDER = "__local_dir__"


def available_models() -> list[str]:
    from engine.models import list_models  # torch: already imported in the background by the time Settings opens

    return list_models()


def available_devices() -> list[tuple[str, str]]:
    """(device name, label) pairs after "auto"."""
    from engine.models.device import list_devices

    return [(d.name, d.label or d.name) for d in list_devices()]


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self._local_weights = settings.weights

        self.model = QComboBox()
        for name in available_models():
            self.model.addItem(name, name)
        self.model.addItem("Local checkpoint…", LOCAL_CHECKPOINT)
        self.model.addItem("Exported model folder…", LOCAL_FOLDER)
        if settings.weights and self.model.findData(settings.model_name) < 0:
            self.model.insertItem(0, settings.model_name, settings.model_name)
        self.model.setCurrentIndex(max(0, self.model.findData(settings.model_name)))
        self.model.activated.connect(self._on_model_chosen)
        self.weights_label = QLabel(settings.weights or "Weights: downloaded on first use")
        self.weights_label.setWordWrap(True)

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

        note = QLabel(
            "An existing library keeps the model it was built with; a new model applies to new libraries. "
            "Device changes apply when the library is reopened."
        )
        note.setWordWrap(True)
        note.setObjectName("settingsNote")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("", self.weights_label)
        form.addRow("Device", self.device)
        form.addRow("Library folder", library_row)
        form.addRow("", self.offline)
        form.addRow(note)
        form.addRow(buttons)

    def _on_model_chosen(self, index: int) -> None:
        choice = self.model.itemData(index)
        if choice not in (LOCAL_CHECKPOINT, LOCAL_FOLDER):
            self._local_weights = None
            self.weights_label.setText("Weights: downloaded on first use")
            return
        if choice == LOCAL_CHECKPOINT:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a PMC-CLIP checkpoint", "", "Checkpoints (*.pt *.pth *.bin *.safetensors);;All files (*)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose a model folder exported by pmc-trainer")
        if path:
            self._local_weights = path
            self.weights_label.setText(f"Weights: {path}")
        else:
            self.model.setCurrentIndex(0)

    def _choose_library(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Library folder", self.library.text())
        if path:
            self.library.setText(path)

    def result_settings(self) -> AppSettings:
        model = self.model.currentData()
        weights = self._local_weights
        if model == LOCAL_CHECKPOINT:
            model = "pmc-clip"  # the official architecture with the chosen weights
        elif model == LOCAL_FOLDER and weights:
            model, weights = f"local-dir:{weights}", None  # an exported folder carries its own config
        elif model == LOCAL_FOLDER:
            model = self._settings.model_name
        return self._settings.with_changes(
            model_name=model,
            weights=weights,
            device=self.device.currentData(),
            library_path=self.library.text().strip(),
            offline=self.offline.isChecked(),
        )
