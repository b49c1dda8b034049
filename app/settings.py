"""What the app remembers between runs, as one frozen dataclass, stored with QSettings.

QSettings is pointed at an INI file in the data dir (`configure_qsettings`), so `PMC_SEARCH_HOME` moves the
settings together with the libraries and tests never touch the user's real settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from PySide6.QtCore import QSettings

from engine import paths
from engine.types import ModelSpec

ORGANIZATION = "pmc-figure-search"
APPLICATION = "pmc-search"


@dataclass(frozen=True)
class AppSettings:
    model_name: str = "pmc-clip"
    weights: str | None = None  # a local checkpoint file or folder chosen with "Local checkpoint…"
    tokenizer: str | None = None
    device: str = "auto"  # "auto", "cpu", "cuda:0", …
    library_path: str = ""  # empty = engine.paths.default_library_dir()
    offline: bool = False  # never download; only files already on this machine

    @property
    def model_spec(self) -> ModelSpec:
        return ModelSpec(name=self.model_name, weights=self.weights, tokenizer=self.tokenizer)

    @property
    def library_dir(self) -> Path:
        return Path(self.library_path).expanduser() if self.library_path else paths.default_library_dir()

    def with_changes(self, **changes) -> AppSettings:
        return replace(self, **changes)


def configure_qsettings() -> None:
    """Every QSettings() built afterwards reads and writes `<data dir>/settings/…ini`."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(paths.data_dir() / "settings"))


def _qsettings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def load_settings() -> AppSettings:
    store = _qsettings()
    values = {}
    defaults = AppSettings()
    for f in fields(AppSettings):
        raw = store.value(f"settings/{f.name}")
        if raw is None or raw == "":
            continue
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            values[f.name] = str(raw).lower() in ("1", "true", "yes")
        else:
            values[f.name] = str(raw)
    return AppSettings(**values)


def save_settings(settings: AppSettings) -> None:
    store = _qsettings()
    for f in fields(AppSettings):
        value = getattr(settings, f.name)
        if value is None:
            store.remove(f"settings/{f.name}")
        else:
            store.setValue(f"settings/{f.name}", value)
    store.sync()


def load_window_state() -> tuple[bytes | None, bytes | None]:
    store = _qsettings()
    return store.value("window/geometry"), store.value("window/state")


def save_window_state(geometry: bytes, state: bytes) -> None:
    store = _qsettings()
    store.setValue("window/geometry", geometry)
    store.setValue("window/state", state)
    store.sync()
