"""How the app opens a library: the engine's one `open_or_create`, plus the app's garbage-collector policy.

An opener is what `AppController` calls in a worker to open a library. The encoder factory is chosen when the
opener is made (the real model in the app; a fake one in tests, the self-test and benchmarks) and travels through
constructors, never through a module-level switch. The engine's library code (SQLAlchemy, hnswlib, numpy) is
imported by the first open, in that worker, so that the window appears before any of it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.types import ModelSpec

if TYPE_CHECKING:
    from engine.library import EncoderFactory, FigureLibrary

# (path, spec, *, device, offline, read_only, progress) -> FigureLibrary
LibraryOpener = Callable[..., "FigureLibrary"]


def library_opener(encoder_factory: EncoderFactory | None = None) -> LibraryOpener:
    """An opener building each library's model with `encoder_factory` (None: the real model)."""

    def open_library(path: Path, spec: ModelSpec, **options) -> FigureLibrary:
        from app.gc_policy import freeze_long_lived_objects
        from engine.library import open_or_create

        library = open_or_create(Path(path), spec, encoder_factory, **options)
        freeze_long_lived_objects()  # the model just loaded stays for the session: keep GC passes off it
        return library

    return open_library
