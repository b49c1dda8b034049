"""What the encoders' reduced-scale JPEG decoding (`load_image`) costs in fidelity and saves in time.

    python -m bench.jpeg_scale                   # 224-px input, 1,200-px figures and 1,024-px noise, 3 runs
    python -m bench.jpeg_scale --keep 1          # keep only 1x the input side (faster, less faithful)

For each image set, the same file is decoded whole and at the reduced scale libjpeg offers (1/2, 1/4, 1/8: the
largest keeping both sides >= `--keep` x the model's input side; the encoders use 2), then resized and cropped:
  model input    mean absolute difference of the two 224-px inputs, in 8-bit grey levels (model-independent);
  demo model     cosine between the bundled demo model's vectors of the two (a trained model, 64-px input);
  time           decode + preprocess per image, whole vs reduced (median of the runs), and their ratio.
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
from bench.test_images import make_images
from engine import paths
from engine.imaging import open_image
from engine.models import PreprocessConfig, build_eval_transform, create_encoder


def _per_image_ms(files: list[Path], transform, reduce_to: int | None, runs: int) -> tuple[float, float, float]:
    rounds = []
    for _ in range(runs):
        started = time.perf_counter()
        for path in files:
            transform.pixels(open_image(path, reduce_to=reduce_to))
        rounds.append(1000 * (time.perf_counter() - started) / len(files))
    return statistics.median(rounds), min(rounds), max(rounds)


def _input_difference(files: list[Path], transform, side: int) -> float:
    diffs = [
        (transform.pixels(open_image(p)).float() - transform.pixels(open_image(p, reduce_to=side)).float()).abs().mean()
        for p in files
    ]
    return float(torch.stack(diffs).mean())


def _demo_cosines(files: list[Path], encoder, keep: float) -> np.ndarray:
    side = int(keep * 64)
    whole = encoder.encode_images([open_image(p) for p in files])
    reduced = encoder.encode_images([open_image(p, reduce_to=side) for p in files])
    return np.sum(whole * reduced, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--width", type=int, default=1200, help="figure width in pixels (height = 3/4 of it)")
    parser.add_argument("--noise-side", type=int, default=1024, help="side of the uniform-noise squares (worst case)")
    parser.add_argument("--keep", type=float, default=2.0, help="reduce while both sides stay >= keep x input (2)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(describe())
    transform = build_eval_transform(PreprocessConfig(image_size=224))
    demo = create_encoder(f"local-dir:{paths.resource_path('demo-model')}", device="cpu")
    sets = {
        f"figure {args.width}x{args.width * 3 // 4}": ("figure", args.width),
        f"noise {args.noise_side}x{args.noise_side}": ("noise", args.noise_side),
    }
    with tempfile.TemporaryDirectory(prefix="bench-jpeg-") as tmp:
        for label, (kind, side) in sets.items():
            folder = Path(tmp) / kind
            folder.mkdir()
            files = make_images(folder, args.images, side, kind=kind)
            kb = np.mean([f.stat().st_size for f in files]) / 1024
            side = int(args.keep * 224)
            whole = _per_image_ms(files, transform, None, args.runs)
            reduced = _per_image_ms(files, transform, side, args.runs)
            cosines = _demo_cosines(files, demo, args.keep)
            print(f"\n=== {label}, {args.images} JPEGs, {kb:.0f} KB each on average")
            difference = _input_difference(files, transform, side)
            print(f"model input (224 px, reduced to >= {side} px): mean |whole - reduced| = {difference:.2f} grey "
                  "levels")
            print(f"demo model ({demo.model_id.split('/')[-1]}, 64 px): cosine whole vs reduced "
                  f"min {cosines.min():.5f}, median {np.median(cosines):.5f}")
            print(f"decode + preprocess per image, 1 thread: whole {whole[0]:.2f} ms ({whole[1]:.2f}-{whole[2]:.2f}), "
                  f"reduced {reduced[0]:.2f} ms ({reduced[1]:.2f}-{reduced[2]:.2f}): {whole[0] / reduced[0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
