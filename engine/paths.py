"""Where the product keeps its files.

The data dir holds libraries, settings and logs; the cache dir holds downloaded model weights. Both come from
platformdirs and move together under `PMC_SEARCH_HOME` (tests point it at a tmp dir; users at a shared disk).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "pmc-figure-search"
HOME_ENV = "PMC_SEARCH_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Libraries, settings and logs. Created on first use."""
    home = _home_override()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Downloaded model weights and tokenizers; safe to delete (they are downloaded again)."""
    home = _home_override()
    path = home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


CATALOG_FILE = "catalog.sqlite"  # a folder holding this file is a library


def is_library(path: str | Path) -> bool:
    """Whether `path` holds a library (cheap: no database is opened, so the window can ask before it loads)."""
    return (Path(path) / CATALOG_FILE).is_file()


def default_library_dir() -> Path:
    return data_dir() / "libraries" / "default"


def resource_path(*parts: str) -> Path:
    """A file under `resources/`, both from a source checkout and inside a PyInstaller bundle.

    PyInstaller unpacks data files under `sys._MEIPASS`; build.spec puts `resources/` there.
    """
    bundle_root = getattr(sys, "_MEIPASS", None)
    root = Path(bundle_root) if bundle_root else Path(__file__).resolve().parent.parent
    return root.joinpath("resources", *parts)
