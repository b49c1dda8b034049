"""`pmc-trainer export RUN_DIR OUT_DIR [--checkpoint latest.pt|epoch_N.pt]` → a model folder for `local-dir:`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a trained run as a model folder the app loads with local-dir:OUT_DIR", description=__doc__
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--checkpoint", default="latest.pt", help="file inside RUN_DIR (default latest.pt) or a path")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trainer.export import export_run

    out = export_run(args.run_dir, args.out_dir, args.checkpoint)
    print(f"exported to {out}; use it as --model local-dir:{out.resolve()}")
    return 0
