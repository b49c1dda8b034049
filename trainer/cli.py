"""`pmc-trainer`: pretrain, evaluate, export and make synthetic data. `main(argv)` so tests run it in-process.

Each subcommand lives in `trainer/commands/<name>.py` with `register(subparsers)` that sets `run=` on its parser.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from engine import __version__
from engine.errors import PmcSearchError, UserInputError
from engine.logsetup import configure_logging

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    from trainer import commands

    parser = argparse.ArgumentParser(prog="pmc-trainer", description="Train, evaluate and export PMC-CLIP models.")
    parser.add_argument("--version", action="version", version=f"pmc-trainer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"trainer.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging("pmc-trainer", level=logging.DEBUG if args.verbose else logging.INFO)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserInputError as e:
        print(f"pmc-trainer: error: {e}", file=sys.stderr)
        return 2
    except PmcSearchError as e:
        logger.exception("failed")
        print(f"pmc-trainer: failed: {e}", file=sys.stderr)
        return 1
