"""`pmc-trainer pretrain --config CFG [key=value …] [--resume latest|PATH] [--init-checkpoint FILE]`.

Single process:   pmc-trainer pretrain --config tiny train.epochs=3
One node, 2 GPUs: torchrun --nproc_per_node 2 -m trainer pretrain --config pmc-oa-rn50-fusion4 data.train=…
Several nodes:    torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --rdzv_backend c10d \
                      --rdzv_endpoint HOST:29400 -m trainer pretrain --config …
"""

from __future__ import annotations

import argparse
import logging
import os

from tqdm import tqdm

from trainer.config import load_config
from trainer.train import StepProgress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="train PMC-CLIP (CLIP + MLM) on figure–caption pairs; torchrun-aware",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="YAML config file or preset name (tiny, tiny-clip, pmc-oa-rn50-fusion4)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. train.epochs=3 optim.lr=5e-4")
    parser.add_argument("--resume", metavar="latest|PATH", help="continue from RUN_DIR/latest.pt or a checkpoint")
    parser.add_argument(
        "--init-checkpoint", metavar="FILE", help="start from PMC-CLIP weights (official checkpoint.pt or a folder)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    parser.set_defaults(run=run)


class ProgressBar:
    """One tqdm bar per epoch counting samples, so its rate is samples/s and its ETA the epoch's remainder."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, p: StepProgress) -> None:
        if self.bar is None or p.batch == 1:
            self.close()
            per_step = p.samples // p.batch
            self.bar = tqdm(total=p.batches * per_step, desc=f"epoch {p.epoch}", unit="sample", dynamic_ncols=True)
        self.bar.update(p.samples - self.bar.n)
        if p.loss is not None:
            self.bar.set_postfix(loss=f"{p.loss:.4f}", lr=f"{p.lr:.2e}", refresh=False)
        if p.batch == p.batches:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from trainer.run import run_training

    if int(os.environ.get("RANK", "0")) != 0:
        logging.getLogger().setLevel(logging.WARNING)  # only rank 0 talks
    cfg = load_config(args.config, args.overrides)
    progress = None if args.no_progress else ProgressBar()
    try:
        result = run_training(cfg, resume=args.resume, init_checkpoint=args.init_checkpoint, on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {result.epochs} epochs ({result.steps} steps); run folder: {result.run_dir}")
    return 0
