"""How the app opens a library: the engine's one `open_or_create`, plus the app's garbage-collector policy.

An opener is what `AppController` calls in a worker to open a library. The encoder factory is chosen when the
opener is made (the real model in the app; a fake one in tests, the self-test and benchmarks) and travels through
constructors, never through a module-level switch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.gc_policy import freeze_long_lived_objects
from engine.library import EncoderFactory, FigureLibrary, is_library, open_or_create
from engine.types import ModelSpec

# (path, spec, *, device, offline, read_only, progress) -> FigureLibrary
LibraryOpener = Callable[..., FigureLibrary]


def library_opener(encoder_factory: EncoderFactory | None = None) -> LibraryOpener:
    """An opener building each library's model with `encoder_factory` (None: the real model)."""

    def open_library(path: Path, spec: ModelSpec, **options) -> FigureLibrary:
        library = open_or_create(Path(path), spec, encoder_factory, **options)
        freeze_long_lived_objects()  # the model just loaded stays for the session: keep GC passes off it
        return library

    return open_library


def library_exists(path: Path) -> bool:
    return is_library(path)
