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


def test_a_dicom_file_is_accepted_by_its_preamble(make_window, qtbot, tmp_path):
    window, opener = make_window()
    dicom = tmp_path / "IM0001"
    dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dicom))])
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        _drop(window, mime)
    assert _image_terms(opener.opened[0]) == [dicom]


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
