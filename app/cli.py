"""`pmc-search`: the desktop app, plus headless subcommands that run the same engine API.

With no subcommand it opens the window. Qt is imported only then, so the headless commands work on servers
without a display.

Exit codes: 0 ok; 2 the user can fix it (bad input or usage, a damaged or read-only library, a full disk, a folder
without permission, a bad model file, no network for a download), said in one plain sentence; 1 only for our own
bugs (the traceback goes to the log file, whose path is printed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from engine import __version__
from engine.errors import DownloadError, UserInputError
from engine.logsetup import configure_logging
from engine.storage_errors import as_storage_error
from engine.text import display_text

if TYPE_CHECKING:
    from engine.library import EncoderFactory

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _register_subcommands(subparsers) -> None:
    # Each headless command lives in its own module under app/commands with `register(subparsers)`.
    from app.commands import registered_commands

    for command_module in registered_commands():
        command_module.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmc-search",
        description="Search biomedical figures by text or image. Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"pmc-search {__version__}")
    parser.add_argument("--library", metavar="DIR", help="library folder (default: the last one used)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to the console")
    parser.add_argument(
        "--selftest", action="store_true", help="open the app offscreen, run a text and an image query, exit"
    )
    parser.add_argument("--screenshot", metavar="PNG", help="with --selftest: save the window to this file")
    parser.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="when no library exists yet, build and open the bundled demo library (what `make run` does)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_subcommands(subparsers)
    return parser


def _log_file() -> str:
    from engine import paths

    return str(paths.log_dir() / "pmc-search.log")


def _user_error(message: str) -> int:
    print(f"pmc-search: error: {display_text(message)} (details: {_log_file()})", file=sys.stderr)
    return EXIT_BAD_INPUT


def _tolerant_output() -> None:
    """A path or caption that is not valid UTF-8 is printed escaped, never a UnicodeEncodeError at the last step."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot change (detached): leave it
                reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None, *, encoder_factory: EncoderFactory | None = None) -> int:
    """Run `pmc-search ARGV`. `encoder_factory` builds the model of a library (None: the real one; tests and
    benchmarks pass a fake)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if any("\x00" in arg for arg in argv):  # only an in-process caller can pass one (a real argv cannot)
        return _user_error("arguments cannot contain NUL characters")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: usage errors (2), --help and --version (0); returned, not raised
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_BAD_INPUT
    args.encoder_factory = encoder_factory
    _tolerant_output()
    configure_logging("pmc-search", level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return _run(args, encoder_factory)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserInputError, DownloadError) as e:
        logger.info("refused: %s", e, exc_info=True)
        return _user_error(str(e))
    except Exception as e:  # noqa: BLE001 - the last line of defence: a storage failure or one of our bugs
        storage = as_storage_error(e)
        if storage is not None:
            logger.info("storage failure", exc_info=True)  # the log file keeps the traceback; the console, one line
            return _user_error(f"{storage}; free space or fix the folder's permissions, then run the command again")
        logger.info("internal error: the traceback for a bug report", exc_info=True)  # console: the line below
        print(
            f"pmc-search: internal error (a bug, please report it): {type(e).__name__}: {display_text(e)} "
            f"(traceback in {_log_file()})",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _run(args, encoder_factory) -> int:
    if args.command:
        return int(args.run(args) or EXIT_OK)
    if args.selftest:
        from app.selftest import run_selftest  # Qt is imported only for the GUI and its self-test

        return run_selftest(args, encoder_factory=encoder_factory)
    from app.gui_main import run_gui

    return run_gui(args, encoder_factory=encoder_factory)
