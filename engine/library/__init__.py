"""The figure library: catalog + index + encoder behind one thread-safe facade, and incremental ingestion."""

from engine.library.library import CATALOG_FILE, Library, is_library
from engine.library.opening import EncoderFactory, create_model_encoder, open_or_create
from engine.library.protocol import FigureLibrary

__all__ = [
    "CATALOG_FILE",
    "EncoderFactory",
    "FigureLibrary",
    "Library",
    "create_model_encoder",
    "is_library",
    "open_or_create",
]
