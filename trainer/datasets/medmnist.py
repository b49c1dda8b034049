"""MedMNIST 2D subsets: the published npz files, where to get them, and a reader that checks them (datasets.md §3).

A file `{flag}.npz` (28 px) or `{flag}_{size}.npz` (MedMNIST+, 64/128/224 px) holds exactly six arrays:
`{train,val,test}_images` (uint8, N×S×S for grey or N×S×S×3 for RGB, channels last) and `{train,val,test}_labels`
(N×L integers; L = 1 except ChestMNIST's 14 labels). The reader refuses anything else by name: a missing key, an
extra one, a dtype or shape that is not the documented one, images and labels of different lengths, or a label
outside the classes. A split size that differs from MedMNIST's INFO (an older release) is reported, not refused.
Files are loaded with `allow_pickle=False`: an npz never needs to run code.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from engine.errors import UserInputError
from engine.hub import UrlFile

logger = logging.getLogger(__name__)

SIZES = (28, 64, 128, 224)
SPLITS = ("train", "val", "test")
PAPER_SUBSETS = ("pneumoniamnist", "breastmnist", "dermamnist")  # the three the paper reports
_INFO_FILE = Path(__file__).with_name("medmnist_info.json")


@cache
def info() -> dict[str, dict]:
    raw = json.loads(_INFO_FILE.read_text(encoding="utf-8"))
    return {flag: entry for flag, entry in raw.items() if not flag.startswith("_")}


def subsets() -> list[str]:
    return list(info())


def check_subset(flag: str) -> dict:
    entry = info().get(flag.lower())
    if entry is None:
        raise UserInputError(f"unknown MedMNIST 2D subset {flag!r}; choose from {', '.join(subsets())}")
    return entry


def file_name(flag: str, size: int = 28) -> str:
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def remote_file(flag: str, size: int = 28) -> UrlFile:
    entry = check_subset(flag)
    if str(size) not in entry["files"]:
        raise UserInputError(f"MedMNIST {flag} comes in sizes {', '.join(entry['files'])}, not {size}")
    published = entry["files"][str(size)]
    return UrlFile(published["url"], file_name(flag, size), md5=published["md5"])


@dataclass(frozen=True)
class MedMnistSplit:
    images: np.ndarray  # uint8 [N, S, S] or [N, S, S, 3]
    labels: np.ndarray  # int64 [N, L]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class MedMnistData:
    flag: str
    size: int
    task: str  # "binary-class" | "multi-class" | "multi-label, binary-class" | "ordinal-regression"
    label_names: tuple[str, ...]
    n_channels: int
    splits: dict[str, MedMnistSplit]
    count_notes: tuple[str, ...] = ()  # split sizes that differ from MedMNIST's INFO (older release, a subset)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)


def find_file(folder: Path, flag: str, size: int | None = None) -> Path:
    """`folder/{flag}[_{size}].npz`; without a size, the largest one present."""
    folder = Path(folder)
    sizes = [size] if size else sorted(SIZES, reverse=True)
    for s in sizes:
        candidate = folder / file_name(flag, s)
        if candidate.is_file():
            return candidate
    wanted = file_name(flag, size) if size else f"{flag}[_SIZE].npz"
    raise UserInputError(f"no {wanted} in {folder} (fetch it with `pmc-trainer data fetch medmnist --subsets {flag}`)")


def flag_and_size(path: Path) -> tuple[str, int]:
    match = re.fullmatch(r"([a-z]+mnist)(?:_(\d+))?\.npz", path.name.lower())
    if not match:
        raise UserInputError(f"{path.name} is not named like a MedMNIST file ({{flag}}.npz or {{flag}}_{{size}}.npz)")
    return match.group(1), int(match.group(2) or 28)


def load(path: str | Path) -> MedMnistData:
    """Read and check one MedMNIST npz (see the module docstring for what is checked)."""
    path = Path(path)
    flag, size = flag_and_size(path)
    entry = check_subset(flag)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as e:
        raise UserInputError(f"{path}: not a readable npz ({e})") from e
    expected = {f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")}
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise UserInputError(
            f"{path}: keys differ from MedMNIST's (missing: {missing or 'none'}; extra: {extra or 'none'})"
        )
    n_classes = len(entry["label"])
    splits = {split: _check_split(path, split, arrays, entry, size, n_classes) for split in SPLITS}
    notes = tuple(
        f"{path.name} {split}: {len(part)} samples, MedMNIST's INFO says {entry['n_samples'][split]}"
        for split, part in splits.items()
        if len(part) != entry["n_samples"][split]
    )
    for note in notes:
        logger.warning("%s (an older release, or not the published file)", note)
    return MedMnistData(
        flag=flag,
        size=size,
        task=entry["task"],
        label_names=tuple(entry["label"][str(i)] for i in range(n_classes)),
        n_channels=int(entry["n_channels"]),
        splits=splits,
        count_notes=notes,
    )


def _check_split(path: Path, split: str, arrays: dict, entry: dict, size: int, n_classes: int) -> MedMnistSplit:
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    where = f"{path.name} {split}"
    if images.dtype != np.uint8:
        raise UserInputError(f"{where}_images has dtype {images.dtype}; MedMNIST images are uint8")
    shape = (size, size) if entry["n_channels"] == 1 else (size, size, 3)
    if images.ndim != 1 + len(shape) or tuple(images.shape[1:]) != shape:
        raise UserInputError(f"{where}_images has shape {images.shape}; expected (N, {', '.join(map(str, shape))})")
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) and not np.issubdtype(labels.dtype, np.floating):
        raise UserInputError(f"{where}_labels has shape {labels.shape} and dtype {labels.dtype}; expected N×L numbers")
    width = n_classes if entry["task"].startswith("multi-label") else 1
    if labels.shape[1] != width:
        raise UserInputError(f"{where}_labels has {labels.shape[1]} columns; {entry['task']} needs {width}")
    if len(images) != len(labels):
        raise UserInputError(f"{where}: {len(images)} images but {len(labels)} labels")
    labels = labels.astype(np.int64)
    top = 1 if width > 1 else n_classes - 1
    if labels.size and (labels.min() < 0 or labels.max() > top):
        raise UserInputError(f"{where}_labels has values outside 0..{top}")
    return MedMnistSplit(images, labels)
