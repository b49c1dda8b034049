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
import os
import sys
from typing import TYPE_CHECKING

from app.build_info import describe
from engine.errors import DownloadError, PmcSearchError, UserInputError
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


class _VersionAction(argparse.Action):
    """`--version`: the version and the commit (from git in a checkout, baked in for a bundle), asked only when used."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"pmc-search {describe()}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmc-search",
        description="Search biomedical figures by text or image. Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and commit, and exit")
    parser.add_argument("--library", metavar="DIR", help="library folder (default: the last one used)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to the console")
    parser.add_argument(
        "--selftest", action="store_true", help="open the app offscreen, run a text and an image query, exit"
    )
    parser.add_argument("--screenshot", metavar="PNG", help="with --selftest: save the window to this file")
    parser.add_argument(
        "--window-size", metavar="WxH", default="1280x800", help="with --selftest: the window's size (default 1280x800)"
    )
    # For `python -m bench.startup`: print when the window was painted and when QUERY's first results came, quit.
    parser.add_argument("--startup-probe", metavar="QUERY", help=argparse.SUPPRESS)
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
    log_file = configure_logging("pmc-search", level=logging.DEBUG if args.verbose else logging.WARNING)
    frozen = getattr(sys, "frozen", False)
    logger.info("pmc-search %s (%s) on %s", describe(), "bundle" if frozen else "source", sys.platform)
    try:
        if args.command:
            return int(args.run(args) or EXIT_OK)
        return _run_window(args, log_file, encoder_factory)
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


def _run_window(args, log_file, encoder_factory) -> int:
    """The window (or its offscreen self-test), after checking that Qt can start; a failure is shown, not swallowed."""
    from app.gui_preflight import StartupProblem, preflight, report_startup_problem  # Qt only for the GUI

    if args.selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no person, no screen needed
    try:
        preflight()
    except StartupProblem as problem:
        report_startup_problem(problem, log_file, dialog=not args.selftest)
        return EXIT_INTERNAL
    if args.selftest:
        from app.selftest import run_selftest

        return run_selftest(args, encoder_factory=encoder_factory)
    from app.gui_main import run_gui

    try:
        return run_gui(args, encoder_factory=encoder_factory)
    except (PmcSearchError, KeyboardInterrupt):
        raise
    except Exception as error:  # an unexpected failure while opening the window: say so instead of vanishing
        logger.exception("the window failed")
        report_startup_problem(error, log_file)
        return EXIT_INTERNAL
