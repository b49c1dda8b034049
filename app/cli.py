"""`pmc-search`: the desktop app, plus headless subcommands that run the same engine API.

With no subcommand it opens the window. Qt is imported only then, so the headless commands work on servers
without a display. Exit codes: 0 ok, 1 internal error, 2 bad input or usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from engine import __version__
from engine.errors import PmcSearchError, UserInputError
from engine.logsetup import configure_logging

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


def main(argv: list[str] | None = None, *, encoder_factory: EncoderFactory | None = None) -> int:
    """Run `pmc-search ARGV`. `encoder_factory` builds the model of a library (None: the real one; tests and
    benchmarks pass a fake)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.encoder_factory = encoder_factory
    configure_logging("pmc-search", level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        if args.command:
            return int(args.run(args) or EXIT_OK)
        if args.selftest:
            from app.selftest import run_selftest  # Qt is imported only for the GUI and its self-test

            return run_selftest(args, encoder_factory=encoder_factory)
        from app.gui_main import run_gui

        return run_gui(args, encoder_factory=encoder_factory)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UserInputError as e:
        print(f"pmc-search: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PmcSearchError as e:
        logger.exception("failed")
        print(f"pmc-search: failed: {e}", file=sys.stderr)
        return EXIT_INTERNAL
