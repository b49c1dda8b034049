"""Figure–caption pairs for training: row files (PMC-OA jsonl or csv), transforms, the Dataset and its collate.

Row files are the reference's format (pmc-clip.md §4.2): one record per pair with an image file name and a caption
(keys configurable, `image` / `caption` by default); other keys are ignored. Image paths are `image_root/<value>`
(or relative to the row file's folder without a root). Rows are untrusted input: an absolute path or one with `..`
is a bad row, reported with its line number, never opened.

Randomness (crop box, MLM masking) comes from generators seeded with (seed, epoch, sample index) only — see
`trainer.masking.sample_rng` — so an item is the same whatever rank or worker loads it.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as F
from transformers import PreTrainedTokenizerBase

from engine.errors import UserInputError
from engine.models.transforms import OPENAI_MEAN, OPENAI_STD, PreprocessConfig, build_eval_transform
from trainer.masking import STREAM_CROP, STREAM_MASKING, WholeWordMasker, sample_rng

logger = logging.getLogger(__name__)

# Where the PMC-OA `images.zip` puts its files (datasets.md §6); `resolve_image_root` looks for it.
PMC_OA_IMAGE_FOLDER = "caption_T060_filtered_top4_sep_v0_subfigures"
# After this many unreadable images in a row the image root is wrong, not the odd file: stop with a clear error.
MAX_CONSECUTIVE_UNREADABLE = 50


@dataclass(frozen=True, slots=True)
class CaptionRow:
    image: str  # path relative to the image root, as written in the row file
    caption: str


@dataclass
class RowsFile:
    """What `read_rows` found: the good rows, and how many bad ones (with the first few reasons)."""

    path: Path
    rows: list[CaptionRow] = field(default_factory=list)
    bad: int = 0
    bad_examples: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, reason)

    def note_bad(self, line: int, reason: str, keep: int = 20) -> None:
        self.bad += 1
        if len(self.bad_examples) < keep:
            self.bad_examples.append((line, reason))


def read_rows(
    path: str | Path, *, image_key: str = "image", caption_key: str = "caption", csv_separator: str = ","
) -> RowsFile:
    """Read a `.jsonl` (one JSON object a line) or `.csv` (header row) file of pairs, streaming line by line."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"row file not found: {path}")
    result = RowsFile(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        records = _jsonl_records(path, result)
    elif suffix in (".csv", ".tsv"):
        records = _csv_records(path, "\t" if suffix == ".tsv" else csv_separator)
    else:
        raise UserInputError(f"{path}: expected a .jsonl or .csv file of image/caption pairs")
    for line, record in records:
        row, reason = _row_from_record(record, image_key, caption_key)
        if row is None:
            result.note_bad(line, reason)
        else:
            result.rows.append(row)
    if result.bad:
        shown = "; ".join(f"line {n}: {why}" for n, why in result.bad_examples[:5])
        logger.warning("%s: skipped %d bad rows of %d (%s)", path, result.bad, result.bad + len(result.rows), shown)
    if not result.rows:
        raise UserInputError(
            f"{path}: no usable rows (keys '{image_key}' and '{caption_key}' expected; {result.bad} bad rows)"
        )
    logger.info("%s: %d rows", path, len(result.rows))
    return result


def _jsonl_records(path: Path, result: RowsFile) -> Iterator[tuple[int, object]]:
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as e:
                result.note_bad(line_no, f"not JSON ({e.msg})")


def _csv_records(path: Path, separator: str) -> Iterator[tuple[int, object]]:
    csv.field_size_limit(16 * 1024 * 1024)  # long compound captions exceed csv's 128 KiB default
    with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f, delimiter=separator)
        for record in reader:
            yield reader.line_num, record


def _row_from_record(record: object, image_key: str, caption_key: str) -> tuple[CaptionRow | None, str]:
    if not isinstance(record, dict):
        return None, "not an object"
    image, caption = record.get(image_key), record.get(caption_key)
    if not isinstance(image, str) or not image.strip():
        return None, f"no '{image_key}'"
    if not isinstance(caption, str) or not caption.strip():
        return None, f"no '{caption_key}'"
    image = image.strip().replace("\\", "/")
    pure = PurePosixPath(image)
    if pure.is_absolute() or ".." in pure.parts or (len(image) > 1 and image[1] == ":"):
        return None, f"unsafe image path {image!r}"
    return CaptionRow(image, caption.strip()), ""


class PackedRows(Sequence[CaptionRow]):
    """Rows stored as two UTF-8 byte buffers with offsets instead of millions of Python objects.

    DataLoader workers are forked: touching a Python object writes its reference count, so a list of 1.6M rows
    is copied page by page into every worker over an epoch. Numpy buffers are never written, so they stay shared.
    """

    def __init__(self, rows: Sequence[CaptionRow]):
        self._images, self._image_ends = self._pack([r.image for r in rows])
        self._captions, self._caption_ends = self._pack([r.caption for r in rows])

    @staticmethod
    def _pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = [t.encode("utf-8") for t in texts]
        ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, dtype=np.int64)
        return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), ends

    @staticmethod
    def _text(buffer: np.ndarray, ends: np.ndarray, index: int) -> str:
        start = int(ends[index - 1]) if index else 0
        return buffer[start : int(ends[index])].tobytes().decode("utf-8")

    def __len__(self) -> int:
        return len(self._image_ends)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return CaptionRow(
            self._text(self._images, self._image_ends, index), self._text(self._captions, self._caption_ends, index)
        )


def resolve_image_root(root: str | Path) -> Path:
    """The folder image names are relative to: `root`, or the PMC-OA image folder inside it when that exists."""
    root = Path(root)
    for candidate in (root / PMC_OA_IMAGE_FOLDER, root / "images" / PMC_OA_IMAGE_FOLDER):
        if candidate.is_dir():
            return candidate
    return root


def random_resized_crop_box(
    width: int,
    height: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a RandomResizedCrop box, drawn from `rng` with torchvision's rules.

    Ten tries at an area in `scale` × image area and a log-uniform aspect ratio in `ratio`; if none fits, the
    largest centred box whose aspect ratio is clamped to `ratio`.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class TrainTransform:
    """RandomResizedCrop(S, scale, bicubic) → RGB → tensor → OpenAI normalisation, with the box drawn from `rng`.

    The image is converted to RGB before cropping rather than after (the reference's order): the same for RGB and
    grayscale figures, and palette images then resize bicubically instead of PIL's nearest-neighbour fallback.
    """

    def __init__(
        self,
        image_size: int = 224,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        mean: tuple[float, float, float] = OPENAI_MEAN,
        std: tuple[float, float, float] = OPENAI_STD,
    ):
        self.image_size = int(image_size)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self._to_tensor = T.Compose(
            [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(mean=list(mean), std=list(std))]
        )

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        if image.mode != "RGB":
            image = image.convert("RGB")
        top, left, h, w = random_resized_crop_box(image.width, image.height, rng, self.crop_scale)
        size = [self.image_size, self.image_size]
        image = F.resized_crop(image, top, left, h, w, size, interpolation=T.InterpolationMode.BICUBIC, antialias=True)
        return self._to_tensor(image)


def open_image(path: Path) -> Image.Image:
    """Decode an image fully (so truncated files fail here, not later in a worker's transform)."""
    with Image.open(path) as image:
        image.load()
        return image.copy() if image.mode == "RGB" else image.convert("RGB")


class CaptionDataset(Dataset):
    """Figure–caption pairs → dict(image [3,S,S] float32, input_ids [L] long, mlm_labels [L] long, index, substituted).

    `train=True`: random crop + MLM masking at `mask_ratio`; `train=False`: the engine's eval transform and no
    masking (labels are then only [CLS]/[SEP] and padding). Call `set_epoch` each epoch so crops and masks change.
    An unreadable image is replaced by the next readable pair (deterministically) and the item says so in
    `substituted`; the loader process also counts it in `self.substitutions`.
    """

    def __init__(
        self,
        rows: Sequence[CaptionRow],
        image_root: str | Path,
        tokenizer: PreTrainedTokenizerBase,
        *,
        train: bool,
        image_size: int = 224,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        mask_ratio: float = 0.15,
        seed: int = 0,
        context_length: int = 77,
    ):
        if not rows:
            raise UserInputError("no image/caption pairs to train on")
        self.rows = rows if isinstance(rows, PackedRows) else PackedRows(rows)
        self.image_root = Path(image_root)
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.masker = WholeWordMasker(tokenizer, mask_ratio if train else 0.0, context_length)
        if train:
            self.transform = TrainTransform(image_size, crop_scale)
        else:
            self.transform = build_eval_transform(PreprocessConfig(image_size=image_size))
        self.substitutions = 0
        self._unreadable: set[int] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = int(index)
        source, image = self._load_readable(index)
        crop_rng = sample_rng(self.seed, self.epoch, index, STREAM_CROP)
        pixels = self.transform(image, crop_rng) if self.train else self.transform(image)
        mask_rng = sample_rng(self.seed, self.epoch, index, STREAM_MASKING)
        input_ids, mlm_labels, _ = self.masker.encode(self.rows[source].caption, mask_rng)
        return {
            "image": pixels,
            "input_ids": input_ids,
            "mlm_labels": mlm_labels,
            "index": torch.tensor(source, dtype=torch.long),
            "substituted": torch.tensor(int(source != index), dtype=torch.long),
        }

    def image_path(self, index: int) -> Path:
        return self.image_root / self.rows[index].image

    def _load_readable(self, index: int) -> tuple[int, Image.Image]:
        """The pair at `index`, or the first readable one after it (wrapping), so an epoch never stops on a file."""
        n = len(self.rows)
        for step in range(min(n, MAX_CONSECUTIVE_UNREADABLE)):
            candidate = (index + step) % n
            if candidate in self._unreadable:
                continue
            try:
                image = open_image(self.image_path(candidate))
            except Exception as e:  # any decoder failure (PIL raises many types) means "skip this file"
                self._unreadable.add(candidate)
                logger.warning("unreadable image %s (%s); using the next pair", self.image_path(candidate), e)
                continue
            if candidate != index:
                self.substitutions += 1
            return candidate, image
        raise UserInputError(
            f"{min(n, MAX_CONSECUTIVE_UNREADABLE)} images in a row could not be read near "
            f"{self.image_path(index)}: is the image root right?"
        )


def collate_pairs(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a list of `CaptionDataset` items into batch tensors (a module-level function, so workers can pickle it)."""
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
