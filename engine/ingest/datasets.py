"""Readers for the public figure–caption data sets: PMC-OA (jsonl + images) and ROCO (datasets.md §2, §6).

PMC-OA's jsonl has 1.6M rows: it is streamed line by line, never loaded whole; a bad line is a SourceProblem
naming its line number. ROCO folders are read through `captions.txt` (+ `licences.txt`, `dlinks.txt`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from engine.ingest.jats import normalize_pmcid
from engine.types import ArticleMeta, FigureRecord, SourceProblem

logger = logging.getLogger(__name__)

PMC_OA_SUBFIGURE_DIR = "caption_T060_filtered_top4_sep_v0_subfigures"
PMC_OA_PREFERRED = ("pmc_oa.jsonl",)  # when a folder holds several files, pmc_oa_beta repeats the same images
ROCO_CAPTIONS = "captions.txt"
_MAX_LINE_BYTES = 1 << 20


# --------------------------------------------------------------------------------------------------- PMC-OA


def pmc_oa_files(path: Path) -> list[Path]:
    """The jsonl file(s) a PMC-OA source means: the file itself, or the jsonl files in a folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    found = sorted(p for p in path.glob("*.jsonl") if p.is_file())
    preferred = [p for p in found if p.name in PMC_OA_PREFERRED]
    return preferred or found


def iter_pmc_oa(path: Path, image_root: Path | None = None) -> Iterator[FigureRecord | SourceProblem]:
    """One FigureRecord per jsonl row (`image`, `caption`, optional `pmcid`; unknown keys ignored).

    Images are looked up under `image_root` (default: the jsonl's folder) as `<root>/<image>`, then in any
    `caption_T060_filtered_top4_sep_v0_subfigures/` folder (how `images.zip` unpacks), then by file name anywhere
    below the root (an index built once, only if needed).
    """
    files = pmc_oa_files(path)
    if not files:
        yield SourceProblem(str(path), "no .jsonl file found")
        return
    for jsonl in files:
        root = Path(image_root) if image_root else jsonl.parent
        finder = _ImageFinder(root)
        key_prefix = f"{jsonl.stem}/" if len(files) > 1 else ""
        yield from _pmc_oa_rows(jsonl, finder, key_prefix)


def _pmc_oa_rows(jsonl: Path, finder: _ImageFinder, key_prefix: str) -> Iterator[FigureRecord | SourceProblem]:
    try:
        handle = jsonl.open("rb")  # binary: records end at b"\n" only, never at a Unicode line separator
    except OSError as e:
        yield SourceProblem(str(jsonl), f"cannot read: {e.strerror or e}")
        return
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            where = f"{jsonl}:{lineno}"
            if not raw.strip():
                continue
            if len(raw) > _MAX_LINE_BYTES:
                yield SourceProblem(where, "line longer than 1 MiB; skipped")
                continue
            try:
                row = json.loads(raw)
            except ValueError as e:  # includes UnicodeDecodeError
                yield SourceProblem(where, f"not valid JSON ({e}); skipped")
                continue
            if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not row["image"].strip():
                yield SourceProblem(where, 'row has no "image" name; skipped')
                continue
            image = row["image"].strip()
            path = finder.find(image)
            if path is None:
                yield SourceProblem(where, f"image {image!r} not found under {finder.root}; skipped")
                continue
            caption = row.get("caption")
            caption = " ".join(caption.split()) if isinstance(caption, str) else None
            pmcid = normalize_pmcid(row["pmcid"]) if isinstance(row.get("pmcid"), (str, int)) else None
            if pmcid is None:  # images are named "<PMCID>_<figure>_<n>.jpg"
                match = re.match(r"^(PMC\d+)_", Path(image).name)
                pmcid = match.group(1) if match else None
            yield FigureRecord(
                key=key_prefix + image,
                image_path=path,
                caption=caption or None,
                figure_id=Path(image).name,
                article=ArticleMeta(pmcid=pmcid) if pmcid else None,
            )


class _ImageFinder:
    """Finds a row's image. Per row it costs a stat or two; the name index is built only as a last resort."""

    def __init__(self, root: Path) -> None:
        self.root = root
        subfigure_dirs = self._named_dirs(root)
        self._dirs = subfigure_dirs + [root]
        # With the known images.zip layout present, a row whose image is not there is simply missing (the card
        # says some are): do not index 1.6M names looking for it.
        self._search_by_name = not any(d.name == PMC_OA_SUBFIGURE_DIR for d in subfigure_dirs)
        self._by_name: dict[str, Path] | None = None

    @staticmethod
    def _named_dirs(root: Path, max_depth: int = 3) -> list[Path]:
        # scandir, not os.walk: the image folder holds 1.6M files and os.walk would list them all in memory.
        found: list[Path] = []
        level = [root]
        for _ in range(max_depth):
            next_level = []
            for directory in level:
                try:
                    with os.scandir(directory) as entries:
                        for entry in entries:
                            if entry.name.startswith(".") or not entry.is_dir():
                                continue
                            path = Path(entry.path)
                            if entry.name in (PMC_OA_SUBFIGURE_DIR, "images"):
                                found.append(path)
                            if entry.name != PMC_OA_SUBFIGURE_DIR:  # never list the 1.6M-file folder
                                next_level.append(path)
                except OSError:
                    continue
            level = sorted(next_level)
        # The subfigure folder first: it is where images.zip puts every image.
        return sorted(found, key=lambda p: (p.name != PMC_OA_SUBFIGURE_DIR, len(p.parts), str(p)))

    def find(self, image: str) -> Path | None:
        relative = Path(image)
        if relative.is_absolute() or ".." in relative.parts:
            return None  # a row must not point us outside the data set
        for directory in self._dirs:
            candidate = directory / relative
            if candidate.is_file():
                return candidate
        if not self._search_by_name:
            return None
        if self._by_name is None:
            logger.info("indexing file names under %s to find images not in the usual folders", self.root)
            self._by_name = {}
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    self._by_name.setdefault(name, Path(dirpath) / name)
        return self._by_name.get(relative.name)


def estimate_lines(path: Path, sample_bytes: int = 1 << 20) -> int:
    """Rows in a jsonl: exact for small files, else extrapolated from the first MiB (no full read)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(sample_bytes)
    lines = head.count(b"\n")
    if size <= sample_bytes or lines == 0:
        return lines + (1 if head and not head.endswith(b"\n") else 0)
    return round(size * lines / len(head))


# --------------------------------------------------------------------------------------------------- ROCO


def roco_folders(path: Path, max_depth: int = 4) -> list[Path]:
    """Folders under `path` that hold a ROCO `captions.txt` (data/<split>/<class>/)."""
    path = Path(path)
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        if ROCO_CAPTIONS in filenames:
            found.append(Path(dirpath))
        if len(Path(dirpath).relative_to(path).parts) >= max_depth:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "images")
    return sorted(found)


def iter_roco(path: Path) -> Iterator[FigureRecord | SourceProblem]:
    """One FigureRecord per ROCO caption whose image was fetched (`images/ROCO_xxxxx.jpg`, or the pre-2022
    `images/<PMCID>_<file>.jpg` name from `licences.txt`). Keys are the ROCO ids, unique across the data set."""
    folders = roco_folders(path)
    if not folders:
        yield SourceProblem(str(path), f"no ROCO {ROCO_CAPTIONS} found")
        return
    for folder in folders:
        yield from _roco_folder(folder)


def _roco_folder(folder: Path) -> Iterator[FigureRecord | SourceProblem]:
    images = folder / "images"
    if not images.is_dir():
        yield SourceProblem(str(folder), "no images/ folder: fetch the images first (ROCO scripts/fetch.py)")
        return
    licences = _roco_licences(folder / "licences.txt")
    links = _roco_links(folder / "dlinks.txt")
    for lineno, line in _lines(folder / ROCO_CAPTIONS):
        where = f"{folder / ROCO_CAPTIONS}:{lineno}"
        roco_id, sep, caption = line.partition("\t")
        roco_id = roco_id.strip()
        if not sep or not roco_id:
            yield SourceProblem(where, "line is not '<ROCO id><TAB><caption>'; skipped")
            continue
        licence = licences.get(roco_id)
        old_name = licence[0] if licence else None
        image = images / f"{roco_id}.jpg"
        if not image.is_file() and old_name:
            image = images / old_name
        if not image.is_file():
            yield SourceProblem(where, f"image of {roco_id} not in {images}; skipped")
            continue
        pmcid = None
        if old_name:
            pmcid = normalize_pmcid(old_name.split("_", 1)[0])
        if pmcid is None and roco_id in links:
            pmcid = links[roco_id][0]
        article = ArticleMeta(pmcid=pmcid, license=licence[1] if licence else None) if (pmcid or licence) else None
        yield FigureRecord(
            key=roco_id,
            image_path=image,
            caption=" ".join(caption.split()) or None,  # the caption always starts with one space
            figure_id=links[roco_id][1] if roco_id in links else roco_id,
            article=article,
        )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.strip():
                yield lineno, text


def _roco_licences(path: Path) -> dict[str, tuple[str, str]]:
    """ROCO id → (old image file name "<PMCID>_<file>", licence code). The file has a header row."""
    if not path.is_file():
        return {}
    out: dict[str, tuple[str, str]] = {}
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            roco_id, name, code = (row.get("ROCO_ID") or "").strip(), (row.get("PMC_ID") or "").strip(), row.get("CC")
            if roco_id:
                out[roco_id] = (name, (code or "").strip())
    return out


def _roco_links(path: Path) -> dict[str, tuple[str | None, str]]:
    """ROCO id → (PMCID from the package URL, image file name inside the package)."""
    if not path.is_file():
        return {}
    out: dict[str, tuple[str | None, str]] = {}
    for _, line in _lines(path):
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        match = re.search(r"(PMC\d+)\.tar\.gz", parts[1])
        out[parts[0].strip()] = (match.group(1) if match else None, parts[2].strip())
    return out
