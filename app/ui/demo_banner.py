"""The banner that says the open library uses the demo model: its name, what it knows, and the ways to a real one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.model_names import PMC_CLIP_DOWNLOAD, ModelDescription


class DemoBanner(QFrame):
    get_model_requested = Signal()
    local_checkpoint_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("demoBanner")
        self.setStyleSheet(
            "#demoBanner { background:#fff7e0; border:1px solid #ecd391; border-radius:4px; }"
            " #demoBanner QLabel { color:#4d3800; }"
        )
        self.title = QLabel()
        self.title.setObjectName("demoBannerTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setObjectName("demoBannerText")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.get_button = QPushButton(f"Get PMC-CLIP ({PMC_CLIP_DOWNLOAD})")
        self.get_button.setToolTip("Download PMC-CLIP, the model trained on PubMed Central figures, and make a "
                                   "library for it")
        self.get_button.clicked.connect(self.get_model_requested)
        self.checkpoint_button = QPushButton("Use a local checkpoint…")
        self.checkpoint_button.setToolTip("A PMC-CLIP checkpoint file or an exported model folder on this computer")
        self.checkpoint_button.clicked.connect(self.local_checkpoint_requested)
        top = QHBoxLayout()  # title and the two ways out on one row: the banner stays short on small screens
        top.addWidget(self.title, 1)
        top.addWidget(self.get_button)
        top.addWidget(self.checkpoint_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self.hide()

    def show_for(self, model: ModelDescription) -> None:
        self.title.setText(f"Demo library — {model.title.lower()}")
        self.body.setText(
            f"The demo model is {model.knows} For real figures, get PMC-CLIP or use a checkpoint you have: it gets "
            "a library of its own, and this demo stays as it is."
        )
        self.show()
