"""Window-level actions that need dialogs or the clipboard: shortcuts, settings, copy/export, confirmations.

Kept out of main_window.py so that file stays about layout and wiring. Dialog-showing helpers are module
functions so tests can replace them (no modal dialog may block an offscreen test).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import citation
from app.settings import AppSettings, save_settings, save_window_state
from app.ui.thumbnails import open_any_image

logger = logging.getLogger(__name__)


def install_shortcuts(window) -> None:
    def add(text: str, keys, slot, context=Qt.ShortcutContext.WindowShortcut) -> QAction:
        action = QAction(text, window, shortcut=QKeySequence(keys))
        action.setShortcutContext(context)
        action.triggered.connect(slot)
        window.addAction(action)
        return action

    def focus_search():
        window.search_field.setFocus()
        window.search_field.selectAll()

    window.focus_search_action = add("Focus search", "Ctrl+L", focus_search)
    window.clear_query_action = add("Clear query", "Esc", window.clear_query)
    window.copy_figure_action = add("Copy figure", QKeySequence.StandardKey.Copy,
                                    lambda: copy_figure(window, window.current_result()))
    window.paste_image_action = add("Paste image", QKeySequence.StandardKey.Paste, window.paste_image)
    window.open_detail_action = add("Open detail", "Ctrl+Return", window.open_detail)


def copy_figure(window, result) -> None:
    if result is None:
        return
    try:
        pil = open_any_image(Path(result.image_path)).convert("RGB")
    except Exception as error:  # a vanished or unreadable file: say so, don't crash
        window.notice.show_message(f"The figure cannot be copied: {error}", "error")
        return
    data = pil.tobytes("raw", "RGB")
    image = QImage(data, pil.width, pil.height, pil.width * 3, QImage.Format.Format_RGB888).copy()
    QGuiApplication.clipboard().setImage(image)
    window.statusBar().showMessage(f"Copied {result.label or 'figure'} — {citation.attribution(result)}", 8000)


def export_citation(window, result, kind: str) -> None:
    texts = {
        "ris": citation.to_ris,
        "bibtex": citation.to_bibtex,
        "attribution": citation.attribution,
        "save-ris": citation.to_ris,
        "save-bibtex": citation.to_bibtex,
    }
    text = texts[kind](result)
    if not kind.startswith("save-"):
        QGuiApplication.clipboard().setText(text)
        window.statusBar().showMessage("Copied to the clipboard", 5000)
        return
    suffix = ".ris" if kind == "save-ris" else ".bib"
    name = f"{citation.bibtex_key(result)}{suffix}"
    path, _ = QFileDialog.getSaveFileName(window, "Save citation", name, f"Citation (*{suffix})")
    if path:
        Path(path).write_text(text + "\n" + citation.attribution(result) + "\n" if suffix == ".ris" else text,
                              encoding="utf-8")
        window.statusBar().showMessage(f"Saved {path}", 5000)


def confirm(window, question: str) -> bool:
    answer = QMessageBox.question(window, "PMC Figure Search", question)
    return answer == QMessageBox.StandardButton.Yes


def offer_read_only(window, path: str) -> None:
    """Another instance holds the library: never write to it; offer to look without changing anything."""
    box = QMessageBox(window)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Library in use")
    box.setText(f"The library at {path} is open in another PMC Figure Search window.")
    box.setInformativeText("You can open it read-only here (search works; adding figures does not), or close "
                           "the other window first.")
    read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    window.notice.show_message(f"The library at {path} is open in another window.", "error")

    def finished(_result):
        if box.clickedButton() is read_only:
            settings: AppSettings = window.settings
            window.notice.show_message("Opened read-only: another window is using this library.", "info")
            window.controller.open_library(Path(path), settings.model_spec, device=settings.device,
                                           offline=settings.offline, read_only=True)

    box.finished.connect(finished)
    box.open()  # window-modal but non-blocking
    window.locked_box = box


def create_library_then(window, then: Callable[[], None]) -> None:
    settings: AppSettings = window.settings
    controller = window.controller

    def opened(_info):
        disconnect()
        then()

    def disconnect():
        controller.library_opened.disconnect(opened)
        controller.library_failed.disconnect(disconnect)  # a failed open must not run `then` on a later one

    controller.library_opened.connect(opened)
    controller.library_failed.connect(disconnect)
    controller.open_library(settings.library_dir, settings.model_spec, device=settings.device,
                            offline=settings.offline)


def open_settings(window) -> None:
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    if dialog.exec() != SettingsDialog.DialogCode.Accepted:
        return
    apply_settings(window, dialog.result_settings())


def apply_settings(window, new: AppSettings) -> None:
    old: AppSettings = window.settings
    window.settings = new
    save_settings(new)
    reopen = (new.library_dir != old.library_dir or new.device != old.device or new.offline != old.offline)
    if reopen and (window.controller.library is not None or new.library_dir != old.library_dir):
        window.controller.open_library(new.library_dir, new.model_spec, device=new.device, offline=new.offline)


def remember_window(window) -> None:
    save_window_state(QByteArray(window.saveGeometry()), QByteArray(window.saveState()))
