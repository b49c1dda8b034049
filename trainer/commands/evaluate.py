"""`pmc-trainer evaluate --model NAME|local-dir:PATH --data valid.jsonl [--image-root DIR]` → retrieval R@K.

Image→text and text→image recall over the full N×N similarity matrix of the pairs in the file (pair i is
image i and caption i), as in pmc-clip.md §5.1; `--max-rows` takes the first N rows (a fixed subset, without
replacement — unlike the reference's 2k subset drawn with replacement).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="image↔text retrieval R@1/5/10 of a model on a jsonl/csv of pairs", description=__doc__
    )
    parser.add_argument("--model", required=True, help="registry name or local-dir:PATH (an exported run)")
    parser.add_argument("--weights", help="weights file/folder for registry models")
    parser.add_argument("--tokenizer", help="tokenizer folder for registry models")
    parser.add_argument("--data", required=True, help=".jsonl or .csv with image and caption columns")
    parser.add_argument("--image-root", help="folder the image paths are relative to (default: the data's folder)")
    parser.add_argument("--image-key", default="image")
    parser.add_argument("--caption-key", default="caption")
    parser.add_argument("--max-rows", type=int, help="evaluate on the first N pairs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.models import create_encoder
    from trainer.data import read_rows
    from trainer.metrics import retrieval_metrics

    rows = read_rows(args.data, image_key=args.image_key, caption_key=args.caption_key).rows
    if args.max_rows:
        rows = rows[: args.max_rows]
    root = Path(args.image_root) if args.image_root else Path(args.data).parent
    encoder = create_encoder(args.model, weights=args.weights, tokenizer=args.tokenizer, device=args.device)
    images, texts = [], []
    with tqdm(total=len(rows), desc="encoding", unit="pair") as bar:
        for start in range(0, len(rows), args.batch_size):
            chunk = rows[start : start + args.batch_size]
            images.append(encoder.encode_images([root / r.image for r in chunk]))
            texts.append(encoder.encode_texts([r.caption for r in chunk]))
            bar.update(len(chunk))
    metrics = retrieval_metrics(np.concatenate(images), np.concatenate(texts))
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    n = int(metrics["num_samples"])
    print(f"{args.model} on {n} pairs of {args.data}")
    for direction in ("image_to_text", "text_to_image"):
        recalls = "  ".join(f"R@{k} {metrics[f'{direction}_R@{k}']:.4f}" for k in (1, 5, 10))
        print(f"  {direction:14s} {recalls}  mean rank {metrics[f'{direction}_mean_rank']:.1f}")
    chance = "  ".join(f"R@{k} {metrics[f'chance_R@{k}']:.4f}" for k in (1, 5, 10))
    print(f"  {'chance':14s} {chance}")
    return 0
