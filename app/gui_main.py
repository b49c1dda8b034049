"""Starts the Qt application and the main window, and opens the last library (or offers the demo one)."""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.gc_policy import freeze_long_lived_objects
from app.settings import APPLICATION, ORGANIZATION, configure_qsettings, load_settings, load_window_state
from app.ui.main_window import PRODUCT_NAME, MainWindow

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


def start_demo(window: MainWindow, spec) -> None:
    """Open (creating if needed) the demo library with `spec` and index the generated demo figures into it."""
    from app import demo
    from app.settings import save_settings

    figures = demo.demo_figures_dir()
    demo.write_demo_figures(figures)
    window.settings = window.settings.with_changes(library_path=str(demo.demo_library_dir()))
    save_settings(window.settings)  # next launch opens the demo library again

    def opened(_info):
        window.controller.library_opened.disconnect(opened)
        if not window.library_panel.collections.count():
            window.controller.add_sources([figures], "folder")

    window.controller.library_opened.connect(opened)
    window.controller.open_library(demo.demo_library_dir(), spec, device=window.settings.device)


def build_window(args=None, controller=None) -> MainWindow:
    """The window with remembered settings and geometry; opens the last library, or offers the demo one."""
    from app import demo
    from app.library_session import library_exists

    settings = load_settings()
    if args is not None and getattr(args, "library", None):
        settings = settings.with_changes(library_path=str(Path(args.library).expanduser()))
    window = MainWindow(controller)
    window.settings = settings
    geometry, state = load_window_state()
    if geometry is not None:
        window.restoreGeometry(geometry)
    if state is not None:
        window.restoreState(state)

    spec = demo.demo_model_spec()
    if spec is not None:
        window.on_demo_requested = lambda: start_demo(window, spec)
    if spec is not None and getattr(args, "demo_if_empty", False) and not library_exists(settings.library_dir):
        start_demo(window, spec)  # a first launch from `make run` lands on a working library
    elif library_exists(settings.library_dir):
        window.controller.open_library(
            settings.library_dir, settings.model_spec, device=settings.device, offline=settings.offline
        )
    else:
        window._show_library_state()
    return window


def _import_model_code() -> None:
    importlib.import_module("engine.models")
    freeze_long_lived_objects()  # torch + transformers: keep full GC passes from stalling the window


def run_gui(args) -> int:
    app = create_application()
    # Importing the model code (torch) takes seconds; do it now in the background rather than when the user
    # first opens Settings or adds a folder, which would freeze the window.
    threading.Thread(target=_import_model_code, daemon=True).start()
    window = build_window(args)
    window.show()
    return app.exec()


__all__ = ["APPLICATION", "build_window", "create_application", "run_gui"]
