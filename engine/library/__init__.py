"""The figure library: catalog + index + encoder behind one thread-safe facade, and incremental ingestion."""

from engine.library.library import CATALOG_FILE, Library, is_library

__all__ = ["CATALOG_FILE", "Library", "is_library"]
