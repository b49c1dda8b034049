"""Getting a usable model from the window, in plain words: download PMC-CLIP, use a local checkpoint, or use the
bundled demo model. No choice ends in "set an environment variable".

A library keeps the model it was built with, so each choice opens (or creates) a library for that model: the
library folder in Settings when no library is there yet, otherwise a new folder under the data dir. Sources the
user was adding when the model turned out to be missing are added once the new library is open.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from app.model_names import PMC_CLIP, PMC_CLIP_DOWNLOAD, describe_model
from app.problems import Problem
from engine import paths
from engine.types import ModelSpec

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow
    from app.ui.model_download import GetModelDialog

logger = logging.getLogger(__name__)

CHECKPOINT_FILTER = "Model checkpoints (*.pt *.pth *.bin *.safetensors);;All files (*)"
PendingSources = tuple[list[Path], str, str | None]  # sources, kind, collection name


def unique_library_dir(stem: str) -> Path:
    """`<data dir>/libraries/<stem>`, or `<stem>-2`, `-3` … when that is taken."""
    base = paths.data_dir() / "libraries"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "library"
    candidate, n = base / slug, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{slug}-{n}"
    return candidate


def spec_for_checkpoint(chosen: Path) -> ModelSpec:
    """A PMC-CLIP checkpoint file, or a model folder exported by pmc-trainer (chosen as its folder or a file in it)."""
    folder = chosen if chosen.is_dir() else chosen.parent
    if (folder / "config.json").is_file() and (chosen.is_dir() or chosen.suffix == ".safetensors"):
        return ModelSpec(name=f"local-dir:{folder}")
    return ModelSpec(name=PMC_CLIP, weights=str(chosen))


class ModelActions:
    def __init__(self, window: MainWindow):
        self.window = window
        self.download_dialog: GetModelDialog | None = None
        # Replaced by tests: the file chooser for a local checkpoint.
        self.choose_checkpoint: Callable[[], str] = self._choose_checkpoint

    # ---------------------------------------------------------------------------------------- choices
    def choices(self, pending: PendingSources | None = None) -> list[tuple[str, Callable[[], None]]]:
        """The three ways out when a model is missing, as banner buttons."""
        return [
            (f"Download PMC-CLIP ({PMC_CLIP_DOWNLOAD})", lambda: self.get_pmc_clip(pending)),
            ("Use a local checkpoint…", lambda: self.use_local_checkpoint(pending)),
            ("Use the demo model", lambda: self.use_demo_model(pending)),
        ]

    def offer_choices(self, problem: Problem, pending: PendingSources | None = None) -> None:
        summary = problem.summary + " You can download PMC-CLIP, use a checkpoint file you already have, or use " \
            "the small demo model that comes with the app."
        self.window.notice.show_problem(Problem(summary, problem.details), "error", self.choices(pending))

    def get_pmc_clip(self, pending: PendingSources | None = None) -> None:
        from app.ui.model_download import GetModelDialog
        from engine.hub import MODEL_FILES

        if self.download_dialog is not None and self.download_dialog.state == "downloading":
            self.download_dialog.raise_()
            return
        dialog = GetModelDialog("PMC-CLIP", PMC_CLIP_DOWNLOAD, MODEL_FILES[PMC_CLIP], self.window.controller.run_job,
                                self.window)
        dialog.downloaded.connect(lambda: self.open_model_library(ModelSpec(name=PMC_CLIP), pending))
        self.download_dialog = dialog
        dialog.start()

    def use_local_checkpoint(self, pending: PendingSources | None = None) -> None:
        path = self.choose_checkpoint()
        if not path:
            return
        self.open_model_library(spec_for_checkpoint(Path(path)), pending, stem=Path(path).stem)

    def use_demo_model(self, pending: PendingSources | None = None) -> None:
        from app.demo import demo_model_spec

        spec = demo_model_spec()
        if spec is None:
            self.window.show_problem(Problem("The demo model is not part of this installation."))
            return
        self.open_model_library(spec, pending, stem="demo-model")

    # ---------------------------------------------------------------------------------------- opening
    def open_model_library(self, spec: ModelSpec, pending: PendingSources | None = None, stem: str | None = None):
        """Open a library for `spec`: Settings' library folder when it holds none yet, else a new folder."""
        target = self.window.settings.library_dir
        if paths.is_library(target):
            target = unique_library_dir(stem or spec.name)
        self.window.notice.hide()
        self.window.show_info(f"Opening a library for {describe_model(spec).title} in {target}.")
        self.window.open_library(target, spec=spec, then_add=pending)

    def _choose_checkpoint(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self.window, "Choose a model checkpoint", "", CHECKPOINT_FILTER)
        return path

    def shutdown(self) -> None:
        """The window is closing: a running download stops (its partial file stays for next time)."""
        if self.download_dialog is not None and self.download_dialog.state == "downloading":
            self.download_dialog.cancel()
