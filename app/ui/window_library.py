"""The main window's library side: which library is open, switching (transactionally), adding sources, and the
ways out when a library's model is missing.

A mixin of `MainWindow` (like `ImageDropMixin`), split off along that seam: it uses the window's widgets
(`library_panel`, `filters`, `detail`, `results_model`, `demo_banner`, the status labels) and its `controller`,
`settings` and `model_actions`. Every part of the window shows one library: a successful switch clears what the
previous one put on screen, a failed one leaves it all, settings included, as it was.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.model_names import describe_model
from app.problems import Problem
from app.settings import AppSettings, save_settings
from app.ui.model_download import ModelDownloadDialog
from app.ui.window_actions import needs_reopen

logger = logging.getLogger(__name__)

PRODUCT_NAME = "PMC Figure Search"


def window_title(info=None) -> str:
    """"demo (read-only) — PMC Figure Search". It ends with the application's display name, so Qt does not add
    the name a second time (it appends it to titles that do not end with it)."""
    if info is None:
        return PRODUCT_NAME
    read_only = " (read-only)" if info.read_only else ""
    return f"{Path(info.path).name}{read_only} — {PRODUCT_NAME}"


class WindowLibraryMixin:
    # ---------------------------------------------------------------------------------------- settings
    def apply_settings(self, new: AppSettings) -> None:
        """Adopt and remember new settings. A change that reopens the library is adopted only once the library
        has opened with them: a failed switch leaves the previous library open and the settings as they were."""
        old = self.settings
        if needs_reopen(old, new) and (self.controller.library is not None or new.library_dir != old.library_dir):
            self._pending_settings = new
            self.controller.open_library(
                new.library_dir, new.model_spec, device=new.device, offline=new.offline
            )
            return
        self.settings = new
        save_settings(new)

    def open_library(self, path: Path, *, read_only: bool = False, spec=None, then_add=None) -> None:
        """Open `path` with the settings' device and offline mode; a new library there gets `spec` (default: the
        settings' model). `then_add`: (sources, kind, name) to index once it is open."""
        s = self.settings
        self._pending_sources = then_add
        self.controller.open_library(
            path, spec or s.model_spec, device=s.device, offline=s.offline, read_only=read_only
        )

    # ---------------------------------------------------------------------------------------- library
    def _on_library_opened(self, info) -> None:
        """Every part of the window shows this library from now on: nothing of the previous one stays."""
        switched = self.library_info is None or Path(self.library_info.path) != Path(info.path)
        self.library_info = info
        if switched:
            self._forget_shown_library()
        self._adopt_settings_for(info)
        reason = info.device_reason or ""
        self.device_label.setText(f"Device: {info.device or '?'}" + (f" — {reason}" if reason else ""))
        self.device_label.setToolTip(reason or self.device_label.full_text())
        model = describe_model(info.model_spec)
        self.statusBar().showMessage(f"Opened {Path(info.path).name} · {model.title}", 10_000)
        self.library_panel.summary.setText(f"{info.figures:,} figures · {info.path}")
        self.library_label.setText(f"Library: {info.path}")
        self.setWindowTitle(window_title(info))
        self.search_field.setPlaceholderText(model.placeholder())
        if model.is_demo:
            self.demo_banner.show_for(model)
        else:
            self.demo_banner.hide()
        self._close_download_dialog()
        for action in (self.add_folder_action, self.import_pmc_action, self.import_pmc_folder_action):
            action.setEnabled(not info.read_only)
        self.library_panel.remove_button.setVisible(not info.read_only)
        if self.search_bar.image is None and not self.search_bar.text:
            self.show_library_state()
        pending, self._pending_sources = self._pending_sources, None
        if pending is not None and not info.read_only:
            self.controller.add_sources(*pending)

    def _adopt_settings_for(self, info) -> None:
        """Settings waiting for this open become the settings; the library opens again next time."""
        if self._pending_settings is not None and Path(self._pending_settings.library_dir) == Path(info.path):
            self.settings = self._pending_settings
        self._pending_settings = None
        if not info.read_only and Path(info.path) != Path(self.settings.library_dir):
            self.settings = self.settings.with_changes(library_path=str(info.path))
        save_settings(self.settings)

    def _forget_shown_library(self) -> None:
        """Results, detail, browsed collection and collections list of the library shown until now."""
        self.controller.requests.invalidate("search")
        self.results_model.set_results([])
        self.detail.hide()
        self._browsing = None
        self.library_panel.set_collections([])
        self.filters.set_collections([])

    def _on_library_opening(self, path: str) -> None:
        self.statusBar().showMessage(f"Opening library {path} …")
        if self.library_info is None:  # a switch keeps showing the open library until the new one is ready
            self.show_loading_page(Path(path))

    def _on_library_failed(self) -> None:
        """The open failed: the settings stay as they were, and the window shows what is open (if anything)."""
        self._pending_settings = None
        self._failed_sources, self._pending_sources = self._pending_sources, None
        self._close_download_dialog()
        self.statusBar().show_idle()
        self.show_library_state()

    def _on_library_closed(self) -> None:
        self.library_info = None
        self._forget_shown_library()
        self.library_label.setText("No library open")
        self.library_panel.summary.setText("No library open")
        self.device_label.setText("Device: not loaded")
        self.demo_banner.hide()
        self.setWindowTitle(window_title(None))
        self.show_library_state()

    def _on_collections(self, collections) -> None:
        self.library_panel.set_collections(collections)
        self.filters.set_collections(collections)
        if self.library_info is not None:
            figures = sum(c.figures for c in collections)
            self.library_info = dataclasses.replace(self.library_info, figures=figures, collections=tuple(collections))
            if self.search_bar.image is None and not self.search_bar.text.strip():
                self.show_library_state()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of figures")
        if folder:
            self.add_sources([Path(folder)], "folder")

    def _import_pmc_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import PMC articles", "", "PMC articles (*.tar.gz *.tgz *.nxml *.xml);;All files (*)"
        )
        if files:
            self.import_pmc_files([Path(f) for f in files])

    def import_pmc_files(self, files: list[Path]) -> None:
        """Packages imported in one action become ONE collection, named by the user."""
        name = None
        if len(files) > 1:
            name = self.actions.ask_text(
                f"Name the collection for these {len(files)} articles:", default=f"{len(files)} PMC articles"
            )
            if name is None:
                return
        self.add_sources(files, "auto", name or None)

    def _import_pmc_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a PMC article folder (or a folder of packages)")
        if folder:
            self.add_sources([Path(folder)], "auto")

    def add_sources(self, sources: list[Path], kind: str, name: str | None = None) -> None:
        """Index `sources` (several: one collection called `name`); with no library open yet, the settings'
        library is opened (or created) first, and a missing model then offers its ways out."""
        if self.controller.library is not None:
            self.controller.add_sources(sources, kind, name)
            return
        self.open_library(self.settings.library_dir, then_add=(list(sources), kind, name))

    def _remove_collection(self, collection_id: int) -> None:
        if self.actions.ask_yes_no("Remove this collection from the library? The files on disk stay."):
            self.controller.remove_collection(collection_id)

    def _on_model_missing(self, problem: Problem) -> None:
        """No dead end: download it, use a checkpoint file, or the demo model (continuing what the user began)."""
        self._close_download_dialog()
        pending, self._failed_sources = self._failed_sources, None
        self.model_actions.offer_choices(problem, pending)

    def _on_model_progress(self, progress) -> None:
        if self._download_dialog is None:
            self._download_dialog = ModelDownloadDialog(self)
        self._download_dialog.show_progress(progress)

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.close()
            self._download_dialog = None

