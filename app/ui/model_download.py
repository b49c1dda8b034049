"""First-run model download: a progress dialog while weights arrive, and the explanation when we are offline."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QProgressDialog, QWidget

from app.controller import format_eta

OFFLINE_HELP = (
    "<b>The model is not on this computer and downloading is switched off.</b><br>{message}<br>"
    "Connect to the internet and untick “Work offline” in Settings, run <code>pmc-search download</code> on a "
    "connected machine and copy its cache folder here, or choose “Local checkpoint…” in Settings."
)


def offline_message(error_text: str) -> str:
    return OFFLINE_HELP.format(message=html.escape(error_text))


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


class ModelDownloadDialog(QProgressDialog):
    """Non-blocking: the download runs in the library-opening worker; "Hide" only hides this dialog."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Downloading the model (first run only)…", "Hide", 0, 1000, parent)
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
