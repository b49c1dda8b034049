"""`pmc-trainer synth OUT --n N`: write a synthetic PMC-OA-format data set (jsonl + PNGs + vocabulary)."""

from __future__ import annotations

import argparse
import time

from tqdm import tqdm

from trainer.synth import SynthConfig, generate_synthetic


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic figure/caption data set for smoke runs and tests",
        description="Write OUT/train.jsonl, OUT/valid.jsonl, OUT/images/*.png and OUT/tokenizer/vocab.txt: "
        "synthetic biomedical-looking figures (plots, micrographs, radiographs, gels, ECGs, diagrams) whose "
        "captions describe their colours, counts, orientations and positions.",
    )
    parser.add_argument("out", metavar="OUT", help="output folder (created if missing)")
    parser.add_argument("--n", type=int, required=True, help="number of figure/caption pairs")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default 0)")
    parser.add_argument("--image-size", type=int, default=96, help="side of the square images in pixels (96)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of pairs in valid.jsonl (0.1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = SynthConfig(n=args.n, seed=args.seed, image_size=args.image_size, val_fraction=args.val_fraction)
    start = time.perf_counter()
    with tqdm(total=config.n, unit="fig", desc="synth", disable=None) as bar:
        summary = generate_synthetic(args.out, config, progress=lambda done, total: bar.update(1))
    seconds = time.perf_counter() - start
    kinds = ", ".join(f"{k} {v}" for k, v in summary.kinds.items())
    print(
        f"wrote {summary.train} train + {summary.valid} valid pairs to {summary.out_dir} "
        f"in {seconds:.1f} s ({config.n / max(seconds, 1e-9):.0f} figures/s); kinds: {kinds}"
    )
    return 0
