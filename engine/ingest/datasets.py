"""Readers for the public figure–caption data sets: PMC-OA (jsonl + images) and ROCO (datasets.md §2, §6).

PMC-OA's jsonl has 1.6M rows: it is streamed line by line, never loaded whole; a bad line is a SourceProblem
naming its line number. ROCO folders are read through `captions.txt` (+ `licences.txt`, `dlinks.txt`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from engine.fileio import is_regular_file, open_regular, special_file_kind
from engine.ingest.jats import normalize_pmcid
from engine.ingest.safe_paths import resolve_inside
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
        handle = open_regular(jsonl)  # binary: records end at b"\n" only, never at a Unicode line separator
    except OSError as e:
        yield SourceProblem(str(jsonl), f"cannot read: {e.strerror or e}")
        return
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            where = f"{jsonl}:{lineno}"
            if not raw.strip():
                continue
            try:  # one row can never stop the file: whatever it holds, it becomes a problem naming the line
                yield _pmc_oa_row(raw, where, finder, key_prefix)
            except Exception as e:  # noqa: BLE001 - per item, reported with its line
                logger.debug("row %s failed", where, exc_info=True)
                yield SourceProblem(where, f"unreadable row ({type(e).__name__}: {e}); skipped")


def _pmc_oa_row(raw: bytes, where: str, finder: _ImageFinder, key_prefix: str) -> FigureRecord | SourceProblem:
    if len(raw) > _MAX_LINE_BYTES:
        return SourceProblem(where, "line longer than 1 MiB; skipped")
    try:
        row = json.loads(raw)
    except RecursionError:
        return SourceProblem(where, "JSON nested too deeply; skipped")
    except ValueError as e:  # includes UnicodeDecodeError
        return SourceProblem(where, f"not valid JSON ({e}); skipped")
    if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not row["image"].strip():
        return SourceProblem(where, 'row has no "image" name; skipped')
    image = row["image"].strip()
    path, why = finder.find(image)
    if path is None:
        return SourceProblem(where, f"image {image!r}: {why}; skipped")
    caption = row.get("caption")
    caption = " ".join(caption.split()) if isinstance(caption, str) else None
    raw_pmcid = row.get("pmcid")
    pmcid = normalize_pmcid(str(raw_pmcid)) if isinstance(raw_pmcid, (str, int)) else None
    if pmcid is None:  # images are named "<PMCID>_<figure>_<n>.jpg"
        match = re.match(r"^(PMC\d+)_", Path(image).name)
        pmcid = match.group(1) if match else None
    return FigureRecord(
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

    def find(self, image: str) -> tuple[Path | None, str]:
        """(the image's path, "") or (None, why not)."""
        for directory in self._dirs:
            candidate, why = resolve_inside(directory, image)
            if candidate is None:
                return None, f"refused: {why}"  # a row must not point us outside the data set
            if is_regular_file(candidate):
                return candidate, ""
        if not self._search_by_name:
            return None, f"not found under {self.root}"
        if self._by_name is None:
            logger.info("indexing file names under %s to find images not in the usual folders", self.root)
            self._by_name = {}
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    self._by_name.setdefault(name, Path(dirpath) / name)
        found = self._by_name.get(Path(image).name)
        if found is None or not is_regular_file(found):
            return None, f"not found under {self.root}"
        _, why = resolve_inside(self.root, found.relative_to(self.root).as_posix())
        return (None, f"refused: {why}") if why else (found, "")


def estimate_lines(path: Path, sample_bytes: int = 1 << 20) -> int:
    """Rows in a jsonl: exact for small files, else extrapolated from the first MiB (no full read)."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
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
    captions = folder / ROCO_CAPTIONS
    kind = special_file_kind(captions)
    if kind is not None:
        yield SourceProblem(str(captions), f"{ROCO_CAPTIONS} is {kind}, not a regular file; folder skipped")
        return
    licences, links = {}, {}
    try:
        licences = _roco_licences(folder / "licences.txt")
        links = _roco_links(folder / "dlinks.txt")
    except (OSError, csv.Error, ValueError) as e:
        yield SourceProblem(str(folder), f"licences.txt or dlinks.txt unreadable ({e}); read without them")
    try:
        for lineno, line in _lines(captions):
            where = f"{captions}:{lineno}"
            try:
                yield _roco_record(line, where, images, licences, links)
            except Exception as e:  # noqa: BLE001 - per item, reported with its line
                logger.debug("line %s failed", where, exc_info=True)
                yield SourceProblem(where, f"unreadable line ({type(e).__name__}: {e}); skipped")
    except OSError as e:
        yield SourceProblem(str(captions), f"cannot read: {e.strerror or e}")


def _roco_image(roco_id: str, images: Path, old_name: str | None) -> tuple[Path | None, str]:
    """The image of a ROCO id (its own name, else the pre-2022 name from licences.txt), kept inside the data set."""
    refused = ""
    for name in (f"{roco_id}.jpg", old_name):
        if not name:
            continue
        candidate, why = resolve_inside(images, name)
        if candidate is None:
            refused = f"refused: {why}"
        elif is_regular_file(candidate):
            return candidate, ""
    return None, refused or f"not in {images}"


def _roco_record(
    line: str, where: str, images: Path, licences: dict[str, tuple[str, str]], links: dict[str, tuple[str | None, str]]
) -> FigureRecord | SourceProblem:
    roco_id, sep, caption = line.partition("\t")
    roco_id = roco_id.strip()
    if not sep or not roco_id:
        return SourceProblem(where, "line is not '<ROCO id><TAB><caption>'; skipped")
    licence = licences.get(roco_id)
    old_name = licence[0] if licence else None
    image, why = _roco_image(roco_id, images, old_name)
    if image is None:
        return SourceProblem(where, f"image of {roco_id}: {why}; skipped")
    pmcid = None
    if old_name:
        pmcid = normalize_pmcid(old_name.split("_", 1)[0])
    if pmcid is None and roco_id in links:
        pmcid = links[roco_id][0]
    article = ArticleMeta(pmcid=pmcid, license=licence[1] if licence else None) if (pmcid or licence) else None
    return FigureRecord(
        key=roco_id,
        image_path=image,
        caption=" ".join(caption.split()) or None,  # the caption always starts with one space
        figure_id=links[roco_id][1] if roco_id in links else roco_id,
        article=article,
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open_regular(path) as handle:
        for lineno, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.strip():
                yield lineno, text


def _roco_licences(path: Path) -> dict[str, tuple[str, str]]:
    """ROCO id → (old image file name "<PMCID>_<file>", licence code). The file has a header row."""
    if not is_regular_file(path):
        return {}
    out: dict[str, tuple[str, str]] = {}
    with open_regular(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            roco_id, name, code = _text(row.get("ROCO_ID")), _text(row.get("PMC_ID")), _text(row.get("CC"))
            if roco_id:
                out[roco_id] = (name, code)
    return out


def _text(value: object) -> str:
    # csv.DictReader puts the extra fields of a long row in a list under the key None; only strings are fields.
    return value.strip() if isinstance(value, str) else ""


def _roco_links(path: Path) -> dict[str, tuple[str | None, str]]:
    """ROCO id → (PMCID from the package URL, image file name inside the package)."""
    if not is_regular_file(path):
        return {}
    out: dict[str, tuple[str | None, str]] = {}
    for _, line in _lines(path):
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        match = re.search(r"(PMC\d+)\.tar\.gz", parts[1])
        out[parts[0].strip()] = (match.group(1) if match else None, parts[2].strip())
    return out
