"""A demo library for a first launch: synthetic figures drawn in-process, indexed with a given model.

Nothing is downloaded: the figures are drawn with PIL (CT-, X-ray-, MRI-, histology-, microscopy- and
chart-like images with matching captions in sidecar .txt files), and the model is a parameter — by default the
small model exported to `resources/demo-model/` when it exists.
"""

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFilter

from engine import paths
from engine.types import ModelSpec

if TYPE_CHECKING:
    from engine.library import EncoderFactory, Library

logger = logging.getLogger(__name__)

DEMO_FIGURES = 121


def demo_model_spec() -> ModelSpec | None:
    folder = paths.resource_path("demo-model")
    return ModelSpec(name=f"local-dir:{folder}") if (folder / "config.json").is_file() else None


def demo_library_dir() -> Path:
    return paths.data_dir() / "libraries" / "demo"


def demo_figures_dir() -> Path:
    return paths.data_dir() / "demo-figures"


def _ct(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    draw.ellipse((20, 50, size - 20, size - 40), fill=(120, 120, 120))
    draw.ellipse((45, 75, size // 2 - 8, size - 65), fill=(25, 25, 25))
    draw.ellipse((size // 2 + 8, 75, size - 45, size - 65), fill=(25, 25, 25))
    draw.ellipse((size // 2 - 14, size - 90, size // 2 + 14, size - 62), fill=(235, 235, 235))
    if rng.random() < 0.5:  # a nodule
        x, y = rng.randint(60, 100), rng.randint(100, 150)
        draw.ellipse((x, y, x + 12, y + 12), fill=(170, 170, 170))


def _xray(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    for i in range(8):
        y = 60 + i * 20
        draw.arc((30, y, size - 30, y + 70), 200, 340, fill=(215, 215, 215), width=5)
    draw.rectangle((size // 2 - 8, 30, size // 2 + 8, size - 20), fill=(240, 240, 240))


def _mri(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    draw.ellipse((40, 25, size - 40, size - 25), fill=(90, 90, 90))
    draw.ellipse((55, 40, size - 55, size - 40), fill=(150, 150, 150))
    for _ in range(30):
        x, y = rng.randint(70, size - 90), rng.randint(55, size - 75)
        draw.arc((x, y, x + 24, y + 18), rng.randint(0, 180), rng.randint(181, 360), fill=(60, 60, 60), width=2)


def _histology(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    draw.rectangle((0, 0, size, size), fill=(236, 196, 214))
    for _ in range(90):
        x, y, r = rng.randint(0, size), rng.randint(0, size), rng.randint(4, 9)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(95, 55, 140))


def _microscopy(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    for _ in range(40):
        x, y, r = rng.randint(0, size), rng.randint(0, size), rng.randint(3, 8)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(40, 220, 90))
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(60, 90, 255))


def _chart(draw: ImageDraw.ImageDraw, rng: random.Random, size: int) -> None:
    draw.rectangle((0, 0, size, size), fill=(255, 255, 255))
    draw.line((30, size - 30, size - 20, size - 30), fill=(0, 0, 0), width=2)
    draw.line((30, 20, 30, size - 30), fill=(0, 0, 0), width=2)
    for i in range(5):
        h = rng.randint(30, size - 70)
        x = 45 + i * 40
        draw.rectangle((x, size - 30 - h, x + 26, size - 31), fill=(60, 110, 200))


_KINDS: tuple[tuple[str, Callable, str, tuple[str, ...]], ...] = (
    ("ct", _ct, "black", (
        "Axial chest CT showing a right-sided pneumothorax with a chest tube in place.",
        "Contrast-enhanced CT of the thorax: a 12 mm pulmonary nodule in the left lower lobe.",
        "Non-contrast CT scan of the chest demonstrating bilateral ground-glass opacities.",
    )),
    ("xray", _xray, "black", (
        "Frontal chest radiograph (X-ray) with a displaced rib fracture on the left.",
        "Plain chest X-ray showing cardiomegaly and small bilateral pleural effusions.",
    )),
    ("mri", _mri, "black", (
        "Axial T2-weighted brain MRI with a hyperintense lesion in the right frontal lobe.",
        "FLAIR MRI of the brain showing periventricular white matter hyperintensities.",
    )),
    ("histology", _histology, "white", (
        "Histology (H&E stain, 20x): dense lymphocytic infiltrate in the lamina propria.",
        "Haematoxylin and eosin stained section of a well-differentiated adenocarcinoma.",
    )),
    ("microscopy", _microscopy, "black", (
        "Fluorescence microscopy of cultured cells: GFP-tagged protein (green) and DAPI nuclei (blue).",
        "Confocal microscopy image of neurons immunostained for a synaptic marker.",
    )),
    ("chart", _chart, "white", (
        "Bar chart of mean tumour volume per treatment group (error bars: standard deviation).",
        "Bar graph comparing patient survival at 12 months across five cohorts.",
    )),
)


def bundled_demo_figures() -> list[Path]:
    """Figures in `resources/demo-figures/`: drawn by `pmc-trainer synth`, like the demo model's training set."""
    folder = paths.resource_path("demo-figures")
    return sorted(p for p in folder.glob("*.jpg") if p.with_suffix(".txt").is_file()) if folder.is_dir() else []


def write_demo_figures(folder: Path, count: int = DEMO_FIGURES, size: int = 256, seed: int = 7) -> list[Path]:
    """Put `count` figures with sidecar captions into `folder` (idempotent: same call, same files).

    The bundled figures come first because the bundled demo model was trained on figures of their kind; without
    them (a source tree without resources), figures are drawn here.
    """
    folder.mkdir(parents=True, exist_ok=True)
    bundled = bundled_demo_figures()
    if bundled:
        written = []
        for source in bundled[: max(count, 0)]:
            target = folder / source.name
            shutil.copyfile(source, target)
            shutil.copyfile(source.with_suffix(".txt"), target.with_suffix(".txt"))
            written.append(target)
        return written
    rng = random.Random(seed)
    written = []
    for i in range(count):
        name, draw_fn, background, captions = _KINDS[i % len(_KINDS)]
        image = Image.new("RGB", (size, size), background)
        draw_fn(ImageDraw.Draw(image), rng, size)
        image = image.filter(ImageFilter.GaussianBlur(0.8))
        path = folder / f"{name}-{i:03d}.png"
        image.save(path)
        path.with_suffix(".txt").write_text(captions[(i // len(_KINDS)) % len(captions)], encoding="utf-8")
        written.append(path)
    return written


def build_demo_library(
    library_dir: Path,
    spec: ModelSpec,
    *,
    figures_dir: Path | None = None,
    count: int = DEMO_FIGURES,
    factory: EncoderFactory | None = None,
    device: str = "auto",
) -> Library:
    """Create (or reopen) a library at `library_dir` holding the demo figures; returns the open Library."""
    from engine.library import open_or_create
    from engine.progress import run_to_end

    figures_dir = figures_dir or demo_figures_dir()
    write_demo_figures(figures_dir, count)
    library = open_or_create(library_dir, spec, factory, device=device)
    try:
        if not library.collections():
            collection = library.add_collection(figures_dir, kind="folder", name="Demo figures")
            run_to_end(library.ingest(collection.id))
    except BaseException:
        library.close()
        raise
    return library
