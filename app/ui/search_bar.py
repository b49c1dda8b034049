"""The search field with its debounce timer and the removable chip that shows the query image."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from app.controller import QueryImage

DEBOUNCE_MS = 300


def _chip_pixmap(image: QueryImage, size: int) -> QPixmap:
    qimage = QImage()
    pil_source = image.preview if image.preview is not None else image.image  # preview: the engine's decoding
    if pil_source is None and image.path is not None:
        qimage.load(str(image.path))
    elif pil_source is not None:
        pil = pil_source.convert("RGB")
        pil.thumbnail((size * 2, size * 2))
        data = pil.tobytes("raw", "RGB")
        qimage = QImage(data, pil.width, pil.height, pil.width * 3, QImage.Format.Format_RGB888).copy()
    if qimage.isNull():
        return QPixmap()
    return QPixmap.fromImage(qimage).scaled(
        QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class ImageChipWidget(QFrame):
    removed = Signal()
    describe_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("imageChip")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        layout.setSpacing(6)
        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(28, 28)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setObjectName("imageChipText")
        self.describe_button = QToolButton(text="Describe", toolTip="Captions in the library that fit this image")
        self.describe_button.setObjectName("imageChipDescribe")
        self.describe_button.setAutoRaise(True)
        self.describe_button.clicked.connect(self.describe_requested)
        self.remove_button = QToolButton(text="✕", toolTip="Remove the image from the query")
        self.remove_button.setObjectName("imageChipRemove")
        self.remove_button.setAutoRaise(True)
        self.remove_button.clicked.connect(self.removed)
        layout.addWidget(self.thumbnail)
        layout.addWidget(self.text)
        layout.addWidget(self.describe_button)
        layout.addWidget(self.remove_button)
        self.hide()

    def show_image(self, image: QueryImage) -> None:
        self.thumbnail.setPixmap(_chip_pixmap(image, 28))
        label = image.label if len(image.label) <= 28 else image.label[:25] + "…"
        self.text.setText(label)
        self.setToolTip(f"Searching by this image: {image.label}")
        self.show()


class SearchBarWidget(QFrame):
    """Emits `query_changed` after typing pauses, at once on Enter, and when the image chip changes."""

    query_changed = Signal()
    describe_requested = Signal(object)  # QueryImage: list the captions that fit the query image

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("searchBar")
        self.image: QueryImage | None = None
        self.chip = ImageChipWidget(self)
        self.chip.removed.connect(self.clear_image)
        self.chip.describe_requested.connect(lambda: self.image and self.describe_requested.emit(self.image))
        self.field = QLineEdit(
            placeholderText="Search figures — e.g. “CT of a pneumothorax with chest tube” — or drop an image"
        )
        self.field.setObjectName("searchField")
        self.field.setClearButtonEnabled(True)
        self.field.setAcceptDrops(False)  # drops go to the window, which turns images into image queries
        self.field.setMinimumHeight(34)
        # Words the model cannot read, named where they were typed ("Not known to this model: pneumothorax").
        self.unknown_label = QLabel()
        self.unknown_label.setObjectName("unknownWords")
        self.unknown_label.setToolTip(
            "The search model's vocabulary has no entry for these words (it would read them letter by letter), and no "
            "caption in this library contains them, so they cannot help the search."
        )
        self.unknown_label.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.chip)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.unknown_label)

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.query_changed)
        self.field.textChanged.connect(lambda _text: self._debounce.start())
        self.field.returnPressed.connect(self.submit_now)

    @property
    def text(self) -> str:
        return self.field.text()

    def set_unknown_words(self, text: str) -> None:
        """Show (or, with "", hide) the note on words the model does not know."""
        self.unknown_label.setText(text)
        self.unknown_label.setVisible(bool(text))

    def submit_now(self) -> None:
        self._debounce.stop()
        self.query_changed.emit()

    def set_image(self, image: QueryImage) -> None:
        self.image = image
        self.chip.show_image(image)
        self.submit_now()

    def clear_image(self) -> None:
        if self.image is None:
            return
        self.image = None
        self.chip.hide()
        self.submit_now()

    def clear(self) -> None:
        """Esc: forget text and image."""
        had_query = bool(self.field.text()) or self.image is not None
        self.image = None
        self.chip.hide()
        self.field.blockSignals(True)
        self.field.clear()
        self.field.blockSignals(False)
        if had_query:
            self.submit_now()
