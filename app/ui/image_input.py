"""Turning what the user drops or pastes into the image half of a query — or a clear "that is not an image".

Order matters for browser drags: they usually carry the image bytes *and* the page/URL; the bytes win because
they need no download. What can be told at once (a folder, a missing file) is told at once; a local file is then
decoded by the engine in a worker (`load_query_image`: DICOM windowing, 16-bit, size limits), which also makes the
chip's small preview, so a corrupt, undecodable or oversized image is refused with one plain sentence and never
reaches the search or freezes the window.
"""

from __future__ import annotations

import html
import io
import logging
import re
import urllib.request
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, QUrl
from PySide6.QtGui import QImage

from app.controller import QueryImage
from app.problems import image_problem
from engine.errors import ImageDecodeError, UserInputError

logger = logging.getLogger(__name__)

_IMG_SRC = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 15


PREVIEW_SIZE = 56  # the chip shows 28 px; twice that for high-density screens


def preview_of(image: Image.Image) -> Image.Image:
    small = image.convert("RGB")
    small.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    return small


def preview_from_file(path: Path) -> Image.Image:
    """The chip's preview of a figure already in the library (runs in a worker)."""
    from engine.imaging import open_image

    return preview_of(open_image(path))


def local_image_path(path: Path) -> Path:
    """The cheap checks, on the GUI thread: a folder or a vanished file is refused at once."""
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"“{path.name}” is a folder, not an image. To search its images, use “Add folder…”.")
    if not path.is_file():
        raise UserInputError(f"“{path.name}” is not a file that can be opened.")
    return path


def load_query_image(path: Path) -> QueryImage:
    """Decode a dropped file with the engine (in a worker) and make the chip's preview."""
    from engine.imaging import is_image_path, open_image

    path = local_image_path(path)
    if not is_image_path(path) and not _pillow_knows(path):
        raise UserInputError(
            f"“{path.name}” is not an image. Drop a PNG, JPEG, TIFF or DICOM file, or an image from a web page."
        )
    try:
        image = open_image(path)
    except ImageDecodeError as error:
        raise UserInputError(f"“{path.name}”: {image_problem(error)}") from error
    return QueryImage(label=path.name, path=path, preview=preview_of(image))


def _pillow_knows(path: Path) -> bool:
    """A file with an unusual name may still be an image: Pillow recognises it from its first bytes."""
    try:
        with Image.open(path):
            return True
    except Exception:  # noqa: BLE001 (any failure here means "not an image we know"; the bomb check is later)
        return False


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
    image = pil_from_qimage(qimage)
    return QueryImage(label=label, image=image, preview=preview_of(image))


def image_source_from_mime(mime: QMimeData) -> QueryImage | QUrl | Path:
    """A ready QueryImage (image data), a local file to decode, or a remote URL to download (both off the GUI
    thread, with `load_query_image` / `download_query_image`).

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
                return local_image_path(Path(url.toLocalFile()))
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
        raise UserInputError("The dropped image could not be downloaded. Check the internet connection.") from error
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise UserInputError("The dropped image is larger than 50 MB.")
    from engine.imaging import image_from_bytes

    name = QUrl(url).fileName() or url
    try:
        pil = image_from_bytes(data, name)  # the engine's decoding: DICOM, 16-bit, size limits
    except ImageDecodeError as error:
        raise UserInputError("The dropped link does not point to an image this program reads.") from error
    return QueryImage(label=name, image=pil, preview=preview_of(pil))
