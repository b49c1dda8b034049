"""GUI test helpers: settings in the tmp home, a fake library, and a guard that no worker thread outlives a test."""

from __future__ import annotations

import threading
import time

import pytest


def pytest_configure(config):
    # pytest-qt fails every test in which an exception escapes a Qt event handler or slot (it hooks sys.excepthook
    # around each test phase). That check must never be switched off for the GUI tests.
    if config.getini("qt_no_exception_capture"):
        raise pytest.UsageError("qt_no_exception_capture must stay off: GUI tests fail on escaped exceptions")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("qt_no_exception_capture"):
            raise pytest.UsageError(f"{item.nodeid}: qt_no_exception_capture is not allowed in the GUI tests")


@pytest.fixture(autouse=True)
def no_exception_in_python_threads():
    """Fails a test in which a plain Python thread died of an exception (pytest-qt covers Qt's handlers)."""
    died: list[str] = []
    previous = threading.excepthook

    def record(args):
        died.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")
        previous(args)

    threading.excepthook = record
    yield
    threading.excepthook = previous
    assert not died, f"exceptions escaped in threads: {died}"


@pytest.fixture(autouse=True)
def qsettings_in_tmp_home(isolated_home):
    from app.settings import configure_qsettings

    configure_qsettings()
    yield


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Fails a test that leaves a worker (search, indexing, thumbnails, model load) running after it ends.

    Set up before qtbot, so it is torn down after qtbot has closed the test's windows (closeEvent stops jobs).
    Checks Qt's pools (where our workers run) and plain Python threads a test started (e.g. a prefetch pool).
    """
    before = set(threading.enumerate())
    yield
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication
    from shiboken6 import isValid

    from app.ui.thumbnails import ALL_POOLS

    # A pool deleted with its window has already waited for its threads (QThreadPool's destructor does).
    pools = [QThreadPool.globalInstance(), *(p for p in list(ALL_POOLS) if isValid(p))]
    deadline = time.monotonic() + 2.0  # a job told to stop may finish its current step
    while any(p.activeThreadCount() for p in pools) and time.monotonic() < deadline:
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
        time.sleep(0.01)
    busy = {repr(p): p.activeThreadCount() for p in pools if p.activeThreadCount()}
    assert not busy, f"worker threads still running after the test: {busy}"

    def stray_threads():
        return [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
                and not isinstance(t, threading._DummyThread)]  # Qt's pool threads show up as dummies

    while stray_threads() and time.monotonic() < deadline + 1.0:
        time.sleep(0.01)
    assert not stray_threads(), f"Python threads still running after the test: {stray_threads()}"


@pytest.fixture
def fake_model_controller():
    """An AppController whose libraries are real engine libraries with the FakeEncoder (tests/fakes) as model."""
    from app.library_opener import library_opener
    from app.ui.app_controller import AppController
    from tests.fakes import FakeEncoder

    def build(delay: float = 0.0, dim: int = 32) -> AppController:
        return AppController(library_opener(lambda spec, device, offline, progress: FakeEncoder(dim=dim, delay=delay)))

    return build


@pytest.fixture
def figures_dir(tmp_path):
    return tmp_path / "figures"


@pytest.fixture
def make_window(qtbot, figures_dir):
    """A shown MainWindow over a FakeLibrary; returns (window, opener)."""
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow
    from tests.app.fake_library import fake_opener

    def build(open_library: bool = True, **library_kwargs):
        opener = fake_opener(figures_dir, **library_kwargs)
        window = MainWindow(AppController(opener))
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        if open_library:
            with qtbot.waitSignal(window.controller.library_opened, timeout=5000):
                window.controller.open_library(figures_dir.parent / "library", window.settings.model_spec)
            qtbot.waitUntil(lambda: window.library_panel.collections.count() > 0, timeout=5000)
        return window, opener

    return build
