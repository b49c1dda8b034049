"""Reader for plain image folders: every image under a root, recursively, with an optional sidecar caption.

A sidecar is a file with the image's stem and `.txt` (the whole text is the caption) or `.json` (its "caption"
key, and "label" when present). Keys are paths relative to the root, with forward slashes, so re-reading the
folder gives the same keys and a moved library root still matches.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from engine.imaging import IMAGE_EXTENSIONS, is_image_path
from engine.types import FigureRecord, SourceProblem

logger = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 1 << 20  # a caption file larger than 1 MiB is not a caption
_NOT_FIGURES = frozenset({"DICOMDIR"})  # a DICOM media index: has the DICM preamble but no pixels


def iter_folder(root: Path) -> Iterator[FigureRecord | SourceProblem]:
    """Yield a FigureRecord per image under `root` (sorted, hidden entries skipped, symlink loops cut)."""
    root = Path(root)
    if root.is_file():
        if is_image_path(root):
            yield from _records(root, root.name, {f.name.lower(): f for f in root.parent.iterdir()})
        else:
            yield SourceProblem(str(root), "not an image file")
        return
    seen_dirs: set[tuple[int, int]] = set()
    yield from _walk(root, root, seen_dirs)


def count_images(root: Path) -> int:
    """How many files look like images by name (no file is opened): a cheap progress total."""
    root = Path(root)
    if root.is_file():
        return 1
    total = 0
    for _dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        total += sum(1 for name in filenames if not name.startswith(".") and _looks_like_image_name(name))
    return total


def _looks_like_image_name(name: str) -> bool:
    # Extension-less files may be DICOM; counting them all keeps this free of file reads (a total, not a promise).
    suffix = Path(name).suffix.lower()
    return suffix in IMAGE_EXTENSIONS or (not suffix and name.upper() not in _NOT_FIGURES)


def _walk(root: Path, directory: Path, seen_dirs: set[tuple[int, int]]) -> Iterator[FigureRecord | SourceProblem]:
    try:
        info = directory.stat()
    except OSError as e:
        yield SourceProblem(str(directory), f"cannot open folder: {e.strerror or e}")
        return
    identity = (info.st_dev, info.st_ino)
    if identity in seen_dirs:  # a symlink back up the tree (or a second link to the same folder)
        logger.debug("skipping %s: folder already visited", directory)
        return
    seen_dirs.add(identity)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        yield SourceProblem(str(directory), f"cannot list folder: {e.strerror or e}")
        return
    files = {e.name.lower(): Path(e.path) for e in entries if _is_file(e)}
    subdirs = []
    for entry in entries:
        if entry.name.startswith("."):  # .git, .DS_Store, AppleDouble "._x.jpg": never figures
            continue
        path = Path(entry.path)
        if _is_dir(entry):
            subdirs.append(path)
        elif _is_file(entry):
            if entry.name.upper() not in _NOT_FIGURES and is_image_path(path):
                yield from _records(path, path.relative_to(root).as_posix(), files)
        elif entry.is_symlink():
            yield SourceProblem(str(path), "broken symbolic link")
    for sub in subdirs:
        yield from _walk(root, sub, seen_dirs)


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _records(path: Path, key: str, siblings: dict[str, Path]) -> Iterator[FigureRecord | SourceProblem]:
    caption, label, problem = read_sidecar(path, siblings)
    if problem is not None:
        yield problem  # reported, and the image is still indexed without its caption
    yield FigureRecord(key=key, image_path=path, caption=caption, label=label)


def read_sidecar(image: Path, siblings: dict[str, Path]) -> tuple[str | None, str | None, SourceProblem | None]:
    """(caption, label, problem) from `<stem>.txt` or `<stem>.json` beside `image`; siblings: lower name → path.

    A broken sidecar is reported but never stops the image from being indexed.
    """
    stem = image.stem.lower()
    txt = siblings.get(stem + ".txt")
    if txt is not None and txt != image:
        try:
            if txt.stat().st_size > MAX_SIDECAR_BYTES:
                return None, None, SourceProblem(str(txt), "caption file is larger than 1 MiB; ignored")
            text = " ".join(txt.read_text(encoding="utf-8", errors="replace").split())
            return (text or None), None, None
        except OSError as e:
            return None, None, SourceProblem(str(txt), f"cannot read caption: {e.strerror or e}")
    js = siblings.get(stem + ".json")
    if js is not None and js != image:
        try:
            if js.stat().st_size > MAX_SIDECAR_BYTES:
                return None, None, SourceProblem(str(js), "caption file is larger than 1 MiB; ignored")
            data = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            return None, None, SourceProblem(str(js), f"cannot read caption JSON: {e}")
        if not isinstance(data, dict):
            return None, None, SourceProblem(str(js), "caption JSON is not an object")
        caption = data.get("caption")
        label = data.get("label")
        caption = " ".join(caption.split()) if isinstance(caption, str) else None
        label = label.strip() if isinstance(label, str) and label.strip() else None
        return (caption or None), label, None
    return None, None, None
