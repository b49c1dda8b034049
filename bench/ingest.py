"""Ingest throughput vs the bare encoder's throughput: same model, batch size, device and images.

    python -m bench.ingest                      # small random PMC-CLIP, 96 images, 3 runs
    python -m bench.ingest --size rn50 --images 64 --batch-size 16
    python -m bench.ingest --size none --images 1000 --image-side 128 --batch-size 32   # the pipeline alone
    python -m bench.ingest --size rn50 --images 64 --paths fp32,bf16 --threads 2        # both CPU paths
    python -m bench.ingest --size rn50 --images 160 --kind figure --image-side 1200 --paths fp32,bf16 --threads 2

`--paths` runs the encoder's real CPU paths (engine.models.PMCClipEncoder: BatchNorm folded, channels_last; "bf16"
adds bf16 autocast on CPUs with native bf16) around the random-weight model; without it the plain model runs.

Baselines, measured in the same run on the same images:
  model-only     the model's forward over tensors already decoded and preprocessed in memory (the ceiling);
  decode+model   `encode_images` over paths: decode, preprocess and forward one batch after another.
`ingest` is a fresh library ingesting the folder: scanning, hashing, decoding in the prefetch pool,
encoding, modality labels, SQLite commits per batch and the hnswlib index. Goal: ingest >= 0.9 x model-only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.machine_info import describe
from bench.random_encoder import NullEncoder, RandomPMCClipEncoder
from bench.test_images import KINDS, make_images
from engine.library import Library
from engine.progress import run_to_end
from engine.types import ModelSpec


def model_only(encoder, paths: list[Path], batch_size: int) -> float:
    tensors = [encoder.preprocess(encoder.load_image(p)) for p in paths]
    started = time.perf_counter()
    stack = torch.stack if isinstance(tensors[0], torch.Tensor) else np.stack
    for start in range(0, len(tensors), batch_size):
        encoder.encode_preprocessed(stack(tensors[start : start + batch_size]))
    return len(tensors) / (time.perf_counter() - started)


def decode_and_model(encoder, paths: list[Path], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(paths), batch_size):
        encoder.encode_images(paths[start : start + batch_size])
    return len(paths) / (time.perf_counter() - started)


def library_ingest(encoder, folder: Path, warm_folder: Path, batch_size: int) -> tuple[float, float]:
    """(steady-state img/s, seconds of the first small ingest into the new library).

    A new library first encodes its modality prompts (once per library: they are stored in the catalog) and
    fills the prefetch pipeline; a small warm-up collection pays that, and is reported separately.
    """
    with (
        tempfile.TemporaryDirectory(prefix="bench-lib-") as where,
        Library.create(Path(where) / "lib", ModelSpec("bench"), model_id=encoder.model_id, dim=encoder.dim) as lib,
    ):
        lib.attach_encoder(encoder)
        started = time.perf_counter()
        run_to_end(lib.ingest(lib.add_collection(warm_folder).id, batch_size=batch_size))
        warm_seconds = time.perf_counter() - started
        collection = lib.add_collection(folder)
        started = time.perf_counter()
        report = run_to_end(lib.ingest(collection.id, batch_size=batch_size))
        elapsed = time.perf_counter() - started
        if report.added != len(list(folder.glob("*.jpg"))):
            raise RuntimeError(f"ingest added {report.added} figures: {report}")
    return report.added / elapsed, warm_seconds


def cpu_path_encoder(random_encoder: RandomPMCClipEncoder, path: str):
    """The product's CPU encoder (fp32 or bf16 image path) around the benchmark's random-weight model."""
    from engine.models import PMCClipEncoder

    return PMCClipEncoder(
        tokenizer=random_encoder._tokenizer, context_length=77, model=random_encoder.model,
        model_id=random_encoder.model_id, dim=random_encoder.dim, transform=random_encoder._transform,
        device="cpu", device_reason="benchmark", image_autocast_dtype="bf16" if path == "bf16" else None,
        channels_last=True,
    )


def _shape(args) -> str:
    width = args.image_side
    return f"{width}x{width * 3 // 4}" if args.kind == "figure" else f"{width}x{width}"


def _summary(name: str, values: list[float]) -> str:
    return f"{name:<14} median {statistics.median(values):7.2f} img/s  (min {min(values):.2f}, max {max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["small", "rn50", "none"], default="small", help="none: no model")
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--image-side", type=int, default=512,
                        help="source images: the side of a noise square, the width of a figure (512)")
    parser.add_argument("--kind", choices=KINDS, default="noise",
                        help="noise: worst case for JPEG decoding; figure: demo figures at a PMC figure's size "
                             "(bench/test_images.py)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--paths", default="", help="comma-separated encoder CPU paths to run: fp32, bf16")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe())
    if args.size == "none":
        runs = {"no model": NullEncoder()}
    else:
        random_encoder = RandomPMCClipEncoder(args.size)
        paths = [p for p in args.paths.split(",") if p]
        runs = {f"encoder CPU path {p}": cpu_path_encoder(random_encoder, p) for p in paths} or {
            "plain fp32 model": random_encoder}
    for label, encoder in runs.items():
        print(f"\n=== {label}")
        _bench_one(encoder, args)
    return 0


def _bench_one(encoder, args) -> None:
    params = sum(p.numel() for p in encoder.model.visual.parameters()) / 1e6 if args.size != "none" else 0.0
    print(
        f"model: {encoder.model_id} ({params:.1f} M image params, {encoder.dim}-d), batch {args.batch_size}, "
        f"{args.images} {args.kind} JPEGs {_shape(args)}, {args.runs} runs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        folder, warm_folder = Path(tmp) / "images", Path(tmp) / "warm-up"
        folder.mkdir()
        warm_folder.mkdir()
        paths = make_images(folder, args.images, args.image_side, kind=args.kind)
        make_images(warm_folder, args.batch_size, args.image_side, seed=1, kind=args.kind)
        model_only(encoder, paths[: args.batch_size], args.batch_size)  # warm-up
        bare, decoded, ingested, warmups = [], [], [], []
        for run in range(args.runs):
            bare.append(model_only(encoder, paths, args.batch_size))
            decoded.append(decode_and_model(encoder, paths, args.batch_size))
            rate, warm_seconds = library_ingest(encoder, folder, warm_folder, args.batch_size)
            ingested.append(rate)
            warmups.append(warm_seconds)
            print(
                f"run {run + 1}: model-only {bare[-1]:.2f}, decode+model {decoded[-1]:.2f}, "
                f"ingest {ingested[-1]:.2f} img/s"
            )
    print(_summary("model-only", bare))
    print(_summary("decode+model", decoded))
    print(_summary("ingest", ingested))
    print(
        f"first {args.batch_size}-image ingest into a new library (prompts + pipeline fill): "
        f"median {statistics.median(warmups):.2f} s"
    )
    ratios = [i / b for i, b in zip(ingested, bare, strict=True)]
    print(f"ingest / model-only: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    ratios = [i / d for i, d in zip(ingested, decoded, strict=True)]
    print(f"ingest / decode+model: median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
