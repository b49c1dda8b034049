"""Figure thumbnails: decoded in a small thread pool, cached on disk under the data dir and in memory.

The grid asks for a pixmap; on a miss it gets None (and paints a placeholder) while a job decodes the image and
writes `<data dir>/thumbnails/<hash>.png`; `ready(path)` then tells the model to repaint that cell. The hash
covers path, size and mtime, so an edited file gets a fresh thumbnail.
"""

from __future__ import annotations

import hashlib
import io
import logging
import weakref
from collections import OrderedDict
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from engine import paths
from engine.fileio import atomic_write_bytes

logger = logging.getLogger(__name__)

# Every cache's pool, so tests can check that no thumbnail thread outlives its test.
ALL_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()


def open_any_image(path: Path) -> Image.Image:
    """Any figure as RGB, through the engine's decoding (DICOM windowing, 16-bit, EXIF rotation, size limits)."""
    from engine.imaging import open_image  # numpy and pydicom: loaded by the first decode, not before the window

    return open_image(path)


def thumbnail_file(path: Path, size: int, cache_dir: Path) -> Path:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}"
    return cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()}.png"


def make_thumbnail_png(path: Path, size: int, cache_dir: Path) -> bytes:
    """PNG bytes of the image scaled to fit `size`×`size`, from the disk cache when present."""
    cached = thumbnail_file(path, size, cache_dir)
    if cached.exists():
        return cached.read_bytes()
    image = open_any_image(path)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    atomic_write_bytes(cached, data)  # a half-written thumbnail is never read back
    return data


class _Signals(QObject):
    loaded = Signal(str, QImage)
    failed = Signal(str, str)


class _ThumbnailJob(QRunnable):
    def __init__(self, path: str, size: int, cache_dir: Path, signals: _Signals):
        super().__init__()
        self.path, self.size, self.cache_dir, self.signals = path, size, cache_dir, signals

    def run(self) -> None:
        try:
            data = make_thumbnail_png(Path(self.path), self.size, self.cache_dir)
            image = QImage.fromData(data)  # QImage (unlike QPixmap) may be built off the GUI thread
            if image.isNull():
                raise ValueError("unreadable thumbnail")
        except Exception as error:  # a broken file gets a "not readable" cell, never a crash
            logger.info("no thumbnail for %s: %s", self.path, error)
            self.signals.failed.emit(self.path, str(error))
            return
        self.signals.loaded.emit(self.path, image)


class ThumbnailCache(QObject):
    ready = Signal(str)  # the path whose pixmap is now available (or failed for good)

    def __init__(self, size: int = 320, cache_dir: Path | None = None, memory_items: int = 600, parent=None):
        super().__init__(parent)
        self.size = size
        self.cache_dir = cache_dir or paths.data_dir() / "thumbnails"
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._memory_items = memory_items
        self._pending: set[str] = set()
        self._failed: dict[str, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        ALL_POOLS.add(self._pool)
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)

    def pixmap(self, path: Path | str) -> QPixmap | None:
        key = str(path)
        pixmap = self._memory.get(key)
        if pixmap is not None:
            self._memory.move_to_end(key)
            return pixmap
        if key not in self._pending and key not in self._failed:
            self._pending.add(key)
            self._pool.start(_ThumbnailJob(key, self.size, self.cache_dir, self._signals))
        return None

    def failure(self, path: Path | str) -> str | None:
        return self._failed.get(str(path))

    def cancel_pending(self) -> None:
        """Drop queued jobs (the results they were for are gone); running ones finish."""
        self._pool.clear()
        self._pending.clear()

    def shutdown(self, msecs: int = 5000) -> None:
        self.cancel_pending()
        self._pool.waitForDone(msecs)

    def _on_loaded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self._memory[path] = QPixmap.fromImage(image)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
        self.ready.emit(path)

    def _on_failed(self, path: str, message: str) -> None:
        self._pending.discard(path)
        self._failed[path] = message
        self.ready.emit(path)
