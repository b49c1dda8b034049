"""Where the product keeps its files.

The data dir holds libraries and settings, the cache dir downloaded model weights, the log dir the logs. All come
from platformdirs and move together under `PMC_SEARCH_HOME` (tests point it at a tmp dir; users at a shared disk).
Files the program ships with (style sheet, icons, demo model, model configs, prompt sets) are found through
`resource_path`, in a source checkout and in a PyInstaller bundle alike.
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
    """Libraries and settings. Created on first use."""
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
    """The platform's folder for this program's logs, where a user (or support) looks for them first.

    Linux `~/.local/state/pmc-figure-search/log`, macOS `~/Library/Logs/pmc-figure-search`, Windows
    `%LOCALAPPDATA%\\pmc-figure-search\\Logs`; under PMC_SEARCH_HOME, `<home>/logs`.
    """
    home = _home_override()
    path = home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


CATALOG_FILE = "catalog.sqlite"  # a folder holding this file is a library


def is_library(path: str | Path) -> bool:
    """Whether `path` holds a library (cheap: no database is opened, so the window can ask before it loads)."""
    return (Path(path) / CATALOG_FILE).is_file()


def default_library_dir() -> Path:
    return data_dir() / "libraries" / "default"


# Resources that live inside the `engine` package (so a wheel carries them as package data), under the name
# `resource_path` knows them by. Everything else is in the top-level `resources/` folder.
PACKAGE_RESOURCES: dict[str, tuple[str, ...]] = {
    "model-configs": ("engine", "models", "configs"),
    "prompt-sets": ("engine", "models", "prompts"),
}


def install_root() -> Path:
    """The folder that holds `engine/` and `resources/`: the source checkout, or a PyInstaller bundle's data folder.

    PyInstaller (one-folder build) puts data files under `sys._MEIPASS` (`<bundle>/_internal`); build.spec copies
    `resources/` and the package resources there with the same relative paths, so both layouts look alike.
    """
    bundle_root = getattr(sys, "_MEIPASS", None)
    return Path(bundle_root) if bundle_root else Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    """A file the program ships with, from a source checkout and inside a bundle alike.

    `resource_path("style.qss")`, `resource_path("icons", "pmc-figure-search.png")`, `resource_path("demo-model")`;
    a first part named in PACKAGE_RESOURCES (`"model-configs"`, `"prompt-sets"`) points into the engine package.
    """
    if parts and parts[0] in PACKAGE_RESOURCES:
        return install_root().joinpath(*PACKAGE_RESOURCES[parts[0]], *parts[1:])
    return install_root().joinpath("resources", *parts)
