import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.ui.describe_view import FIGURE_ROLE
from app.ui.results_model import BADGE_ROLE, RESULT_ROLE

pytestmark = pytest.mark.gui


def test_typing_a_query_fills_the_grid_after_the_debounce(make_window, qtbot):
    window, opener = make_window()
    library = opener.opened[0]
    qtbot.keyClicks(window.search_field, "chest")
    assert window.results_model.rowCount() == 0  # debounced: nothing per keystroke
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    assert window.pages.currentWidget() is window.results_page
    assert len(library.queries) == 1  # one search for five keystrokes
    assert library.queries[0].terms[0].text == "chest"
    captions = [window.results_model.result_at(r).caption for r in range(window.results_model.rowCount())]
    assert all("chest" in c.lower() for c in captions)


def test_enter_searches_at_once_and_esc_clears(make_window, qtbot):
    window, opener = make_window()
    window.search_field.setText("microscopy")
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    assert window.results_model.rowCount() == 2
    qtbot.keyClick(window.search_field, Qt.Key.Key_Escape)
    assert window.search_field.text() == ""
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 0, timeout=3000)
    assert "Search 12 figures" in window.message.text()


def test_no_clear_match_says_so_in_one_sentence_and_shows_only_the_closest_few(make_window, qtbot):
    window, _ = make_window()
    window.search_field.setText("xylophone")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: "No clear match" in window.results_page.verdict_text, timeout=3000)
    assert window.pages.currentWidget() is window.results_page
    assert window.results_page.verdict_text.count(".") == 1  # one sentence
    rows = window.results_model.rowCount()
    assert 0 < rows <= 3  # "closest, but weak", not a grid of every figure
    badges = [window.results_model.data(window.results_model.index(r), BADGE_ROLE) for r in range(rows)]
    assert all(b.startswith("Closest, but weak") for b in badges)


def test_a_minimum_above_every_score_empties_the_list(make_window, qtbot):
    window, _ = make_window()
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    window.filters.threshold.setValue(window.filters.threshold.maximum())
    qtbot.waitUntil(lambda: "No figures match" in window.message.text(), timeout=3000)
    assert window.pages.currentWidget() is window.message


def test_unknown_words_are_named_in_the_search_bar(make_window, qtbot):
    window, _ = make_window()
    window.search_field.setText("chest pneumothorax")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.search_bar.unknown_label.isVisible(), timeout=3000)
    assert window.search_bar.unknown_label.text() == "Not known to this model: pneumothorax"
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: not window.search_bar.unknown_label.isVisible(), timeout=3000)


def test_stale_results_are_dropped(make_window, qtbot):
    window, opener = make_window()
    controller = window.controller
    controller.state = controller.state.with_changes(text="chest")
    first = controller.search()
    controller.state = controller.state.with_changes(text="brain")
    second = controller.search()  # queued behind the first, which is now stale
    seen = []
    controller.results_ready.connect(lambda rid, page: seen.append(rid))
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0 and not controller._search_running, timeout=3000)
    assert first not in seen
    assert window.results_model.result_at(0).caption.startswith("Brain MRI")
    assert second < max(seen)  # the coalesced re-run carries a newer id


def test_keyboard_enter_opens_detail_with_highlight_links_and_licence(make_window, qtbot):
    window, _ = make_window()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.search_field.hasFocus()
    window.search_field.setText("rib fracture")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert window.detail.isVisible()
    result = window.grid.currentIndex().data(RESULT_ROLE)
    assert window.detail.result == result
    caption_html = window.detail.caption_label.text()
    assert "background-color" in caption_html and "fracture" in caption_html
    pmcid_html = window.detail._meta_labels["PMCID"].text()
    assert f'href="https://pmc.ncbi.nlm.nih.gov/articles/{result.article.pmcid}/"' in pmcid_html
    assert "doi.org/10.1000/demo" in window.detail._meta_labels["DOI"].text()
    assert "CC BY 4.0" in window.detail._meta_labels["Licence"].text()
    match_html = window.detail._meta_labels["Match"].text()
    assert "match strength" in match_html and "similarity" in match_html and "background" not in match_html
    qtbot.waitUntil(lambda: window.detail.image_label.pixmap() is not None
                    and not window.detail.image_label.pixmap().isNull(), timeout=3000)


def test_find_similar_puts_the_figure_in_the_image_chip(make_window, qtbot):
    window, opener = make_window()
    window.search_field.setText("histology")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    window.open_detail()
    result = window.detail.result
    with qtbot.waitSignal(window.controller.results_ready, timeout=3000):
        window.detail.find_similar_button.click()
    assert window.search_bar.chip.isVisible()
    assert "Similar to Figure" in window.search_bar.chip.text.text()
    query = opener.opened[0].queries[-1]
    # The figure's stored vector is the query (no re-encoding of its file), and it is left out of its own results.
    assert [t.figure_id for t in query.terms if t.figure_id is not None] == [result.figure_id]
    assert not any(t.image is not None for t in query.terms)
    shown = {window.results_model.result_at(r).figure_id for r in range(window.results_model.rowCount())}
    assert result.figure_id not in shown


def test_copy_figure_and_citation_to_clipboard(make_window, qtbot):
    window, _ = make_window()
    window.search_field.setText("chart")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    image = QGuiApplication.clipboard().image()
    assert (image.width(), image.height()) == (64, 48)
    QGuiApplication.clipboard().clear()
    window.search_field.setFocus()  # no text selected in the field: Ctrl+C still means "copy the figure"
    qtbot.keyClick(window.search_field, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().image().width() == 64
    window.open_detail()
    window.detail.export_requested.emit(window.detail.result, "ris")
    assert QGuiApplication.clipboard().text().startswith("TY  - JOUR")
    window.detail.export_requested.emit(window.detail.result, "attribution")
    assert "CC BY 4.0" in QGuiApplication.clipboard().text()


def test_filters_and_threshold_reach_the_query(make_window, qtbot):
    window, opener = make_window()
    library = opener.opened[0]
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    qtbot.waitUntil(lambda: window.filters.journal.count() > 1, timeout=3000)
    window.filters.journal.setCurrentIndex(window.filters.journal.findData("J Pathol"))
    window.filters.year_min.setValue(2012)
    window.filters.threshold.setValue(30)
    assert window.filters.threshold_label.text() == "3.0"
    window.filters.sort.setCurrentIndex(window.filters.sort.findData("year_desc"))
    qtbot.waitUntil(lambda: library.queries[-1].sort == "year_desc" and not window.controller._search_running,
                    timeout=3000)
    query = library.queries[-1]
    assert query.filters.journals == ("J Pathol",) and query.filters.year_min == 2012
    assert query.min_score == pytest.approx(3.0)  # match strength: the scale text results are shown on


def test_the_minimum_follows_the_scale_of_the_query(make_window, qtbot, tmp_path):
    from app.controller import QueryImage
    from tests.app.fake_library import make_figures

    window, opener = make_window()
    library = opener.opened[0]
    window.filters.threshold.setValue(25)
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: bool(library.queries) and library.queries[-1].min_score == pytest.approx(2.5), timeout=3000)
    (image,) = make_figures(tmp_path / "query", 1)
    window.set_query_image(QueryImage(label="query.png", path=image))
    assert window.filters.threshold.maximum() == 100 and window.filters.threshold.value() == 0
    window.filters.threshold.setValue(90)
    qtbot.waitUntil(lambda: library.queries[-1].min_score == pytest.approx(90.0), timeout=3000)
    assert window.filters.threshold_label.text() == "90"
    window.search_bar.clear_image()
    qtbot.waitUntil(lambda: library.queries[-1].min_score == pytest.approx(2.5), timeout=3000)
    assert window.filters.threshold.value() == 25  # each scale keeps its own minimum


def test_thumbnails_are_cached_on_disk(make_window, qtbot, isolated_home):
    window, _ = make_window()
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    for row in range(window.results_model.rowCount()):
        window.results_model.data(window.results_model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(window.thumbnails.pixmap(window.results_model.result_at(r).image_path)
                                for r in range(window.results_model.rowCount())), timeout=5000)
    cached = list((isolated_home / "data" / "thumbnails").glob("*.png"))
    assert len(cached) >= window.results_model.rowCount()


def test_describe_lists_captions_with_their_figures_for_a_selected_figure_and_for_the_query_image(
    make_window, qtbot, tmp_path
):
    from app.controller import QueryImage
    from tests.app.fake_library import make_figures

    window, opener = make_window()
    library = opener.opened[0]
    window.search_field.setText("chest")
    window.search_bar.submit_now()
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=3000)
    window.open_detail()
    selected = window.detail.result
    with qtbot.waitSignal(window.controller.captions_ready, timeout=3000):
        window.detail.describe_button.click()
    dialog = window.describe_dialog
    assert dialog.isVisible() and library.described == [selected.figure_id]  # by id: no re-encoding
    rows = dialog.rows()
    assert rows and rows[0].startswith("Strong 3.0") and library.figure(1).caption in rows[0]
    assert dialog.captions.item(0).data(FIGURE_ROLE) == 1
    qtbot.waitUntil(lambda: not dialog.captions.item(0).icon().isNull(), timeout=5000)  # with its figure
    with qtbot.waitSignal(window.controller.figure_ready, timeout=3000):
        dialog.captions.itemActivated.emit(dialog.captions.item(1))
    assert window.detail.result.figure_id == 2  # opening a row shows that figure

    (dropped,) = make_figures(tmp_path / "dropped", 1)
    window.set_query_image(QueryImage(label="dropped.png", path=dropped))
    assert window.search_bar.chip.describe_button.isVisible()
    with qtbot.waitSignal(window.controller.captions_ready, timeout=3000):
        window.search_bar.chip.describe_button.click()
    assert library.described[-1] == dropped and "dropped.png" in dialog.heading.text()
    dialog.close()
