"""Opening a library, or creating it, together with its model: the one start-up path of the GUI and the CLIs.

The encoder factory is a parameter, so tests, the self-test and benchmarks pass a fake model the same way the
app passes the real one; no module-level switch exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import LibraryModelMismatchError, UnfinishedLibraryError
from engine.library.library import Library, is_library
from engine.types import Encoder, ModelSpec

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Any], None]
# (spec, device, offline, download progress) -> Encoder
EncoderFactory = Callable[[ModelSpec, str, bool, ProgressCallback | None], Encoder]


def create_model_encoder(spec: ModelSpec, device: str, offline: bool, progress: ProgressCallback | None) -> Encoder:
    """The real factory: the registry's model (downloading its weights on first use unless offline)."""
    from engine.models import create_encoder  # torch: imported only when a model is really built

    return create_encoder(spec.name, spec.weights, spec.tokenizer, device=device, offline=offline, progress=progress)


def open_or_create(
    path: str | Path,
    spec: ModelSpec,
    encoder_factory: EncoderFactory | None = None,
    *,
    device: str = "auto",
    offline: bool = False,
    read_only: bool = False,
    progress: ProgressCallback | None = None,
    require_model: str | None = None,
) -> Library:
    """Open the library at `path` with its own model attached, or create it there with `spec`.

    An existing library keeps the model it was built with (mixing two models' vectors gives nonsense), so `spec`
    only matters for a new one; `require_model` names a model the caller insists on, and a library built with
    another is refused with LibraryModelMismatchError. LibraryLockedError when another process holds it
    (unless `read_only`). `encoder_factory` None builds the real model (`create_model_encoder`).
    """
    encoder_factory = encoder_factory or create_model_encoder
    path = Path(path)
    library = _open_existing(path, read_only)
    if library is not None:
        try:
            if require_model and require_model != library.model_spec.name:
                raise LibraryModelMismatchError(
                    f"the library at {path} uses model {library.model_spec.name!r}, not {require_model!r}; "
                    "use another library folder for another model"
                )
            library.attach_encoder(encoder_factory(library.model_spec, device, offline, progress))
            if not read_only and library.quarantined_count():
                library.reencode_quarantined()  # damaged stored vectors: encode those images again
        except BaseException:
            library.close()
            raise
        return library
    encoder = encoder_factory(spec, device, offline, progress)
    library = Library.create(path, spec, model_id=encoder.model_id, dim=encoder.dim)
    library.attach_encoder(encoder)
    return library


def _open_existing(path: Path, read_only: bool) -> Library | None:
    """The library at `path`; None when there is none, or when its creation was interrupted and it may be created
    again (a reading caller gets UnfinishedLibraryError, which says how to finish it)."""
    if not is_library(path):
        return None
    try:
        return Library.open(path, read_only=read_only)
    except UnfinishedLibraryError:
        if read_only:
            raise
    Library.discard_unfinished(path)
    return None
