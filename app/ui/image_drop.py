"""Drag and drop and paste for the main window: images become the image half of the query.

A mixin because Qt delivers these as the window's own event handlers; it needs `controller`, `statusBar()`,
`show_problem` and `set_query_image` from the window. Files and links are decoded in a worker; a failure gives
one plain banner and the status bar goes back to idle. Nothing raised here may escape into Qt's event dispatch.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from app.controller import QueryImage
from app.problems import Problem, describe_error
from app.ui.image_input import download_query_image, image_source_from_mime, load_query_image, query_image_from_qimage
from engine.errors import UserInputError

logger = logging.getLogger(__name__)


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
            self.show_problem(describe_error(error))
            return
        except Exception as error:  # a bug must not escape into Qt's event dispatch
            logger.exception("reading dropped data failed")
            self.show_problem(describe_error(error))
            return
        if isinstance(source, QueryImage):
            self.set_query_image(source)
        else:
            self._load_image_in_worker(source)

    def _load_image_in_worker(self, source: QUrl | Path) -> None:
        request_id = self.controller.requests.next("query-image")  # a later drop wins over a slower earlier one
        if isinstance(source, QUrl):
            job, argument, doing = download_query_image, source.toString(), f"Downloading {source.toString()} …"
        else:
            job, argument, doing = load_query_image, source, f"Reading {source.name} …"
        self.statusBar().showMessage(doing)

        def loaded(image: QueryImage) -> None:
            if self.controller.requests.is_current("query-image", request_id):
                self.statusBar().show_idle()
                self.set_query_image(image)

        def failed(error: BaseException) -> None:
            if self.controller.requests.is_current("query-image", request_id):
                logger.info("query image refused: %s", error)
                self.statusBar().show_idle()
                self.show_problem(describe_error(error))

        self.controller.run_job(job, argument, on_return=loaded, on_error=failed)

    def paste_image(self) -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not (mime.hasImage() or mime.hasUrls()):
            return False
        if mime.hasImage():
            try:
                self.set_query_image(query_image_from_qimage(mime.imageData(), "Pasted image"))
            except UserInputError as error:
                self.show_problem(describe_error(error))
            except Exception as error:  # never into Qt's event dispatch
                logger.exception("pasting an image failed")
                self.show_problem(Problem("The pasted image cannot be used.", str(error)))
            return True
        self.accept_image_data(mime)
        return True
