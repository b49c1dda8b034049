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

from engine.fileio import kind_of, read_regular
from engine.imaging import IMAGE_EXTENSIONS, is_image_path
from engine.ingest.safe_paths import is_inside
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
    files = {e.name.lower(): Path(e.path) for e in entries if _is_file(e) and _stays_inside(root, e)}
    subdirs: list[Path] = []
    for entry in entries:
        if not entry.name.startswith("."):  # .git, .DS_Store, AppleDouble "._x.jpg": never figures
            yield from _entry(root, entry, files, subdirs)
    for sub in subdirs:
        yield from _walk(root, sub, seen_dirs)


def _entry(
    root: Path, entry: os.DirEntry, files: dict[str, Path], subdirs: list[Path]
) -> Iterator[FigureRecord | SourceProblem]:
    path = Path(entry.path)
    if not _stays_inside(root, entry):
        yield SourceProblem(str(path), "a symbolic link to something outside the source folder; skipped")
    elif _is_dir(entry):
        subdirs.append(path)
    elif _is_file(entry):
        if entry.name.upper() not in _NOT_FIGURES and is_image_path(path):
            yield from _records(path, path.relative_to(root).as_posix(), files)
    elif entry.is_symlink() and not os.path.exists(path):
        yield SourceProblem(str(path), "broken symbolic link")
    elif _looks_like_image_name(entry.name) or entry.name.lower().endswith((".txt", ".json")):
        yield SourceProblem(str(path), f"{_special_kind(entry)}, not a regular file; skipped (never opened)")


def _stays_inside(root: Path, entry: os.DirEntry) -> bool:
    # Only a symbolic link can lead out of the tree being walked; resolving every plain entry would cost a
    # realpath (a stat per path component) per file for nothing.
    try:
        return not entry.is_symlink() or is_inside(root, Path(entry.path))
    except OSError:
        return False


def _special_kind(entry: os.DirEntry) -> str:
    try:
        return kind_of(entry.stat().st_mode)
    except OSError as e:
        return f"unreadable ({e.strerror or e})"


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

    A broken sidecar is reported but never stops the image from being indexed. `siblings` holds regular files
    only (the walk leaves FIFOs and devices out), and reading refuses anything else again, so none is opened.
    """
    stem = image.stem.lower()
    txt = siblings.get(stem + ".txt")
    if txt is not None and txt != image:
        try:
            data = read_regular(txt, MAX_SIDECAR_BYTES)
        except OSError as e:
            return None, None, SourceProblem(str(txt), f"cannot read caption: {e.strerror or e}")
        except ValueError:
            return None, None, SourceProblem(str(txt), "caption file is larger than 1 MiB; ignored")
        text = " ".join(data.decode("utf-8", errors="replace").split())
        return (text or None), None, None
    js = siblings.get(stem + ".json")
    if js is not None and js != image:
        return _json_sidecar(js)
    return None, None, None


def _json_sidecar(js: Path) -> tuple[str | None, str | None, SourceProblem | None]:
    try:
        data = json.loads(read_regular(js, MAX_SIDECAR_BYTES))
    except OSError as e:
        return None, None, SourceProblem(str(js), f"cannot read caption JSON: {e.strerror or e}")
    except RecursionError:
        return None, None, SourceProblem(str(js), "caption JSON is nested too deeply; ignored")
    except ValueError as e:  # not JSON, not UTF-8, or over the size limit
        return None, None, SourceProblem(str(js), f"cannot read caption JSON: {e}")
    if not isinstance(data, dict):
        return None, None, SourceProblem(str(js), "caption JSON is not an object")
    caption = data.get("caption")
    label = data.get("label")
    caption = " ".join(caption.split()) if isinstance(caption, str) else None
    label = label.strip() if isinstance(label, str) and label.strip() else None
    return (caption or None), label, None
