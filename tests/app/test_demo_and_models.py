"""The demo is visibly the demo, and a missing model is never a dead end: download (with a Cancel that really
cancels), a local checkpoint, or the demo model — in plain words, each ending in a library that opens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.demo import demo_model_spec
from engine.hub import MODEL_FILES
from engine.types import ModelSpec
from tests.app.fake_library import FakeLibrary, fake_opener
from tests.local_hub import ServedFile, online_local_hub

pytestmark = pytest.mark.gui


def _window(qtbot, opener):
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow

    window = MainWindow(AppController(opener))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


class DemoModelLibrary(FakeLibrary):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_spec = demo_model_spec()


def test_a_demo_library_says_so_names_the_model_and_what_it_knows(qtbot, figures_dir, tmp_path):
    opened = []

    def opener(path, spec, **options):
        library = (DemoModelLibrary if Path(path).name == "demo" else FakeLibrary)(path, figures_dir)
        opened.append((path, spec))
        return library

    window = _window(qtbot, opener)
    with qtbot.waitSignal(window.controller.library_opened, timeout=5000):
        window.open_library(tmp_path / "demo")
    banner = window.demo_banner
    assert banner.isVisible()
    assert "demo model" in banner.title.text().lower()
    assert "chest radiographs" in banner.body.text() and "does not know real clinical images" in banner.body.text()
    assert banner.get_button.text() == "Get PMC-CLIP (≈590 MB)"
    assert banner.checkpoint_button.text() == "Use a local checkpoint…"
    # The placeholder suggests what this model knows, not a query about chest tubes it has never seen.
    placeholder = window.search_field.placeholderText()
    assert "chest radiograph with a nodule" in placeholder and "pneumothorax" not in placeholder

    with qtbot.waitSignal(window.controller.library_opened, timeout=5000):
        window.open_library(tmp_path / "other")  # a library with another model: no demo banner
    assert not banner.isVisible()


def test_the_loading_page_names_the_library_and_promises_no_download(qtbot, tmp_path):
    from app.ui.main_window import PAGE_LOADING

    window = _window(qtbot, fake_opener(None))
    window.controller.library_opening.emit(str(tmp_path / "demo"))
    assert window.pages.currentIndex() == PAGE_LOADING
    text = window.loading_page.title.text() + " " + window.loading_page.text.text()
    assert "“demo”" in text and "Loading" in text
    assert "MB" not in text and "download" not in text.lower()


@pytest.fixture
def model_hub(monkeypatch):
    """The PMC-CLIP files on a local hub (small stand-ins), downloads switched on for this test only."""
    for hub in online_local_hub(monkeypatch):
        for n, remote in enumerate(MODEL_FILES["pmc-clip"]):
            prefix = "datasets/" if remote.repo_type == "dataset" else ""
            content = hashlib.sha256(str(n).encode()).digest() * 4096  # 128 KiB each
            hub.add(f"{prefix}{remote.repo_id}/resolve/main/{remote.filename}", ServedFile(content))
        yield hub


def test_get_pmc_clip_downloads_with_progress_then_opens_a_library_for_it(qtbot, model_hub, figures_dir, tmp_path):
    from engine.hub import local_path

    opened = []

    def opener(path, spec, **options):
        opened.append((Path(path), spec))
        return FakeLibrary(path, figures_dir)

    window = _window(qtbot, opener)
    window.model_actions.get_pmc_clip()
    dialog = window.model_actions.download_dialog
    assert dialog.isVisible() and "≈590 MB, 5 files" in dialog.findChildren(type(dialog.file_label))[0].text()
    with qtbot.waitSignal(window.controller.library_opened, timeout=10_000):
        pass
    assert dialog.state == "done"
    assert all(local_path(remote) is not None for remote in MODEL_FILES["pmc-clip"])
    path, spec = opened[-1]
    assert spec == ModelSpec(name="pmc-clip") and path == window.settings.library_dir


def test_cancel_really_stops_the_download_and_keeps_what_arrived(qtbot, model_hub, figures_dir):
    from engine.hub import cached_file_path

    first = MODEL_FILES["pmc-clip"][0]
    slow = ServedFile(b"x" * (4 << 20), chunk_delay_s=0.05)  # 4 MiB at ~1.3 MB/s: seconds to go
    model_hub.add(f"datasets/{first.repo_id}/resolve/main/{first.filename}", slow)
    opener = fake_opener(figures_dir)
    window = _window(qtbot, opener)
    window.model_actions.get_pmc_clip()
    dialog = window.model_actions.download_dialog
    qtbot.waitUntil(lambda: "MB" in dialog.detail_label.text(), timeout=10_000)  # bytes are arriving
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.state == "cancelled", timeout=5000)
    assert not window.controller.busy  # the worker has ended: nothing downloads in the background
    partial = cached_file_path(first)
    partial = partial.with_name(partial.name + ".part")
    assert partial.is_file() and 0 < partial.stat().st_size < len(slow.content)  # resumable next time
    assert opener.opened == []  # no library was opened for a model that is not here


def test_a_local_checkpoint_gets_a_library_of_its_own(qtbot, figures_dir, tmp_path):
    opened = []

    def opener(path, spec, **options):
        opened.append((Path(path), spec))
        return FakeLibrary(path, figures_dir)

    window = _window(qtbot, opener)
    with qtbot.waitSignal(window.controller.library_opened, timeout=5000):
        window.open_library(window.settings.library_dir)  # the default library is taken …
    (window.settings.library_dir / "catalog.sqlite").parent.mkdir(parents=True, exist_ok=True)
    (window.settings.library_dir / "catalog.sqlite").write_bytes(b"")
    checkpoint = tmp_path / "pmc_clip_finetuned.pt"
    checkpoint.write_bytes(b"weights")
    window.model_actions.choose_checkpoint = lambda: str(checkpoint)
    with qtbot.waitSignal(window.controller.library_opened, timeout=5000):
        window.demo_banner.checkpoint_button.click()
    path, spec = opened[-1]
    assert spec == ModelSpec(name="pmc-clip", weights=str(checkpoint))
    assert path.name == "pmc_clip_finetuned" and path.parent == window.settings.library_dir.parent  # … a new one


def test_use_the_demo_model_continues_adding_the_folder_the_user_chose(qtbot, figures_dir, tmp_path):
    from engine.errors import OfflineError
    from tests.app.fake_library import make_figures

    calls = []

    def opener(path, spec, **options):
        calls.append(spec)
        if spec.name == "pmc-clip":
            raise OfflineError("image_encoder(resnet50).pth is not in the cache and downloads are off")
        return FakeLibrary(path, None)

    window = _window(qtbot, opener)
    folder = tmp_path / "my scans"
    make_figures(folder, 5)
    window.add_sources([folder], "folder")  # "Add folder…" on a fresh library: PMC-CLIP is not here
    qtbot.waitUntil(lambda: len(window.notice.action_buttons()) == 3, timeout=3000)
    demo_button = window.notice.action_buttons()[2]
    assert demo_button.text() == "Use the demo model"
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=5000) as finished:
        demo_button.click()
    assert calls[-1] == demo_model_spec() and finished.args[0].added == 5
    qtbot.waitUntil(lambda: window.library_panel.collections.count() == 1, timeout=3000)
    assert window.library_panel.collections.item(0).text().startswith("my scans")


def test_settings_show_the_library_model_and_how_to_make_a_library_for_another(qtbot, make_window, monkeypatch):
    from app.ui.settings_dialog import SettingsDialog

    window, _ = make_window()
    dialog = SettingsDialog(window.settings, window.library_info, window)
    qtbot.addWidget(dialog)
    assert dialog.model_label.text() == "fake"  # the open library's model, not the setting for new ones
    notes = " ".join(label.text() for label in dialog.findChildren(type(dialog.model_label)))
    assert "The model belongs to the library" in notes
    dialog.new_library_button.click()
    assert dialog.wants_new_library and dialog.result() == SettingsDialog.DialogCode.Rejected
