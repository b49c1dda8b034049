"""`pmc-search --selftest [--screenshot out.png]`: prove the packaged app works, without a person.

Offscreen: opens a library (builds a small demo library in a temporary folder when none is given or it does
not exist yet), runs a text query and an image query through the real window, optionally saves a screenshot,
and exits 0 only when both queries returned figures.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from engine.errors import PmcSearchError

logger = logging.getLogger(__name__)

TEXT_QUERY = "chest CT"


class SelftestFailure(Exception):
    pass


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


def _first_figure(folder: Path) -> Path | None:
    """A demo figure to drop as the image query (any image format the demo figures come in)."""
    from engine.imaging import is_image_path

    figures = sorted(p for p in folder.iterdir() if is_image_path(p)) if folder.is_dir() else []
    return figures[0] if figures else None


def _run_query(app, window, start, timeout_s: float, what: str):
    """Start a query through the GUI and wait for the results that belong to it."""
    pages = []
    errors = []

    def on_results(_request_id, page):
        if page is not None:
            pages.append(page)

    window.controller.results_ready.connect(on_results)
    window.controller.error.connect(errors.append)
    try:
        start()
        _wait_for(app, lambda: pages or errors, timeout_s, what)
    finally:
        window.controller.results_ready.disconnect(on_results)
        window.controller.error.disconnect(errors.append)
    if errors:
        raise SelftestFailure(f"{what} failed: {errors[0]}")
    if not pages[-1].results:
        raise SelftestFailure(f"{what} returned no figures")
    return pages[-1]


def run_selftest(args, *, encoder_factory=None, timeout_s: float = 300.0) -> int:
    """`encoder_factory`: how models are built (None: the real ones; tests pass a fake)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QMimeData, QUrl

    from app import demo
    from app.gui_main import create_application
    from app.library_opener import library_opener
    from app.settings import load_settings
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow
    from engine.paths import is_library

    app = create_application()
    settings = load_settings()
    spec = demo.demo_model_spec() or settings.model_spec
    temp_dir = None
    library_dir = Path(args.library).expanduser() if getattr(args, "library", None) else None
    window = None
    try:
        if library_dir is None or not is_library(library_dir):
            if library_dir is None:
                temp_dir = Path(tempfile.mkdtemp(prefix="pmc-selftest-"))
                library_dir = temp_dir / "library"
            figures = (temp_dir or library_dir.parent) / "selftest-figures"
            print(f"selftest: building a demo library in {library_dir}", file=sys.stderr)
            demo.build_demo_library(
                library_dir, spec, figures_dir=figures, count=24, factory=encoder_factory, device=settings.device
            ).close()
        query_image = _first_figure(library_dir.parent / "selftest-figures")

        controller = AppController(library_opener(encoder_factory))
        window = MainWindow(controller, settings=settings.with_changes(library_path=str(library_dir)))
        window.resize(*_window_size(getattr(args, "window_size", None)))
        window.show()
        opened = []
        window.controller.library_opened.connect(opened.append)
        failures = []
        window.controller.error.connect(failures.append)
        window.controller.library_locked.connect(lambda p: failures.append(f"library {p} is in use"))
        window.controller.model_missing.connect(failures.append)
        window.controller.open_library(library_dir, spec, device=settings.device, offline=settings.offline)
        _wait_for(app, lambda: opened or failures, timeout_s, "the library to open")
        if failures:
            raise SelftestFailure(f"the library did not open: {failures[0]}")

        def type_text():
            window.search_field.setText(TEXT_QUERY)
            window.search_bar.submit_now()

        text_page = _run_query(app, window, type_text, timeout_s, "the text query")
        if query_image is None:
            query_image = Path(text_page.results[0].image_path)

        def drop_image():
            mime = QMimeData()
            mime.setUrls([QUrl.fromLocalFile(str(query_image))])
            window.accept_image_data(mime)

        image_page = _run_query(app, window, drop_image, timeout_s, "the image query")
        window.open_detail()
        _wait_for(app, lambda: True, 1, "")
        end = time.monotonic() + 0.5
        while time.monotonic() < end:  # let thumbnails arrive so the screenshot shows them
            app.processEvents()
            time.sleep(0.02)
        if getattr(args, "screenshot", None) and not window.grab().save(str(args.screenshot)):
            raise SelftestFailure(f"could not write the screenshot {args.screenshot}")
        print(
            f"selftest: ok — text query {len(text_page.results)} figures, "
            f"image query {len(image_page.results)} figures, device {window.device_label.text()}"
        )
        return 0
    except (SelftestFailure, PmcSearchError) as failure:
        print(f"selftest: FAILED — {failure}", file=sys.stderr)
        return 1
    finally:
        if window is not None:
            window.close()
            _wait_for(app, lambda: window.shut_down, 60, "the library to close")
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
