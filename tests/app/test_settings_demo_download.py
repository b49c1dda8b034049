import http.server
import io
import threading

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl

from app.settings import AppSettings

pytestmark = pytest.mark.gui


def test_settings_dialog_returns_the_chosen_device_library_and_offline_flag(qtbot, tmp_path):
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(library_path=str(tmp_path / "a")))
    qtbot.addWidget(dialog)
    assert dialog.device.itemData(0) == "auto" and dialog.device.findData("cpu") > 0
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.library.setText(str(tmp_path / "b"))
    dialog.offline.setChecked(True)
    chosen = dialog.result_settings()
    assert (chosen.device, chosen.library_path, chosen.offline) == ("cpu", str(tmp_path / "b"), True)
    assert chosen.model_name == "pmc-clip"  # the model is the library's, not a setting this dialog changes


def test_new_library_dialog_offers_registry_demo_checkpoint_and_folder(qtbot, monkeypatch, tmp_path):
    from app.ui import new_library_dialog
    from app.ui.new_library_dialog import NewLibraryDialog

    dialog = NewLibraryDialog()
    qtbot.addWidget(dialog)
    data = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert data[:3] == ["pmc-clip", "pmc-clip-notebook", "biomedclip"]  # the registry's names
    assert data[-3:] == ["__demo__", "__local__", "__local_dir__"]
    assert "PMC-CLIP" in dialog.about.text() and "≈590 MB" in dialog.about.text()
    assert dialog.folder.text().endswith("pmc-clip")
    monkeypatch.setattr(new_library_dialog.QFileDialog, "getOpenFileName", lambda *a, **k: ("/w/checkpoint.pt", ""))
    monkeypatch.setattr(new_library_dialog.QFileDialog, "getExistingDirectory", lambda *a, **k: "/w/exported")
    for index, expected in ((len(data) - 2, ("pmc-clip", "/w/checkpoint.pt")),
                            (len(data) - 1, ("local-dir:/w/exported", None))):
        dialog.model.setCurrentIndex(index)
        dialog._on_model_chosen(index)
        spec, folder = dialog.chosen()
        assert (spec.name, spec.weights) == expected
    assert folder.name == "exported"
    dialog.model.setCurrentIndex(len(data) - 3)
    dialog._on_model_chosen(len(data) - 3)
    spec, _ = dialog.chosen()
    assert spec.name.startswith("local-dir:") and "demo-model" in spec.name
    assert "no download" not in dialog.about.text() and "downloaded" not in dialog.about.text()


def test_changing_the_library_folder_reopens_it_and_is_remembered(make_window, qtbot, tmp_path):
    from app.settings import load_settings

    window, opener = make_window()
    with qtbot.waitSignal(window.controller.library_opened, timeout=3000):
        window.apply_settings(window.settings.with_changes(library_path=str(tmp_path / "other")))
    assert opener.opened[-1].path == tmp_path / "other"
    qtbot.waitUntil(lambda: opener.opened[0].closed, timeout=3000)  # the old one closes after the new one opened
    assert load_settings().library_path == str(tmp_path / "other")


def test_demo_figures_have_captions_and_are_deterministic(tmp_path):
    from app.demo import write_demo_figures

    first = write_demo_figures(tmp_path / "a", count=12)
    second = write_demo_figures(tmp_path / "b", count=12)
    assert len(first) == 12 and all(p.with_suffix(".txt").read_text() for p in first)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    # The bundled figures (resources/demo-figures) come sorted by kind; the first twelve are bar charts and one line
    # of the next kind, each with the caption written for it.
    kinds = {p.name.rsplit("-", 1)[0] for p in first}
    assert kinds == {"bar_chart", "bone_radiograph"}
    assert "bar" in first[0].with_suffix(".txt").read_text().lower()


def test_importing_several_pmc_files_makes_one_named_collection(make_window, qtbot, tmp_path):
    from tests.app.fake_library import make_figures

    window, opener = make_window()
    sources = [tmp_path / "pkg1", tmp_path / "pkg2"]
    for source in sources:
        make_figures(source, 4)
    window.actions.ask_text = lambda question, default="": "Pleural effusion reading"
    reports = []
    window.controller.ingest_finished.connect(reports.append)
    with qtbot.waitSignal(window.controller.ingest_running_changed, timeout=5000,
                          check_params_cb=lambda running: not running):
        window.import_pmc_files(sources)
    assert [r.added for r in reports] == [8]
    qtbot.waitUntil(lambda: window.library_panel.collections.count() == 2, timeout=3000)
    assert window.library_panel.collections.item(1).text().startswith("Pleural effusion reading")


@pytest.fixture
def image_server():
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (0, 0, 255)).save(buffer, format="PNG")
    payload = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = payload if self.path.endswith(".png") else b"<html>not an image</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_image_url_dragged_from_a_browser_is_downloaded_off_the_gui_thread(make_window, qtbot, image_server):
    window, opener = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl(f"{image_server}/figures/mri.png")])
    with qtbot.waitSignal(window.controller.results_ready, timeout=5000):
        window.accept_image_data(mime)
    (term,) = [t.image for t in opener.opened[0].queries[-1].terms if t.image is not None]
    assert term.size == (30, 20) and window.search_bar.chip.text.text() == "mri.png"

    mime = QMimeData()
    mime.setUrls([QUrl(f"{image_server}/article.html")])
    window.accept_image_data(mime)
    qtbot.waitUntil(window.notice.isVisible, timeout=5000)
    assert "does not point to an image" in window.notice.text
    assert window.search_bar.chip.text.text() == "mri.png"  # the previous query image stays


def test_try_the_demo_library_opens_once_and_indexes_the_demo_figures(qtbot, monkeypatch, isolated_home):
    from app import demo
    from app.gui_main import build_window
    from app.settings import load_settings
    from app.ui.app_controller import AppController
    from engine.types import ModelSpec
    from tests.app.fake_library import fake_opener

    monkeypatch.setattr(demo, "demo_model_spec", lambda: ModelSpec(name="local-dir:/demo-model"))
    opener = fake_opener(None)
    window = build_window(controller=AppController(opener))
    qtbot.addWidget(window)
    window.show()
    assert window.demo_button.isVisible()  # first launch: no library yet, a demo model is available
    with qtbot.waitSignal(window.controller.ingest_finished, timeout=10_000) as finished:
        window.demo_button.click()
    assert len(opener.opened) == 1  # opened once (a second open would collide with the first's lock)
    assert finished.args[0].added == demo.DEMO_FIGURES
    assert load_settings().library_path == str(demo.demo_library_dir())
    qtbot.waitUntil(lambda: window.library_info is not None and window.library_info.figures == demo.DEMO_FIGURES,
                    timeout=5000)
