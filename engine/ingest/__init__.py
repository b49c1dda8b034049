"""Readers that turn a user's source (a folder, PMC articles, a data set) into FigureRecords.

Every reader yields `FigureRecord | SourceProblem`: a bad item is reported and skipped, never raised, so one
corrupt file cannot stop a 1.6M-figure ingest. The library layer consumes `iter_source`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from pathlib import Path

from engine.errors import UserInputError
from engine.fileio import is_regular_file, open_regular
from engine.imaging import is_image_path
from engine.ingest.datasets import ROCO_CAPTIONS, estimate_lines, iter_pmc_oa, iter_roco, pmc_oa_files, roco_folders
from engine.ingest.folders import count_images, iter_folder
from engine.ingest.jats import JatsFigure, parse_jats
from engine.ingest.pmc_package import is_package, iter_pmc, looks_like_article_xml
from engine.text import clean_text, display_text, path_to_text
from engine.types import ArticleMeta, FigureRecord, SourceProblem

SOURCE_KINDS = ("folder", "pmc", "pmc-oa", "roco")
_DETECT_BUDGET = 5000  # directory entries looked at before settling on "folder"

__all__ = [
    "SOURCE_KINDS",
    "JatsFigure",
    "detect_source_kind",
    "estimate_count",
    "iter_source",
    "normalised",
    "parse_jats",
]


def detect_source_kind(path: str | Path) -> str:
    """Guess the kind of a source: "folder", "pmc", "pmc-oa" or "roco". UserInputError when it is none."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path} does not exist")
    if path.is_file():
        return _file_kind(path)
    if not path.is_dir():
        raise UserInputError(f"{path} is neither a file nor a folder")
    if roco_folders(path, max_depth=3):
        return "roco"
    if any(p.is_file() for p in path.glob("*.jsonl")):
        return "pmc-oa"
    return "pmc" if _holds_articles(path) else "folder"


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return "pmc-oa"
    if is_package(path) or name.endswith(".nxml") or looks_like_article_xml(path):
        return "pmc"
    if name == ROCO_CAPTIONS:
        return "roco"
    if is_image_path(path):
        return "folder"
    raise UserInputError(
        f"{path.name}: not a source this program reads (an image, a PMC .tar.gz/.nxml, a PMC-OA .jsonl)"
    )


def _holds_articles(folder: Path) -> bool:
    """Whether a PMC package or article XML is among the first _DETECT_BUDGET files of the folder tree."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            candidate = Path(dirpath) / name
            lower = name.lower()
            if is_package(candidate) or lower.endswith(".nxml") or (
                lower.endswith(".xml") and looks_like_article_xml(candidate)
            ):
                return True
            seen += 1
            if seen >= _DETECT_BUDGET:
                return False
    return False


def iter_source(path: str | Path, kind: str, *, work_dir: Path) -> Iterator[FigureRecord | SourceProblem]:
    """Every figure of a source. `work_dir` receives extracted archives (the library's own folder).

    Every item leaves through `normalised`: the one place where text read from a source is made safe to store.
    """
    path = Path(path)
    if kind == "folder":
        return normalised(iter_folder(path))
    if kind == "pmc":
        return normalised(iter_pmc(path, work_dir=Path(work_dir)))
    if kind == "pmc-oa":
        return normalised(iter_pmc_oa(path))
    if kind == "roco":
        return normalised(iter_roco(path))
    raise UserInputError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")


def normalised(items: Iterable[FigureRecord | SourceProblem]) -> Iterator[FigureRecord | SourceProblem]:
    """Records and problems with text the catalog can store: see `engine.text`.

    A record keeps its real `image_path` (a non-UTF-8 name still opens); its key becomes lossless text (two
    file names differing only in undecodable bytes keep two keys); captions and article facts get lone surrogates
    replaced; a problem's path is escaped for display, so it names the file even when the name is not UTF-8.
    """
    for item in items:
        if isinstance(item, SourceProblem):
            yield SourceProblem(display_text(item.path), clean_text(item.message) or "")
        else:
            yield _normalised_record(item)


def _cleaned(value):
    """Strings (and tuples of them, e.g. authors) made valid Unicode; numbers and None as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple):
        return tuple(clean_text(str(item)) for item in value)
    return value


def _normalised_record(record: FigureRecord) -> FigureRecord:
    article = record.article
    if article is not None:
        article = replace(article, **{f.name: _cleaned(getattr(article, f.name)) for f in fields(ArticleMeta)})
    return replace(
        record,
        key=path_to_text(record.key),
        caption=clean_text(record.caption),
        label=clean_text(record.label),
        figure_id=clean_text(record.figure_id),
        article=article,
    )


def estimate_count(path: str | Path, kind: str) -> int | None:
    """A cheap figure count for progress bars (None when it cannot be known without reading everything)."""
    path = Path(path)
    try:
        if kind == "folder":
            return count_images(path)
        if kind == "pmc-oa":
            return sum(estimate_lines(p) for p in pmc_oa_files(path))
        if kind == "roco":
            captions = (folder / ROCO_CAPTIONS for folder in roco_folders(path))
            return sum(_count_lines(c) for c in captions if is_regular_file(c))
    except OSError:
        return None
    if kind == "pmc":
        return None  # figures per article vary (0 to dozens); opening every package is not cheap
    raise UserInputError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")


def _count_lines(path: Path) -> int:
    count = 0
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
    return count
