import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

pytestmark = pytest.mark.gui


def _drop(window, mime: QMimeData) -> None:
    event = QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def _image_terms(library):
    return [t.image for t in library.queries[-1].terms if t.image is not None]


def test_dropping_an_image_file_runs_an_image_query_and_shows_a_chip(make_window, qtbot, tmp_path):
    window, opener = make_window()
    library = opener.opened[0]
    dropped = tmp_path / "scan.tif"
    Image.new("L", (40, 40), 128).save(dropped)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        _drop(window, mime)
    assert _image_terms(library) == [dropped]
    assert window.search_bar.chip.isVisible() and window.search_bar.chip.text.text() == "scan.tif"
    assert window.results_model.rowCount() == 12

    # Text combines with the image; removing the chip leaves a text-only query.
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    assert [t.text for t in library.queries[-1].terms if t.text] == ["chest"] and _image_terms(library)
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.chip.remove_button.click()
    assert not window.search_bar.chip.isVisible() and _image_terms(library) == []


def test_dropping_raw_image_data_from_a_browser_runs_an_image_query(make_window, qtbot):
    window, opener = make_window()
    image = QImage(32, 24, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    mime = QMimeData()
    mime.setImageData(image)
    mime.setUrls([QUrl("https://example.org/figures/ct-scan.png")])  # bytes win: no download
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        _drop(window, mime)
    (pil,) = _image_terms(opener.opened[0])
    assert pil.size == (32, 24) and pil.getpixel((0, 0)) == (255, 0, 0)
    assert window.search_bar.chip.text.text() == "ct-scan.png"


def _chip_colours(window) -> set:
    image = window.search_bar.chip.thumbnail.pixmap().toImage()
    return {image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())}


def test_a_dicom_file_gets_a_windowed_chip_from_the_engines_decoding(make_window, qtbot, tmp_path):
    import numpy as np

    from tests.engine.test_imaging import write_dicom

    window, opener = make_window()
    # 16-bit CT-like values with a soft-tissue window: QImage alone would show nothing of this.
    values = np.tile(np.linspace(0, 2000, 64, dtype=np.uint16), (64, 1))
    dicom = write_dicom(tmp_path / "IM0001", values, RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=40,
                        WindowWidth=400)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dicom))])
    with qtbot.waitSignal(window.controller.results_ready, timeout=5000):
        _drop(window, mime)
    assert _image_terms(opener.opened[0]) == [dicom]
    colours = _chip_colours(window)
    assert "#000000" in colours and "#ffffff" in colours and len(colours) > 3  # black, white and a grey ramp


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims `width`×`height` pixels (the header of a 30k×30k image), without its pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.parametrize("case", ["truncated-dicom", "huge-png", "corrupt-jpeg"])
def test_a_bad_image_gives_one_plain_banner_and_the_status_bar_returns_to_idle(make_window, qtbot, tmp_path, case):
    import numpy as np

    from tests.engine.test_imaging import write_dicom

    window, opener = make_window()
    if case == "truncated-dicom":
        full = write_dicom(tmp_path / "full.dcm", np.zeros((64, 64), dtype=np.uint16))
        bad = tmp_path / "cut.dcm"
        bad.write_bytes(full.read_bytes()[:-3000])
        expected = "cannot be read"
    elif case == "huge-png":
        bad = tmp_path / "huge.png"
        _png_header_only(bad, 30_000, 30_000)
        expected = "too large"
    else:
        bad = tmp_path / "photo.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
        expected = "cannot be read"
    queries = len(opener.opened[0].queries)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    _drop(window, mime)  # an exception escaping dropEvent would fail this test (pytest-qt, tests/app/conftest.py)
    qtbot.waitUntil(window.notice.isVisible, timeout=5000)
    assert expected in window.notice.text and bad.name in window.notice.text
    assert "1.2.840" not in window.notice.text and "&#" not in window.notice.text  # no UID, no entities
    assert bad.name in window.notice.details  # the technical reason is one click away
    assert len(window.notice.action_buttons()) == 0
    assert window.statusBar().currentMessage() == "Ready"
    assert window.search_bar.image is None and len(opener.opened[0].queries) == queries


def test_dropping_a_text_file_shows_an_error_and_changes_nothing(make_window, qtbot, tmp_path):
    window, opener = make_window()
    window.search_field.setText("chest")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.search_bar.submit_now()
    rows, queries = window.results_model.rowCount(), len(opener.opened[0].queries)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    _drop(window, mime)
    qtbot.wait(400)  # longer than the debounce: a query would have started
    assert window.notice.isVisible() and "notes.txt" in window.notice.text and "not an image" in window.notice.text
    assert window.search_bar.image is None and not window.search_bar.chip.isVisible()
    assert window.search_field.text() == "chest"
    assert window.results_model.rowCount() == rows and len(opener.opened[0].queries) == queries


def test_pasting_an_image_in_the_search_field_runs_an_image_query(make_window, qtbot):
    window, opener = make_window()
    image = QImage(20, 10, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    QGuiApplication.clipboard().setImage(image)
    window.search_field.setFocus()
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        qtbot.keyClick(window.search_field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.search_field.text() == ""  # the image did not paste as text
    (pil,) = _image_terms(opener.opened[0])
    assert pil.size == (20, 10)
    assert window.search_bar.chip.text.text() == "Pasted image"
    QGuiApplication.clipboard().clear()


def test_dropping_a_folder_explains_how_to_index_it(make_window, qtbot, tmp_path):
    window, opener = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    _drop(window, mime)
    assert "is a folder" in window.notice.text and "Add folder" in window.notice.text
    assert opener.opened[0].queries == []


def test_html_only_drag_uses_the_img_src_and_plain_text_gets_a_message():
    from app.ui.image_input import image_source_from_mime
    from engine.errors import UserInputError

    mime = QMimeData()
    mime.setHtml('<a href="/x"><img alt="CT" src="https://example.org/f/ct.png?a=1&amp;b=2"></a>')
    url = image_source_from_mime(mime)
    assert isinstance(url, QUrl) and url.toString() == "https://example.org/f/ct.png?a=1&b=2"
    mime = QMimeData()
    mime.setText("pneumothorax")
    with pytest.raises(UserInputError, match="not an image"):
        image_source_from_mime(mime)
