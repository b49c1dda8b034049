"""Logging handlers for the two entry points (the engine itself only creates loggers).

Console at the chosen level, plus a rotating file in the platform's log folder (`engine.paths.log_dir`) so a user
can send us what happened.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from engine import paths

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(program: str, level: int = logging.INFO, console: bool = True) -> Path | None:
    """Install the handlers; returns the log file (None when it could not be opened)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()  # a handler we replace must release its log file
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(level)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    try:
        log_file = paths.log_dir() / f"{program}.log"
        file_handler = logging.handlers.RotatingFileHandler(
            log_file,
            maxBytes=2_000_000,
            backupCount=3,
            encoding="utf-8",
            errors="backslashreplace",  # a file name that is not UTF-8 must not break logging
        )
    except OSError:  # a read-only home must not stop the program
        return None
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(file_handler)
    return log_file
