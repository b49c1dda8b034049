"""The window's actions that need dialogs or the clipboard: shortcuts, settings, copy/export, confirmations.

`WindowActions` is owned by the main window and talks to it only through its public methods. Dialogs that would
block are opened non-modally or through `ask_yes_no`, which tests replace (no modal dialog may block an
offscreen test).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from app import citation
from app.problems import Problem
from app.settings import AppSettings, save_window_state
from app.ui.thumbnails import open_any_image

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

logger = logging.getLogger(__name__)

CITATION_FORMATS: dict[str, Callable] = {
    "ris": citation.to_ris,
    "bibtex": citation.to_bibtex,
    "attribution": citation.attribution,
}


class WindowActions:
    def __init__(self, window: MainWindow):
        self.window = window
        self.locked_box: QMessageBox | None = None
        self.repair_dialog = None
        # Replaced by tests: the blocking questions the window asks.
        self.ask_yes_no: Callable[[str], bool] = self._ask_yes_no
        self.ask_text: Callable[..., str | None] = self._ask_text

    # ---------------------------------------------------------------------------------------- shortcuts
    def install_shortcuts(self) -> None:
        window = self.window

        def add(text: str, keys, slot, context=Qt.ShortcutContext.WindowShortcut) -> QAction:
            action = QAction(text, window, shortcut=QKeySequence(keys))
            action.setShortcutContext(context)
            action.triggered.connect(slot)
            window.addAction(action)
            return action

        self.focus_search_action = add("Focus search", "Ctrl+L", window.focus_search)
        self.clear_query_action = add("Clear query", "Esc", window.clear_query)
        self.copy_figure_action = add(
            "Copy figure", QKeySequence.StandardKey.Copy, lambda: self.copy_figure(window.current_result())
        )
        self.paste_image_action = add("Paste image", QKeySequence.StandardKey.Paste, window.paste_image)
        self.open_detail_action = add("Open detail", "Ctrl+Return", window.open_detail)

    # ---------------------------------------------------------------------------------------- clipboard, export
    def copy_figure(self, result) -> None:
        if result is None:
            return
        try:
            pil = open_any_image(Path(result.image_path)).convert("RGB")
        except Exception as error:  # a vanished or unreadable file: say so, don't crash
            self.window.show_problem(Problem("The figure cannot be copied: its file cannot be read.", str(error)))
            return
        data = pil.tobytes("raw", "RGB")
        image = QImage(data, pil.width, pil.height, pil.width * 3, QImage.Format.Format_RGB888).copy()
        QGuiApplication.clipboard().setImage(image)
        self.window.statusBar().showMessage(
            f"Copied {result.label or 'figure'} — {citation.attribution(result)}", 8000
        )

    def export_citation(self, result, kind: str) -> None:
        """kind: "ris", "bibtex", "attribution" (to the clipboard) or "save-ris", "save-bibtex" (to a file)."""
        save = kind.startswith("save-")
        fmt = kind.removeprefix("save-")
        text = CITATION_FORMATS[fmt](result)
        if not save:
            QGuiApplication.clipboard().setText(text)
            self.window.statusBar().showMessage("Copied to the clipboard", 5000)
            return
        suffix = ".ris" if fmt == "ris" else ".bib"
        name = f"{citation.bibtex_key(result)}{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save citation", name, f"Citation (*{suffix})")
        if path:
            Path(path).write_text(text, encoding="utf-8")  # the licence is inside the record (RIS N1, BibTeX)
            self.window.statusBar().showMessage(f"Saved {path}", 5000)

    # ---------------------------------------------------------------------------------------- dialogs
    def _ask_yes_no(self, question: str) -> bool:
        answer = QMessageBox.question(self.window, "PMC Figure Search", question)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_text(self, question: str, default: str = "") -> str | None:
        """A short text from the user (None when cancelled)."""
        text, ok = QInputDialog.getText(self.window, "PMC Figure Search", question, text=default)
        return text.strip() if ok else None

    def offer_read_only(self, path: str) -> None:
        """Another instance holds the library: never write to it; offer to look without changing anything."""
        window = self.window
        box = QMessageBox(window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Library in use")
        box.setText(f"The library at {path} is open in another PMC Figure Search window.")
        box.setInformativeText(
            "You can open it read-only here (search works; adding figures does not), or close the other window first."
        )
        read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        window.show_error(f"The library at {path} is open in another window.")

        def finished(_result):
            if box.clickedButton() is read_only:
                window.show_info("Opened read-only: another window is using this library.")
                window.open_library(Path(path), read_only=True)

        box.finished.connect(finished)
        box.open()  # window-modal but non-blocking
        self.locked_box = box

    def offer_repair(self, path: str, problem: str) -> None:
        """A library failed to open as damaged: offer `check --repair` in a dialog (app/ui/repair_dialog.py)."""
        from app.ui.repair_dialog import RepairDialog

        self.repair_dialog = RepairDialog(path, problem, self.window.controller.repair_library, self.window)
        self.repair_dialog.open()

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        window = self.window
        dialog = SettingsDialog(window.settings, window.library_info, window)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            window.apply_settings(dialog.result_settings())
        elif dialog.wants_new_library:
            self.new_library()

    def new_library(self) -> None:
        """A new library with a model of the user's choice (a library keeps the model it was built with)."""
        from app.ui.new_library_dialog import NewLibraryDialog

        dialog = NewLibraryDialog(self.window)
        if dialog.exec() != NewLibraryDialog.DialogCode.Accepted:
            return
        spec, folder = dialog.chosen()
        self.window.open_library(folder, spec=spec)

    def remember_window(self) -> None:
        window = self.window
        save_window_state(QByteArray(window.saveGeometry()), QByteArray(window.saveState()))


def needs_reopen(old: AppSettings, new: AppSettings) -> bool:
    """Whether a settings change must reopen the library (the model belongs to the library, not to settings)."""
    return new.library_dir != old.library_dir or new.device != old.device or new.offline != old.offline
