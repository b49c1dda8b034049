"""Turning what the user drops or pastes into the image half of a query — or a clear "that is not an image".

Order matters for browser drags: they usually carry the image bytes *and* the page/URL; the bytes win because
they need no download. A local file is checked cheaply (PIL header or DICOM preamble) before it is accepted.
"""

from __future__ import annotations

import html
import io
import logging
import re
import urllib.request
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, QUrl
from PySide6.QtGui import QImage

from app.controller import QueryImage
from engine.errors import ImageDecodeError, UserInputError
from engine.imaging import image_from_bytes, is_dicom_file

logger = logging.getLogger(__name__)

_IMG_SRC = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 15


def query_image_from_file(path: Path) -> QueryImage:
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"“{path.name}” is a folder, not an image. To search its images, use “Add folder…”.")
    if not path.is_file():
        raise UserInputError(f"“{path.name}” is not a file that can be opened.")
    if is_dicom_file(path):
        return QueryImage(label=path.name, path=path)
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UserInputError(
            f"“{path.name}” is not an image. Drop a PNG, JPEG, TIFF or DICOM file, or an image from a web page."
        ) from error
    return QueryImage(label=path.name, path=path)


def pil_from_qimage(qimage: QImage):
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    qimage.save(buffer, "PNG")
    buffer.close()
    with Image.open(io.BytesIO(bytes(data))) as image:
        return image.convert("RGB")


def query_image_from_qimage(qimage: QImage, label: str = "Pasted image") -> QueryImage:
    if qimage is None or qimage.isNull():
        raise UserInputError("The pasted data is not an image.")
    return QueryImage(label=label, image=pil_from_qimage(qimage))


def image_source_from_mime(mime: QMimeData) -> QueryImage | QUrl:
    """A ready QueryImage, or a remote URL that must be downloaded (off the GUI thread) first.

    Raises UserInputError when nothing in the data is an image.
    """
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            label = "Dropped image"
            if mime.hasUrls() and mime.urls():
                label = mime.urls()[0].fileName() or label
            return query_image_from_qimage(image, label)
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                return query_image_from_file(Path(url.toLocalFile()))
            if url.scheme() in ("http", "https"):
                return url
    if mime.hasHtml():  # some browsers drag only the <img> markup
        match = _IMG_SRC.search(mime.html())
        if match and match.group(1).startswith(("http://", "https://")):
            return QUrl(html.unescape(match.group(1)))
    raise UserInputError(
        "That is not an image. Drop a PNG, JPEG, TIFF or DICOM file, or an image from a web page."
    )


def download_query_image(url: str) -> QueryImage:
    """Fetch an image dragged from a web page (runs in a worker; size- and time-limited)."""
    request = urllib.request.Request(url, headers={"User-Agent": "pmc-figure-search"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (http/https only)
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as error:
        raise UserInputError(f"Could not download the dropped image ({error}).") from error
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise UserInputError("The dropped image is larger than 50 MB.")
    name = QUrl(url).fileName() or url
    try:
        pil = image_from_bytes(data, name)  # the engine's decoding: DICOM, 16-bit, size limits
    except ImageDecodeError as error:
        raise UserInputError(f"The dropped link does not point to an image this program reads ({error}).") from error
    return QueryImage(label=name, image=pil)
