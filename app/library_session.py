"""Opening (or creating) a library together with its model — the slow start-up step, run in a worker.

The encoder factory is a parameter so tests and the self-test can use a tiny fake model; the default builds
the library's recorded model with `engine.models.create_encoder` (which may download weights on first use).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.gc_policy import freeze_long_lived_objects
from engine.types import Encoder, ModelSpec

logger = logging.getLogger(__name__)

# (spec, device, offline, progress) -> Encoder
EncoderFactory = Callable[[ModelSpec, str, bool, Callable[[Any], None] | None], Encoder]


def default_encoder_factory(
    spec: ModelSpec, device: str, offline: bool, progress: Callable[[Any], None] | None
) -> Encoder:
    from engine.models import create_encoder

    return create_encoder(
        spec.name, spec.weights, spec.tokenizer, device=device, offline=offline, progress=progress
    )


_encoder_factory: EncoderFactory = default_encoder_factory


def set_encoder_factory(factory: EncoderFactory | None) -> None:
    """Swap the model builder (tests, the self-test). None restores the real one."""
    global _encoder_factory
    _encoder_factory = factory or default_encoder_factory


def encoder_factory() -> EncoderFactory:
    return _encoder_factory


def library_exists(path: Path) -> bool:
    try:
        from engine.library import is_library
    except ImportError:  # the library package is not installed in this build: nothing can exist
        return False
    return is_library(path)


def open_or_create_library(
    path: Path,
    spec: ModelSpec,
    *,
    device: str = "auto",
    offline: bool = False,
    read_only: bool = False,
    progress: Callable[[Any], None] | None = None,
    factory: EncoderFactory | None = None,
):
    """Open the library at `path` (or create it with `spec`) and attach its encoder.

    An existing library keeps the model it was built with: mixing vectors of two models would give nonsense.
    Raises LibraryLockedError when another running instance holds it (unless `read_only`).
    """
    from engine.library import Library

    factory = factory or _encoder_factory
    path = Path(path)
    if library_exists(path):
        library = Library.open(path, read_only=read_only)
        try:
            library.attach_encoder(factory(library.model_spec, device, offline, progress))
        except BaseException:
            library.close()
            raise
        freeze_long_lived_objects()  # the model just loaded is there for the session
        return library
    encoder = factory(spec, device, offline, progress)
    path.mkdir(parents=True, exist_ok=True)
    library = Library.create(path, spec, model_id=encoder.model_id, dim=encoder.dim)
    library.attach_encoder(encoder)
    freeze_long_lived_objects()
    return library
