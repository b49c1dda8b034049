
import pytest

from tests.app.event_loop_probe import EventLoopProbe

pytestmark = pytest.mark.gui


def _source(tmp_path, images=20, texts=2):
    from tests.app.fake_library import make_figures

    folder = tmp_path / "new-source"
    make_figures(folder, images)
    for i in range(texts):
        (folder / f"readme-{i}.txt").write_text("x")
    return folder


def test_indexing_reports_progress_errors_and_the_new_counts(make_window, qtbot, tmp_path):
    window, opener = make_window(batch_delay=0.02)
    source = _source(tmp_path)
    progress = []
    window.controller.ingest_progress.connect(progress.append)
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=5000) as finished:
        window.add_sources([source], "folder")
    report = finished.args[0]
    assert not report.cancelled and report.added == 20 and report.failed == 2
    assert [p.done for p in progress] == sorted(p.done for p in progress) and progress[-1].done == 22
    assert all(p.total == 22 for p in progress)
    panel = window.library_panel
    assert panel.indexing.errors.count() == 2 and "not an image" in panel.indexing.errors.item(0).text()
    assert "20 added" in panel.indexing.detail.text() and "2 skipped" in panel.indexing.detail.text()
    qtbot.waitUntil(lambda: panel.collections.count() == 2 and "20 figures" in panel.collections.item(1).text(),
                    timeout=3000)
    assert panel.summary.text() == "32 figures in 2 collection(s)"
    panel.indexing.dismiss_button.click()
    assert not panel.indexing.isVisible() and panel.indexing.errors.count() == 0


def test_cancel_stops_the_worker_between_batches(make_window, qtbot, tmp_path):
    window, opener = make_window(batch_delay=0.15, batches=20)
    source = _source(tmp_path, images=40, texts=0)
    with qtbot.waitSignal(window.controller.ingest_progress, timeout=5000):
        window.add_sources([source], "folder")
    assert window.library_panel.indexing.cancel_button.isVisible()
    with qtbot.waitSignal(window.controller.ingest_running_changed, timeout=3000) as stopped:
        window.library_panel.indexing.cancel_button.click()
    assert stopped.args == [False]
    assert "Stopped" in window.library_panel.indexing.detail.text()
    assert not window.controller.ingest_running
    assert not window.library_panel.indexing.cancel_button.isVisible()


def test_pause_holds_the_job_and_resume_finishes_it(make_window, qtbot, tmp_path):
    window, opener = make_window(batch_delay=0.05, batches=6)
    source = _source(tmp_path, images=12, texts=0)
    progress = []
    window.controller.ingest_progress.connect(progress.append)
    with qtbot.waitSignal(window.controller.ingest_progress, timeout=5000):
        window.add_sources([source], "folder")
    with qtbot.waitSignal(window.controller.ingest_paused_changed, timeout=3000):
        window.library_panel.indexing.pause_button.click()
    assert window.library_panel.indexing.pause_button.text() == "Resume"
    seen = len(progress)
    qtbot.wait(300)
    assert len(progress) <= seen + 1  # at most the batch that was already running
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=5000):
        window.library_panel.indexing.pause_button.click()
    assert progress[-1].done == 12


def test_gui_thread_stays_responsive_and_search_works_while_indexing(make_window, qtbot, tmp_path):
    """A slow encoder (0.25 s per batch, in the worker) must never freeze the window for 200 ms."""
    window, opener = make_window(batch_delay=0.25, batches=8)
    source = _source(tmp_path, images=16, texts=0)
    probe = EventLoopProbe(interval_ms=20)
    probe.start()
    try:
        window.add_sources([source], "folder")
        qtbot.waitUntil(lambda: window.controller.ingest_running, timeout=3000)
        window.search_field.setText("chest")
        window.search_bar.submit_now()
        qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
        assert window.controller.ingest_running  # the search came back while indexing went on
        with qtbot.waitSignal(window.controller.ingest_finished, timeout=10_000):
            pass
    finally:
        probe.stop()
    gaps = probe.gaps
    assert len(gaps) > 50
    assert max(gaps) < 0.2, f"GUI thread blocked for {max(gaps) * 1000:.0f} ms"


def test_removing_a_collection_asks_then_updates_the_panel(make_window, qtbot, monkeypatch):
    window, opener = make_window()
    asked = []
    monkeypatch.setattr(window.actions, "ask_yes_no", lambda q: asked.append(q) or True)
    window.library_panel.collections.item(0).setSelected(True)
    window.library_panel.remove_button.click()
    qtbot.waitUntil(lambda: window.library_panel.collections.count() == 0, timeout=3000)
    assert asked and "files on disk stay" in asked[0]
    assert opener.opened[0].collections() == []
