"""`pmc-search check [--repair]`: check a library fully, and repair it.

    pmc-search --library DIR check            # integrity_check of the catalog, the stored vectors, the index
    pmc-search --library DIR check --repair   # salvage the catalog, quarantine and re-encode bad vectors,
                                              # rebuild the index, read the sources again for lost figures

Exit codes: 0 sound (or repaired), 2 damage found and not (fully) repaired: the last line says why.
"""

from __future__ import annotations

from pathlib import Path

from app.commands.library import _library_dir
from engine.text import display_text
from engine.types import ModelSpec

EXIT_DAMAGED = 2


def run_check(args) -> int:
    from engine.library import is_library, open_or_create
    from engine.library.repair import check_library

    folder = _library_dir(args)
    if not is_library(folder):
        from engine.errors import UserInputError

        raise UserInputError(f"there is no library at {folder}")

    def reopen(path: Path):
        return open_or_create(path, ModelSpec(), args.encoder_factory, device=args.device)

    report = check_library(folder, repair=args.repair, reopen=reopen, rescan=not args.no_rescan)
    for line in report.lines():
        print(display_text(line))
    if report.healthy or report.repaired:
        if report.repaired:
            print("repaired")
        return 0
    if not args.repair:
        print(f"damaged: run `pmc-search --library {display_text(folder)} check --repair` to repair it")
    return EXIT_DAMAGED


def register(subparsers) -> None:
    check = subparsers.add_parser("check", help="check the library fully (catalog, vectors, index); --repair fixes it")
    check.add_argument("--repair", action="store_true", help="salvage the catalog and rebuild what was damaged")
    check.add_argument("--no-rescan", action="store_true",
                       help="with --repair: do not read the sources again to bring back lost figures")
    check.add_argument("--device", default="auto", help="device for re-encoding images (auto, cpu, cuda …)")
    check.set_defaults(run=run_check)
