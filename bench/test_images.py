"""JPEG folders for the ingest and decoding benchmarks.

"noise": squares of uniform noise with a few flat rectangles. Uniform noise is the worst case for JPEG: a 512² file
is ~235 KB, 3-5 times the bytes of a real figure that size, and its entropy decoding (which no reduced-scale decode
saves) dominates. "figure": the bundled demo figures (radiographs, micrographs, charts, gels) enlarged to a PMC
figure's size (width x 3/4 width, 1,200 px by default) with a little sensor grain, ~150 KB at quality 90.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine import paths

KINDS = ("noise", "figure")


def make_images(folder: Path, count: int, side: int, seed: int = 0, kind: str = "noise") -> list[Path]:
    """`count` JPEGs in `folder` (`side`: the square's side for noise, the width for figures)."""
    make = _figure if kind == "figure" else _noise
    rng = np.random.default_rng(seed)
    out = []
    for n in range(count):
        path = folder / f"figure{n:05d}.jpg"
        make(rng, n + seed, side).save(path, quality=90)
        out.append(path)
    return out


def _noise(rng: np.random.Generator, _: int, side: int) -> Image.Image:
    image = Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x, y = rng.integers(0, side - 40, 2)
        draw.rectangle((int(x), int(y), int(x) + 40, int(y) + 40), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return image


def _figure(rng: np.random.Generator, n: int, width: int) -> Image.Image:
    sources = sorted(paths.resource_path("demo-figures").glob("*.jpg"))
    height = width * 3 // 4
    with Image.open(sources[(7 * n) % len(sources)]) as source:
        enlarged = np.asarray(source.convert("RGB").resize((width, height), Image.Resampling.BICUBIC), np.float32)
    grain = rng.normal(0.0, 3.0, enlarged.shape)
    return Image.fromarray(np.clip(enlarged + grain, 0, 255).astype(np.uint8))
