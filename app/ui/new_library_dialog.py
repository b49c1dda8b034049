"""A new library with a model of the user's choice: the registry's models, the bundled demo model, a local
checkpoint, or a model folder exported by pmc-trainer. A library keeps its model, so choosing a model means
choosing a (new) library folder for it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
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

from app.model_names import describe_model
from app.ui.model_actions import CHECKPOINT_FILTER, unique_library_dir
from app.ui.settings_dialog import available_models
from engine.types import ModelSpec

DEMO = "__demo__"
LOCAL_CHECKPOINT = "__local__"
LOCAL_FOLDER = "__local_dir__"


class NewLibraryDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New library")
        self.setMinimumWidth(560)
        self._local: str | None = None
        self.model = QComboBox()
        for name in available_models():
            self.model.addItem(describe_model(ModelSpec(name=name)).title + f" ({name})", name)
        self.model.addItem("Demo model (bundled)", DEMO)
        self.model.addItem("Local checkpoint…", LOCAL_CHECKPOINT)
        self.model.addItem("Exported model folder…", LOCAL_FOLDER)
        self.model.activated.connect(self._on_model_chosen)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.folder = QLineEdit()
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("", self.about)
        form.addRow("New library folder", folder_row)
        form.addRow(buttons)
        self._on_model_chosen(self.model.currentIndex())

    def _on_model_chosen(self, index: int) -> None:
        choice = self.model.itemData(index)
        if choice == LOCAL_CHECKPOINT:
            self._local, _ = QFileDialog.getOpenFileName(self, "Choose a PMC-CLIP checkpoint", "", CHECKPOINT_FILTER)
        elif choice == LOCAL_FOLDER:
            self._local = QFileDialog.getExistingDirectory(self, "Choose a model folder exported by pmc-trainer")
        if choice in (LOCAL_CHECKPOINT, LOCAL_FOLDER) and not self._local:
            self.model.setCurrentIndex(0)
            return self._on_model_chosen(0)
        spec = self._spec()
        model = describe_model(spec)
        download = f" Its weights are downloaded once ({model.download})." if model.download else ""
        self.about.setText(f"{model.title}: {model.knows}{download}")
        stem = Path(self._local).stem if self._local else choice.replace("__demo__", "demo-model")
        self.folder.setText(str(unique_library_dir(stem)))

    def _spec(self) -> ModelSpec:
        choice = self.model.currentData()
        if choice == DEMO:
            from app.demo import demo_model_spec

            return demo_model_spec() or ModelSpec()
        if choice == LOCAL_CHECKPOINT:
            return ModelSpec(name="pmc-clip", weights=self._local)
        if choice == LOCAL_FOLDER:
            return ModelSpec(name=f"local-dir:{self._local}")
        return ModelSpec(name=choice)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the new library")
        if path:
            self.folder.setText(path)

    def chosen(self) -> tuple[ModelSpec, Path]:
        return self._spec(), Path(self.folder.text().strip()).expanduser()
