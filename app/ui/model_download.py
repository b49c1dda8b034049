"""Model downloads in the window: "Get PMC-CLIP" (a dialog with size, progress and a Cancel that really cancels),
and the progress dialog shown while a library's model downloads as it opens.

The bytes are fetched by `engine.hub.fetch` in a worker; its progress callback runs on the worker thread and
reaches the dialog through a Qt signal (queued to the GUI thread). Cancel sets an event that `fetch` checks between
chunks: the worker stops within one chunk, and the partial file stays so the next attempt resumes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.controller import format_eta
from app.problems import describe_error
from engine.errors import CancelledError

logger = logging.getLogger(__name__)


def describe_download(progress) -> str:
    """"Downloading text_encoder.pth / 50 of 200 MB · 5.0 MB/s · about 30 s left"."""
    total = progress.total_bytes or 0
    text = f"Downloading {progress.filename}\n{progress.done_bytes / 1e6:,.0f}"
    text += f" of {total / 1e6:,.0f} MB" if total else " MB"
    if progress.rate_bps:
        text += f" · {progress.rate_bps / 1e6:.1f} MB/s"
    if progress.eta_seconds:
        text += f" · {format_eta(progress.eta_seconds)}"
    return text


def fetch_files(files: Sequence, *, progress: Callable[[int, object], None], cancel: Callable[[], bool]) -> list[Path]:
    """Fetch each file (already verified copies are kept); `progress(index, DownloadProgress)`. Runs in a worker."""
    from engine.hub import fetch

    paths = []
    for index, remote in enumerate(files):
        paths.append(fetch(remote, offline=False, cancel=cancel, progress=lambda p, i=index: progress(i, p)))
    return paths


class _Progress(QObject):
    changed = Signal(int, object)  # file index, engine.hub.DownloadProgress (emitted on the worker thread)


class GetModelDialog(QDialog):
    """Downloads a model's files at once, showing what, how much, how fast; Cancel stops the transfer."""

    downloaded = Signal()

    def __init__(self, title: str, size_text: str, files: Sequence, run_job, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Get {title}")
        self.setMinimumWidth(480)
        self.files, self._run_job = list(files), run_job
        self._cancel = threading.Event()
        self.state = "idle"  # "downloading", "done", "cancelled", "failed"
        intro = QLabel(
            f"{title} is downloaded once from Hugging Face ({size_text}, {len(self.files)} files) and then works "
            "without internet. Your libraries stay as they are: the new model gets a library of its own."
        )
        intro.setWordWrap(True)
        self.file_label = QLabel("Starting…")
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.buttons = QDialogButtonBox()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; what has arrived is kept, and the next download resumes it")
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QVBoxLayout(self)
        for widget in (intro, self.file_label, self.bar, self.detail_label, self.buttons):
            layout.addWidget(widget)
        self._progress = _Progress(self)
        self._progress.changed.connect(self._show_progress, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        self.state = "downloading"
        self._run_job(
            fetch_files, self.files, progress=self._progress.changed.emit, cancel=self._cancel.is_set,
            on_return=self._finished, on_error=self._failed,
        )
        self.open()

    def cancel(self) -> None:
        if self.state != "downloading":
            self.reject()
            return
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self.file_label.setText("Cancelling…")

    def reject(self) -> None:  # Esc and the window's close button cancel too, never leave a download behind
        if self.state == "downloading":
            self.cancel()
            return
        super().reject()

    def _show_progress(self, index: int, progress) -> None:
        if self.state != "downloading":
            return
        self.file_label.setText(f"File {index + 1} of {len(self.files)}: {progress.filename}")
        total = progress.total_bytes or 0
        self.bar.setRange(0, 1000 if total else 0)
        if total:
            self.bar.setValue(int(1000 * progress.done_bytes / total))
        self.detail_label.setText(describe_download(progress).split("\n", 1)[-1])

    def _finished(self, _paths) -> None:
        self.state = "done"
        self.downloaded.emit()
        self.accept()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, CancelledError):
            self.state = "cancelled"
            logger.info("model download cancelled")
            super().reject()
            return
        self.state = "failed"
        logger.warning("model download failed: %s", error)
        problem = describe_error(error)
        self.file_label.setText(problem.summary)
        self.detail_label.setText(problem.details)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)


class ModelDownloadDialog(QProgressDialog):
    """While a library opens and its model's files arrive: non-blocking; "Hide" only hides this dialog."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Downloading the model…", "Hide", 0, 1000, parent)
        self.setWindowTitle("Downloading model")
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)

    def show_progress(self, progress) -> None:
        total = progress.total_bytes or 0
        self.setLabelText(describe_download(progress))
        self.setRange(0, 1000 if total else 0)  # unknown size: a busy bar
        if total:
            self.setValue(int(1000 * progress.done_bytes / total))
