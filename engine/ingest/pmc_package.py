"""Reader for PubMed Central open-access articles in every form users have (datasets.md §1.1–1.2):

- legacy per-article packages `PMC<id>.tar.gz` (a folder holding the `.nxml`, the figure `.jpg`/`.gif`, the PDF);
- PMC's current cloud per-article folders `PMC<id>.<version>/` (`PMC<id>.<version>.xml`, media files, and a
  metadata JSON with `license_code`);
- a bare `.nxml` (or JATS `.xml`) beside its images;
- a folder holding any mix of the above, searched recursively.

Packages are extracted (safely, see `archives`) under `work_dir`, so every FigureRecord points at a real file.
One bad article becomes a SourceProblem; it never stops the others.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from engine.errors import ArchiveError, ArticleParseError
from engine.fileio import read_regular
from engine.ingest.archives import ArchiveLimits, safe_extract
from engine.ingest.figures import GRAPHIC_EXTENSIONS, figure_records, with_license
from engine.ingest.jats import MAX_XML_BYTES, normalize_pmcid, parse_jats
from engine.ingest.safe_paths import is_inside
from engine.types import ArticleMeta, FigureRecord, SourceProblem

logger = logging.getLogger(__name__)

PACKAGE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
ARTICLE_SUFFIXES = (".nxml", ".xml")
_MAX_METADATA_BYTES = 1 << 20
_IMAGE_SUFFIXES = GRAPHIC_EXTENSIONS + (".png", ".bmp", ".webp")


def is_package(path: Path) -> bool:
    return path.name.lower().endswith(PACKAGE_SUFFIXES)


def looks_like_article_xml(path: Path) -> bool:
    """`.nxml` always; `.xml` when its first bytes show a JATS `<article` (cloud and bulk files are `PMC….xml`)."""
    name = path.name.lower()
    if name.endswith(".nxml"):
        return True
    if not name.endswith(".xml"):
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"<article" in head or b"<!DOCTYPE article" in head or b"<pmc-articleset" in head


def iter_pmc(
    path: Path, *, work_dir: Path, limits: ArchiveLimits = ArchiveLimits()
) -> Iterator[FigureRecord | SourceProblem]:
    """Every figure of every article under `path` (a package, an article XML, or a folder of them)."""
    path = Path(path)
    used_prefixes: set[str] = set()
    if path.is_file():
        if is_package(path):
            yield from _package(path, Path(work_dir), limits, used_prefixes)
        elif path.name.lower().endswith(ARTICLE_SUFFIXES):
            yield from _guarded_article(path, _files_beside(path.parent, path.parent), used_prefixes)
        else:
            yield SourceProblem(str(path), "not a PMC package (.tar.gz) or article XML (.nxml/.xml)")
        return
    yield from _walk(path, path, Path(work_dir), limits, used_prefixes, set())


def _walk(
    root: Path, directory: Path, work_dir: Path, limits: ArchiveLimits, used: set[str], seen: set[tuple[int, int]]
) -> Iterator[FigureRecord | SourceProblem]:
    try:
        info = directory.stat()
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        entries = sorted((e for e in directory.iterdir() if not e.name.startswith(".")), key=lambda p: p.name)
    except OSError as e:
        yield SourceProblem(str(directory), f"cannot list folder: {e.strerror or e}")
        return
    outside = [e for e in entries if e.is_symlink() and not is_inside(root, e)]
    for entry in outside:
        yield SourceProblem(str(entry), "a symbolic link to something outside the source folder; skipped")
    entries = [e for e in entries if e not in outside]
    files = [e for e in entries if e.is_file()]
    articles = [f for f in files if looks_like_article_xml(f)]
    if articles:
        siblings = _files_beside(root, directory)
        for xml in articles:
            yield from _guarded_article(xml, siblings, used)
    for package in (f for f in files if is_package(f)):
        yield from _package(package, work_dir, limits, used)
    for sub in (e for e in entries if e.is_dir()):
        yield from _walk(root, sub, work_dir, limits, used, seen)


def _guarded_article(xml: Path, siblings: dict[str, Path], used: set[str], **where) -> Iterator:
    """One article, whatever its files hold, can only ever become problems naming it: never stop the source."""
    try:
        yield from _article_xml(xml, siblings, used, **where)
    except Exception as e:  # noqa: BLE001 - per item
        logger.debug("article %s failed", xml, exc_info=True)
        yield SourceProblem(where.get("display") or str(xml), f"unreadable article ({type(e).__name__}: {e})")


def _files_beside(root: Path, directory: Path) -> dict[str, Path]:
    try:
        return {
            p.name: p
            for p in directory.iterdir()
            if p.is_file() and not p.name.startswith(".") and (not p.is_symlink() or is_inside(root, p))
        }
    except OSError:
        return {}


def _package(
    package: Path, work_dir: Path, limits: ArchiveLimits, used: set[str]
) -> Iterator[FigureRecord | SourceProblem]:
    stem = re.sub(r"\.(tar\.gz|tgz|tar)$", "", package.name, flags=re.IGNORECASE)
    dest = work_dir / "pmc-packages" / re.sub(r"[^A-Za-z0-9._-]", "_", stem)

    def wanted(name: str) -> bool:  # the XML and images only: PDFs and supplementary files are not figures
        lower = name.lower()
        return lower.endswith(ARTICLE_SUFFIXES) or lower.endswith(_IMAGE_SUFFIXES)

    try:
        extracted = safe_extract(package, dest, limits=limits, wanted=wanted)
    except ArchiveError as e:
        yield SourceProblem(str(package), str(e))
        return
    xmls = [p for p in extracted if p.name.lower().endswith(".nxml")] or [
        p for p in extracted if p.name.lower().endswith(".xml") and looks_like_article_xml(p)
    ]
    if not xmls:
        yield SourceProblem(str(package), "package holds no article XML (.nxml)")
        return
    for xml in xmls:
        # Figures live beside the .nxml; do not hard-code the top folder's name (datasets.md §1.2).
        siblings = {p.name: p for p in extracted if p.parent == xml.parent}
        yield from _guarded_article(xml, siblings, used, display=f"{package.name}:{xml.name}", fallback_key=stem)


def _article_xml(
    xml: Path, siblings: dict[str, Path], used: set[str], *, display: str | None = None, fallback_key: str | None = None
) -> Iterator[FigureRecord | SourceProblem]:
    display = display or str(xml)
    try:
        data = read_regular(xml, MAX_XML_BYTES)
    except ValueError:
        yield SourceProblem(display, "article XML is too large")
        return
    except OSError as e:
        yield SourceProblem(display, f"cannot read: {e.strerror or e}")
        return
    try:
        meta, figures = parse_jats(data, xml.name)
    except ArticleParseError as e:
        yield SourceProblem(display, str(e))
        return
    meta = _merge_cloud_metadata(meta, xml, siblings)
    stem = xml.name.rsplit(".", 1)[0]
    prefix = meta.pmcid or fallback_key or stem
    if prefix in used:  # the same article twice in one source (two versions, a package and its folder)
        prefix = f"{prefix}@{fallback_key or stem}"
        n = 2
        while prefix in used:
            prefix = f"{meta.pmcid or stem}@{n}"
            n += 1
    used.add(prefix)
    images = {name: p for name, p in siblings.items() if name.lower().endswith(_IMAGE_SUFFIXES)}
    yield from figure_records(meta, figures, images, key_prefix=prefix, source=display)


def _merge_cloud_metadata(meta: ArticleMeta, xml: Path, siblings: dict[str, Path]) -> ArticleMeta:
    """Fill gaps from the cloud metadata JSON `PMC<id>.<version>.json` beside the XML (licence, ids)."""
    stem = xml.name.rsplit(".", 1)[0]
    candidate = siblings.get(stem + ".json")
    if candidate is None:
        return meta
    try:
        data = json.loads(read_regular(candidate, _MAX_METADATA_BYTES))
    except (OSError, ValueError, RecursionError) as e:
        logger.info("ignoring unreadable metadata %s: %s", candidate, e)
        return meta
    if not isinstance(data, dict):
        return meta
    code = data.get("license_code")
    meta = with_license(meta, code.strip() if isinstance(code, str) and code.strip() else None)
    if meta.pmcid is None and isinstance(data.get("pmcid"), str):
        meta = replace(meta, pmcid=normalize_pmcid(data["pmcid"]))
    if meta.doi is None and isinstance(data.get("doi"), str) and data["doi"].strip():
        meta = replace(meta, doi=data["doi"].strip())
    return meta
