"""`pmc-search --selftest [--screenshot out.png]`: prove the packaged app works, without a person.

Offscreen, through the real window: opens a library — when no `--library` is given (or it does not exist yet), the
demo library, built in a temporary folder from the first 24 bundled demo figures and the bundled demo model — and
runs four things a user does: a text query, an image query with a bundled JPEG (dropped as a file; it is in the
library, so it must come back as its own best match), an image query with a bundled DICOM (a synthetic chest CT:
pydicom's decoding and the VOI window run as for a scanner's file), and opening the detail pane. Optionally saves a
screenshot. Exits 0 only when every step returned figures.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.build_info import describe
from engine import paths
from engine.errors import PmcSearchError

logger = logging.getLogger(__name__)

TEXT_QUERY = "chest CT"
QUERY_JPEG = ("demo-figures", "bone_radiograph-01.jpg")  # among the first SELFTEST_FIGURES demo figures
SELFTEST_FIGURES = 24  # a demo library this size builds in seconds and still ranks figures of several kinds
QUERY_DICOM = ("selftest", "chest-ct.dcm")


class SelftestFailure(Exception):
    pass


@dataclass(frozen=True)
class SelftestLibrary:
    path: Path
    temp_dir: Path | None  # removed at the end when the self-test made it


def _wait_for(app, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SelftestFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def _window_size(text: str | None) -> tuple[int, int]:
    """"1024x700" → (1024, 700); the self-test's default is 1280×800."""
    if not text:
        return 1280, 800
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise SelftestFailure(f"--window-size wants WIDTHxHEIGHT, e.g. 1024x700, not {text!r}") from error
    return width, height


def _settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # let thumbnails arrive so the screenshot shows them
        app.processEvents()
        time.sleep(0.02)


def _run_query(app, window, start, timeout_s: float, what: str):
    """Start a query through the GUI and wait for the results that belong to it (or the error it shows)."""
    pages = []
    errors = []

    def on_results(_request_id, page):
        if page is not None:
            pages.append(page)

    window.controller.results_ready.connect(on_results)
    window.controller.error.connect(errors.append)
    notice_before = window.notice.text
    try:
        start()
        _wait_for(app, lambda: pages or errors or window.notice.text != notice_before, timeout_s, what)
    finally:
        window.controller.results_ready.disconnect(on_results)
        window.controller.error.disconnect(errors.append)
    if errors or not pages:
        raise SelftestFailure(f"{what} failed: {errors[0] if errors else window.notice.text}")
    if not pages[-1].results:
        raise SelftestFailure(f"{what} returned no figures")
    return pages[-1]


def _bundled(*parts: str) -> Path:
    path = paths.resource_path(*parts)
    if not path.is_file():
        raise SelftestFailure(f"a bundled file is missing: {path}")
    return path


def _prepare_library(args, spec, device: str, encoder_factory) -> SelftestLibrary:
    from app import demo

    library_dir = Path(args.library).expanduser() if getattr(args, "library", None) else None
    temp_dir = None
    if library_dir is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="pmc-selftest-"))
        library_dir = temp_dir / "library"
    if not paths.is_library(library_dir):
        figures = library_dir.parent / "selftest-figures"
        print(f"selftest: building the demo library in {library_dir}", file=sys.stderr)
        demo.build_demo_library(
            library_dir, spec, figures_dir=figures, count=SELFTEST_FIGURES, factory=encoder_factory, device=device
        ).close()
    return SelftestLibrary(library_dir, temp_dir)


def _open_window(app, args, settings, library: SelftestLibrary, spec, encoder_factory, timeout_s: float):
    from app.library_opener import library_opener
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow

    controller = AppController(library_opener(encoder_factory))
    window = MainWindow(controller, settings=settings.with_changes(library_path=str(library.path)))
    window.resize(*_window_size(getattr(args, "window_size", None)))
    window.show()
    opened, failures = [], []
    window.controller.library_opened.connect(opened.append)
    window.controller.error.connect(failures.append)
    window.controller.library_locked.connect(lambda p: failures.append(f"library {p} is in use"))
    window.controller.model_missing.connect(failures.append)
    window.controller.open_library(library.path, spec, device=settings.device, offline=settings.offline)
    _wait_for(app, lambda: opened or failures, timeout_s, "the library to open")
    if failures:
        raise SelftestFailure(f"the library did not open: {failures[0]}")
    return window


def _drop_file(window, path: Path) -> None:
    """A file dropped onto the window, as an image-only query (Esc first clears the text of the last query)."""
    from PySide6.QtCore import QMimeData, QUrl

    window.clear_query()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.accept_image_data(mime)


def _run_queries(app, window, timeout_s: float) -> dict[str, int]:
    def type_text():
        window.search_field.setText(TEXT_QUERY)
        window.search_bar.submit_now()

    counts = {"text": len(_run_query(app, window, type_text, timeout_s, "the text query").results)}
    jpeg = _bundled(*QUERY_JPEG)
    page = _run_query(app, window, lambda: _drop_file(window, jpeg), timeout_s, "the JPEG image query")
    best = Path(page.results[0].image_path).name
    if best != jpeg.name:  # the query is one of the library's figures: nothing can be closer to it than itself
        raise SelftestFailure(f"the JPEG query's best match is {best}, not the figure itself ({jpeg.name})")
    counts["jpeg"] = len(page.results)
    dicom = _bundled(*QUERY_DICOM)
    page = _run_query(app, window, lambda: _drop_file(window, dicom), timeout_s, "the DICOM image query")
    counts["dicom"] = len(page.results)
    window.open_detail()
    return counts


def run_selftest(args, *, encoder_factory=None, timeout_s: float = 300.0) -> int:
    """`encoder_factory`: how models are built (None: the real ones; tests pass a fake)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app import demo
    from app.gui_main import create_application
    from app.settings import load_settings

    app = create_application()
    settings = load_settings()
    spec = demo.demo_model_spec() or settings.model_spec
    library = window = None
    try:
        library = _prepare_library(args, spec, settings.device, encoder_factory)
        window = _open_window(app, args, settings, library, spec, encoder_factory, timeout_s)
        counts = _run_queries(app, window, timeout_s)
        _settle(app, 0.5)
        if getattr(args, "screenshot", None) and not window.grab().save(str(args.screenshot)):
            raise SelftestFailure(f"could not write the screenshot {args.screenshot}")
        print(
            f"selftest: ok — pmc-search {describe()}; text query {counts['text']} figures, "
            f"JPEG query {counts['jpeg']} figures (best match: itself), DICOM query {counts['dicom']} figures; "
            f"{window.device_label.text()}; logs in {paths.log_dir()}"
        )
        return 0
    except (SelftestFailure, PmcSearchError) as failure:
        logger.error("selftest failed: %s", failure)
        print(f"selftest: FAILED — {failure}", file=sys.stderr)
        return 1
    finally:
        if window is not None:
            window.close()
            _wait_for(app, lambda: window.shut_down, 60, "the library to close")
        if library is not None and library.temp_dir is not None:
            shutil.rmtree(library.temp_dir, ignore_errors=True)
