"""The library panel: one collection per import, per-article counts, incomplete collections resumed, pause that
says paused, a skipped list that belongs to its run, browsing without a query, Esc clearing the detail too."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.app.fake_library import make_figures

pytestmark = pytest.mark.gui


def _folder(tmp_path, name, images=12, texts=0):
    folder = tmp_path / name
    make_figures(folder, images)
    for i in range(texts):
        (folder / f"readme-{i}.txt").write_text("x")
    return folder


def test_a_cancelled_run_marks_its_collection_incomplete_and_resume_completes_it(make_window, qtbot, tmp_path):
    window, opener = make_window(batch_delay=0.1, batches=10)
    panel = window.library_panel
    with qtbot.waitSignal(window.controller.ingest_progress, timeout=5000):
        window.add_sources([_folder(tmp_path, "big", 30)], "folder")
    with qtbot.waitSignal(window.controller.ingest_running_changed, timeout=5000):
        panel.indexing.cancel_button.click()
    qtbot.waitUntil(lambda: panel.collections.count() == 2 and "incomplete" in panel.collections.item(1).text(),
                    timeout=3000)
    assert "Resume" in panel.collections.item(1).toolTip()
    panel.collections.item(1).setSelected(True)
    assert panel.resume_button.isVisible() and panel.resume_button.isEnabled()
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=10_000) as finished:
        panel.resume_button.click()
    assert not finished.args[0].cancelled
    qtbot.waitUntil(lambda: "incomplete" not in panel.collections.item(1).text(), timeout=3000)
    assert "30 figures" in panel.collections.item(1).text()
    assert opener.opened[0].ingest_calls == [2, 2]  # the same collection, not a second one


def test_collections_show_figures_per_article(make_window, qtbot):
    window, _ = make_window()
    text = window.library_panel.collections.item(0).text()
    assert text.splitlines()[1].startswith("12 figures from 12 articles")


def test_pause_says_paused_without_a_stale_rate_and_resume_goes_on(make_window, qtbot, tmp_path):
    window, _ = make_window(batch_delay=0.1, batches=8)
    indexing = window.library_panel.indexing
    with qtbot.waitSignal(window.controller.ingest_progress, timeout=5000):
        window.add_sources([_folder(tmp_path, "f", 16)], "folder")
    qtbot.waitUntil(lambda: "figures/s" in indexing.detail.text(), timeout=5000)
    indexing.pause_button.click()
    assert indexing.title.text() == "<b>Indexing — paused</b>" and indexing.detail.text().startswith("Paused")
    assert "figures/s" not in indexing.detail.text() and "left" not in indexing.detail.text()
    qtbot.wait(500)  # the batch in flight may still report: it must not bring the old rate back
    assert "figures/s" not in indexing.detail.text() and indexing.detail.text().startswith("Paused")
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=10_000):
        indexing.pause_button.click()
    assert indexing.title.text() != "<b>Indexing — paused</b>"


def test_the_skipped_list_belongs_to_its_run_names_each_file_once_and_copies(make_window, qtbot, tmp_path):
    window, _ = make_window()
    indexing = window.library_panel.indexing
    with qtbot.waitSignal(window.controller.ingest_running_changed, timeout=5000,
                          check_params_cb=lambda running: not running):
        window.add_sources([_folder(tmp_path, "first", 4, texts=2)], "folder")
    names = [indexing.errors.item(i).text().split(" — ")[0] for i in range(indexing.errors.count())]
    assert sorted(names) == ["readme-0.txt", "readme-1.txt"]  # reported in progress and report: listed once
    indexing.copy_button.click()
    report = QGuiApplication.clipboard().text()
    assert "2 file(s) skipped" in report and str(tmp_path / "first" / "readme-0.txt") in report
    assert "not an image" in report

    with qtbot.waitSignal(window.controller.ingest_running_changed, timeout=5000,
                          check_params_cb=lambda running: not running):
        window.add_sources([_folder(tmp_path, "second", 4, texts=1)], "folder")
    names = [indexing.errors.item(i).text().split(" — ")[0] for i in range(indexing.errors.count())]
    assert names == ["readme-0.txt"] and "second" in indexing.errors.item(0).toolTip()  # only this run's
    QGuiApplication.clipboard().clear()


def test_a_collection_can_be_browsed_without_a_query_and_esc_clears_everything(make_window, qtbot, tmp_path):
    window, opener = make_window()
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=5000):
        window.add_sources([_folder(tmp_path, "ward scans", 5)], "folder")
    panel = window.library_panel
    qtbot.waitUntil(lambda: panel.collections.count() == 2, timeout=3000)
    item = panel.collections.item(1)
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        panel.collections.itemClicked.emit(item)
    assert window.results_model.rowCount() == 5 and window.search_field.text() == ""
    assert all(r.collection == "ward scans" for r in window.results_model.results())
    assert "ward scans" in window.statusBar().currentMessage()
    assert opener.opened[0].queries == []  # browsing is not a search

    window.grid.setFocus()
    window.open_detail()
    assert window.detail.isVisible()
    qtbot.keyClick(window.grid, Qt.Key.Key_Escape)
    assert not window.detail.isVisible() and window.results_model.rowCount() == 0
