import pytest

pytestmark = pytest.mark.gui


def test_new_user_sees_empty_state(qtbot):
    from app.ui.main_window import PRODUCT_NAME, MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == PRODUCT_NAME
    assert PRODUCT_NAME in window.empty_state.text()
    assert window.search_field.isVisible()
    texts = [a.text() for a in window.findChildren(type(window.add_folder_action))]
    assert "Add folder…" in texts and "Import PMC articles…" in texts
    assert window.statusBar().currentMessage()
