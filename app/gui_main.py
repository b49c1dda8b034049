"""Starts the Qt application and the main window, and opens the last library (or offers the demo one)."""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.gc_policy import freeze_long_lived_objects
from app.library_opener import library_opener
from app.settings import APPLICATION, ORGANIZATION, configure_qsettings, load_settings, load_window_state
from app.ui.app_controller import AppController
from app.ui.main_window import PRODUCT_NAME, MainWindow
from engine.paths import is_library
from engine.types import ModelSpec

if TYPE_CHECKING:
    from engine.library import EncoderFactory

logger = logging.getLogger(__name__)


def create_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(PRODUCT_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(PRODUCT_NAME)
    configure_qsettings()
    from app.ui.style import apply_style

    apply_style(app)
    return app


def start_demo(window: MainWindow, spec: ModelSpec) -> None:
    """Open (creating if needed) the demo library with `spec` and index the bundled demo figures into it."""
    from app import demo

    figures = demo.demo_figures_dir()
    demo.write_demo_figures(figures)
    controller = window.controller  # the window remembers the demo library as the one to reopen once it opens

    def opened(info):
        disconnect()
        if not info.figures:  # a demo library built before is only reopened
            controller.add_sources([figures], "folder", "Demo figures")

    def disconnect():
        controller.library_opened.disconnect(opened)
        controller.library_failed.disconnect(disconnect)  # a failed open must not add demo figures to a later one

    controller.library_opened.connect(opened)
    controller.library_failed.connect(disconnect)
    controller.open_library(demo.demo_library_dir(), spec, device=window.settings.device)


def build_window(args=None, controller: AppController | None = None, *, open_library: bool = True) -> MainWindow:
    """The window with remembered settings and geometry; opens the last library, or offers the demo one
    (`open_library=False`: the caller does that with `open_first_library` once the window is on screen)."""
    from app import demo

    settings = load_settings()
    if args is not None and getattr(args, "library", None):
        settings = settings.with_changes(library_path=str(Path(args.library).expanduser()))
    spec = demo.demo_model_spec()
    window = MainWindow(controller, settings=settings, demo_available=spec is not None)
    geometry, state = load_window_state()
    if geometry is not None:
        window.restoreGeometry(geometry)
    if state is not None:
        window.restoreState(state)
    if spec is not None:
        window.demo_requested.connect(lambda: start_demo(window, spec))
    if open_library:
        open_first_library(window, args)
    return window


def open_first_library(window: MainWindow, args=None) -> None:
    """The last library (its model loads in a worker), or on a first `make run` the demo library."""
    from app import demo

    spec = demo.demo_model_spec()
    library_dir = window.settings.library_dir
    if spec is not None and getattr(args, "demo_if_empty", False) and not is_library(library_dir):
        start_demo(window, spec)  # a first launch from `make run` lands on a working library
    elif is_library(library_dir):
        window.open_library(library_dir)


def _import_model_code() -> None:
    importlib.import_module("engine.models")
    freeze_long_lived_objects()  # torch + transformers: keep full GC passes from stalling the window


def run_gui(args, *, encoder_factory: EncoderFactory | None = None) -> int:
    """The window first (within about a second), then everything slow: the library and its model load in a
    worker while the window says so."""
    app = create_application()
    controller = AppController(library_opener(encoder_factory))
    window = build_window(args, controller, open_library=False)
    window.finished_closing.connect(app.quit)
    if getattr(args, "startup_probe", None):
        from app.startup_probe import StartupProbe

        window.startup_probe = StartupProbe(window, args.startup_probe)
    window.show()
    app.processEvents()  # the first paint happens before anything slow is started

    def load() -> None:
        open_first_library(window, args)
        # Importing the model code (torch) takes seconds; do it now in the background rather than when the user
        # first opens Settings or adds a folder, which would freeze the window.
        threading.Thread(target=_import_model_code, daemon=True).start()

    QTimer.singleShot(0, load)
    return app.exec()


__all__ = ["APPLICATION", "build_window", "create_application", "run_gui"]
