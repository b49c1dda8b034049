"""Headless `pmc-search` subcommands. Each module has `register(subparsers)` that sets `run=` on its parser."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def registered_commands() -> list[ModuleType]:
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return modules
