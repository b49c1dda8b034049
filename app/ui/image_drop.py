"""Drag and drop and paste for the main window: images become the image half of the query.

A mixin because Qt delivers these as the window's own event handlers; it needs `notice`, `controller`,
`statusBar()` and `set_query_image` from the window.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from app.ui.image_input import download_query_image, image_source_from_mime, query_image_from_qimage
from engine.errors import UserInputError


class ImageDropMixin:
    def dragEnterEvent(self, event) -> None:
        # Accept anything: images become queries, and anything else gets a message instead of a silent "no".
        event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        event.acceptProposedAction()
        self.accept_image_data(event.mimeData())

    def accept_image_data(self, mime) -> None:
        """Dropped or pasted data → an image query; anything else → a message and no other change."""
        try:
            source = image_source_from_mime(mime)
        except UserInputError as error:
            self.notice.show_message(html.escape(str(error)), "error")
            return
        if isinstance(source, QUrl):
            self.statusBar().showMessage(f"Downloading {source.toString()} …")
            self.controller.run_job(
                download_query_image, source.toString(), on_return=self.set_query_image,
                on_error=lambda e: self.notice.show_message(html.escape(str(e)), "error"),
            )
            return
        self.set_query_image(source)

    def paste_image(self) -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not (mime.hasImage() or mime.hasUrls()):
            return False
        if mime.hasImage():
            try:
                self.set_query_image(query_image_from_qimage(mime.imageData(), "Pasted image"))
            except UserInputError as error:
                self.notice.show_message(html.escape(str(error)), "error")
            return True
        self.accept_image_data(mime)
        return True
