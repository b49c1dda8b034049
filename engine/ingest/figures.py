"""Match JATS figures to image files and turn them into FigureRecords (or SourceProblems).

Shared by every PMC form (tar package, cloud folder, bare .nxml): they differ only in where the files are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath

from engine.ingest.jats import JatsFigure
from engine.types import ArticleMeta, FigureRecord, SourceProblem

# Full-size formats first: PMC packages carry each figure as a large .jpg and a small .gif thumbnail.
GRAPHIC_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif")


def resolve_graphic(href: str, files: Mapping[str, Path]) -> Path | None:
    """The file an `xlink:href` names, per datasets.md §1.5; `files` maps file names (not paths) to paths.

    1. basename of the href; 2. an exact name; 3. href + .jpg/.jpeg/.png/.tif/.tiff/.gif in that order;
    4. the same case-insensitively, then by stem (an href with another extension); 5. None.
    """
    name = PurePosixPath(href.replace("\\", "/")).name
    if not name:
        return None
    if name in files and name.lower().endswith(GRAPHIC_EXTENSIONS):
        return files[name]
    for ext in GRAPHIC_EXTENSIONS:
        if name + ext in files:
            return files[name + ext]
    lower = {n.lower(): p for n, p in files.items()}
    if name.lower() in lower and name.lower().endswith(GRAPHIC_EXTENSIONS):
        return lower[name.lower()]
    for ext in GRAPHIC_EXTENSIONS:
        if name.lower() + ext in lower:
            return lower[name.lower() + ext]
    stem = name.lower().rsplit(".", 1)[0] if "." in name else name.lower()
    for ext in GRAPHIC_EXTENSIONS:
        if stem + ext in lower:
            return lower[stem + ext]
    if name in files:  # an exact name with an extension we do not list (.bmp, .webp, .png upper-case …)
        return files[name]
    return None


def figure_records(
    meta: ArticleMeta,
    figures: list[JatsFigure],
    files: Mapping[str, Path],
    *,
    key_prefix: str,
    source: str,
) -> Iterator[FigureRecord | SourceProblem]:
    """One FigureRecord per figure with a caption and a resolvable graphic; a SourceProblem for each other one.

    Keys are `<key_prefix>/<fig id>` (fig ids are unique within one article), or `<key_prefix>/fig<n>` for a
    figure without an id, so re-reading the article gives the same keys.
    """
    seen: dict[str, int] = {}
    for number, fig in enumerate(figures, start=1):
        local = fig.fig_id or f"fig{number}"
        seen[local] = seen.get(local, 0) + 1
        if seen[local] > 1:  # a malformed article reusing an id: keep both, keys stay distinct and stable
            local = f"{local}#{seen[local]}"
        where = f"{source}: {fig.label or fig.fig_id or f'figure {number}'}"
        caption = _combined_caption(fig)
        if not caption:
            yield SourceProblem(where, "figure has no caption; skipped")
            continue
        if fig.href is None:
            what = f"only a media file ({fig.media_href})" if fig.media_href else "no graphic"
            yield SourceProblem(where, f"figure has {what}; skipped")
            continue
        path = resolve_graphic(fig.href, files)
        if path is None:
            yield SourceProblem(where, f"graphic {fig.href!r} is not among the article's files; skipped")
            continue
        yield FigureRecord(
            key=f"{key_prefix}/{local}",
            image_path=path,
            caption=caption,
            label=fig.label or fig.group_label,
            figure_id=fig.fig_id,
            article=meta,
        )


def _combined_caption(fig: JatsFigure) -> str | None:
    # A panel of a fig-group is described by the group caption as much as by its own.
    parts = [p for p in (fig.group_caption, fig.caption) if p]
    return " ".join(parts) if parts else None


def with_license(meta: ArticleMeta, code: str | None) -> ArticleMeta:
    """Use a licence code from outside the XML (filelist, cloud metadata JSON) unless the XML gave a code itself.

    The XML wins when it names a licence precisely ("CC BY 4.0" from a URL); free licence text loses to a code.
    """
    if not code or (meta.license and is_license_code(meta.license)):
        return meta
    return replace(meta, license=code)


def is_license_code(value: str) -> bool:
    return value.startswith(("CC ", "CC0", "Public Domain"))
