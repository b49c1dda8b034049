"""`make run` on a fresh machine: the bundled demo model and figures give a working library, and it finds things."""

import argparse

import pytest
from PySide6.QtCore import Qt

from engine import paths

pytestmark = pytest.mark.gui

needs_bundle = pytest.mark.skipif(
    not (paths.resource_path("demo-model") / "config.json").is_file(), reason="resources/demo-model is not bundled"
)


def _launch(qtbot):
    from app.gui_main import build_window

    args = argparse.Namespace(library=None, demo_if_empty=True, selftest=False)
    window = build_window(args)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


@needs_bundle
def test_first_launch_builds_the_demo_library_and_a_text_query_finds_the_right_kind(qtbot):
    from app import demo

    window = _launch(qtbot)
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=60_000) as finished:
        pass
    assert finished.args[0].added == len(demo.bundled_demo_figures()) == 121
    assert finished.args[0].failed == 0

    window.search_field.setText("chest radiograph")
    with qtbot.waitSignal(window.controller.results_ready, timeout=20_000):
        qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    top = [r.image_path.name for r in window.results_model.results()[:5]]
    # The demo model learned the synthetic figure kinds: the five best hits for this query are chest films.
    assert all(name.startswith("chest_radiograph") for name in top), top
    window.close()
    qtbot.waitUntil(lambda: window.shut_down, timeout=30_000)  # the library is saved and closed in a worker

    second = _launch(qtbot)  # the next launch reopens the same library, nothing rebuilt
    qtbot.waitUntil(lambda: second.library_info is not None, timeout=30_000)
    assert second.library_info.figures == 121
    second.close()
    qtbot.waitUntil(lambda: second.shut_down, timeout=30_000)
