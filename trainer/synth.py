"""Synthetic PMC-OA-format data sets for smoke runs, tests and the demo (`pmc-trainer synth`).

Writes, under OUT:
  train.jsonl, valid.jsonl   one pair a line: {"image": "PMC…_Fig…_1.png", "caption": "…", "pmcid": "PMC…",
                             "kind": "bar_chart"} (the reference's row format; readers ignore the extra "kind")
  images/*.png               the figures, S×S RGB
  tokenizer/vocab.txt        a word-level BERT vocabulary over every caption (engine.models.tokenizer.build_vocab)
  synth.json                 the settings and how many figures of each kind

Figure i is drawn from a generator seeded with (seed, i) alone, so any figure can be regenerated on its own and
the same (n, seed, image size) always gives byte-identical files. The last `val_fraction` of the figures form the
validation split.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import UserInputError
from engine.fileio import atomic_output
from engine.models.tokenizer import build_vocab
from trainer.synth_figures import FIGURE_KINDS

logger = logging.getLogger(__name__)

FIGURES_PER_ARTICLE = 3  # consecutive figures share a PMCID, like panels of one article


@dataclass(frozen=True)
class SynthConfig:
    n: int
    seed: int = 0
    image_size: int = 96
    val_fraction: float = 0.1

    def __post_init__(self):
        if self.n < 1:
            raise UserInputError(f"--n must be at least 1, got {self.n}")
        if not 16 <= self.image_size <= 1024:
            raise UserInputError(f"--image-size must be between 16 and 1024, got {self.image_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserInputError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")


@dataclass
class SynthSummary:
    out_dir: Path
    train: int
    valid: int
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticPair:
    index: int
    kind: str
    image: Image.Image
    caption: str

    @property
    def pmcid(self) -> str:
        return f"PMC{1_000_000 + self.index // FIGURES_PER_ARTICLE}"

    @property
    def file_name(self) -> str:
        return f"{self.pmcid}_Fig{self.index % FIGURES_PER_ARTICLE + 1}_1.png"


def make_pair(index: int, seed: int = 0, image_size: int = 96) -> SyntheticPair:
    """Figure `index` of the data set with this seed: a pure function of its arguments."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    kinds = list(FIGURE_KINDS)
    kind = kinds[int(rng.integers(len(kinds)))]
    image, caption = FIGURE_KINDS[kind](rng, image_size)
    return SyntheticPair(index, kind, image, caption)


def generate_synthetic(
    out_dir: str | Path, config: SynthConfig, progress: Callable[[int, int], None] | None = None
) -> SynthSummary:
    """Write the data set described in the module docstring; `progress(done, total)` is called as figures land."""
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    n_valid = int(round(config.n * config.val_fraction))
    if config.val_fraction > 0 and config.n >= 2:
        n_valid = max(1, n_valid)
    n_valid = min(n_valid, config.n - 1)
    n_train = config.n - n_valid
    kinds: Counter[str] = Counter()
    captions: list[str] = []
    # Both splits appear only once complete: a half-written split never looks finished.
    with (
        atomic_output(out_dir / "train.jsonl") as train_tmp,
        atomic_output(out_dir / "valid.jsonl") as valid_tmp,
        train_tmp.open("w", encoding="utf-8") as train_f,
        valid_tmp.open("w", encoding="utf-8") as valid_f,
    ):
        for i in range(config.n):
            pair = make_pair(i, config.seed, config.image_size)
            # compress_level 3: a third of the default's time for PNGs a few percent larger
            pair.image.save(image_dir / pair.file_name, format="PNG", compress_level=3)
            row = {"image": pair.file_name, "caption": pair.caption, "pmcid": pair.pmcid, "kind": pair.kind}
            (train_f if i < n_train else valid_f).write(json.dumps(row, ensure_ascii=False) + "\n")
            kinds[pair.kind] += 1
            captions.append(pair.caption)
            if progress is not None:
                progress(i + 1, config.n)
    build_vocab(captions, out_dir / "tokenizer")
    summary = SynthSummary(out_dir, n_train, n_valid, dict(sorted(kinds.items())))
    manifest = {**asdict(config), "train": n_train, "valid": n_valid, "kinds": summary.kinds}
    (out_dir / "synth.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d training and %d validation pairs to %s", n_train, n_valid, out_dir)
    return summary
