"""Citations and attribution for a figure: RIS, BibTeX and a plain "credit line" for slides.

Pure functions over `SearchResult`, so they are tested without Qt (with real RIS and BibTeX parsers). An article's
figure is cited as the article (authors, title, journal, year, volume, issue, pages, DOI, PMCID); a figure from a
folder of images has no article, so it is cited as a file (its caption or name, its path and its date), never as
an empty entry. The licence travels with every export because most PMC figures are CC BY or CC BY-NC: reusing one
without attribution breaks its licence.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from engine.types import ArticleMeta, SearchResult

PMC_ARTICLE_URL = "https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"
DOI_URL = "https://doi.org/{doi}"
_TITLE_FROM_CAPTION = 120  # characters of a caption used as a file figure's title


def pmc_url(pmcid: str) -> str:
    return PMC_ARTICLE_URL.format(pmcid=pmcid if pmcid.upper().startswith("PMC") else f"PMC{pmcid}")


def doi_url(doi: str) -> str:
    return DOI_URL.format(doi=doi)


def _article(result: SearchResult) -> ArticleMeta:
    return result.article or ArticleMeta()


def is_article_figure(result: SearchResult) -> bool:
    """Whether the figure comes with an article to cite (else it is a file from a folder of images)."""
    article = result.article
    return article is not None and any((article.title, article.pmcid, article.doi, article.journal))


def split_pages(pages: str | None) -> tuple[str | None, str | None]:
    """"145-152" → ("145", "152"); "e1234" → ("e1234", None)."""
    if not pages:
        return None, None
    first, _, last = pages.replace("–", "-").partition("-")
    return first.strip() or None, last.strip() or None


def file_date(path: Path) -> dt.date | None:
    """The file's modification date: the date a folder figure is cited with (None when the file is gone)."""
    try:
        return dt.date.fromtimestamp(Path(path).stat().st_mtime)
    except OSError:
        return None


def file_title(result: SearchResult) -> str:
    """A folder figure's title: its caption (shortened at a word), or its file name when it has none."""
    caption = " ".join((result.caption or "").split())
    if not caption:
        return Path(result.image_path).name
    if len(caption) <= _TITLE_FROM_CAPTION:
        return caption
    return caption[:_TITLE_FROM_CAPTION].rsplit(" ", 1)[0] + "…"


def licence_text(article: ArticleMeta) -> str | None:
    if not article.license:
        return None
    return f"Licence: {article.license}" + (f" ({article.license_url})" if article.license_url else "")


# --------------------------------------------------------------------------------------------------- RIS


def _ris(tag: str, value: object) -> str:
    return f"{tag}  - {' '.join(str(value).split())}"


def to_ris(result: SearchResult) -> str:
    lines = _ris_article(result) if is_article_figure(result) else _ris_file(result)
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


def _ris_article(result: SearchResult) -> list[str]:
    article = _article(result)
    lines = ["TY  - JOUR"]
    lines += [_ris("AU", name) for name in article.authors]
    first, last = split_pages(article.pages)
    for tag, value in (
        ("TI", article.title), ("T2", article.journal), ("JF", article.journal), ("PY", article.year),
        ("VL", article.volume), ("IS", article.issue), ("SP", first), ("EP", last), ("DO", article.doi),
    ):
        if value:
            lines.append(_ris(tag, value))
    if article.doi:
        lines.append(_ris("UR", doi_url(article.doi)))
    if article.pmcid:
        lines += [_ris("UR", pmc_url(article.pmcid)), _ris("AN", article.pmcid)]
    if article.pmid:
        lines.append(_ris("M1", f"PMID:{article.pmid}"))
    lines.append(_ris("N1", f"{result.label or 'Figure'}: {result.caption or ''}".rstrip(": ")))
    licence = licence_text(article)
    if licence:
        lines.append(_ris("N1", licence))
    return lines


def _ris_file(result: SearchResult) -> list[str]:
    path = Path(result.image_path)
    lines = ["TY  - FIGURE", _ris("TI", file_title(result))]
    date = file_date(path)
    if date is not None:
        lines += [_ris("PY", date.year), _ris("DA", date.strftime("%Y/%m/%d"))]
    lines += [_ris("UR", path.resolve().as_uri()), _ris("N1", f"File: {path}")]
    if result.caption and file_title(result) != " ".join(result.caption.split()):
        lines.append(_ris("N1", f"Caption: {result.caption}"))
    lines.append(_ris("N1", "Licence unknown: check the source before reuse"))
    return lines


# --------------------------------------------------------------------------------------------------- BibTeX


def _bibtex_escape(text: str) -> str:
    return re.sub(r"([{}&%$#_])", r"\\\1", " ".join(text.split()))


def bibtex_key(result: SearchResult) -> str:
    article = _article(result)
    if is_article_figure(result):
        base = article.pmcid or (article.doi and re.sub(r"\W+", "", article.doi)) or f"figure{result.figure_id}"
        return f"{base}{article.year or ''}"
    stem = re.sub(r"\W+", "", Path(result.image_path).stem) or "figure"
    return f"{stem}{result.figure_id}"


def to_bibtex(result: SearchResult) -> str:
    if is_article_figure(result):
        kind, fields = "article", _bibtex_article_fields(result)
    else:
        kind, fields = "misc", _bibtex_file_fields(result)
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@{kind}{{{bibtex_key(result)},\n{body}\n}}\n"


def _braced(text: str) -> str:
    return "{" + _bibtex_escape(text) + "}"


def _bibtex_article_fields(result: SearchResult) -> list[tuple[str, str]]:
    article = _article(result)
    fields = []
    if article.authors:
        fields.append(("author", "{" + " and ".join(_bibtex_escape(a) for a in article.authors) + "}"))
    first, last = split_pages(article.pages)
    pages = f"{first}--{last}" if first and last else first
    for name, value in (
        ("title", article.title), ("journal", article.journal), ("volume", article.volume),
        ("number", article.issue), ("pages", pages),
    ):
        if value:
            fields.append((name, _braced(value)))
    if article.year:
        fields.append(("year", str(article.year)))
    if article.doi:
        fields.append(("doi", "{" + article.doi + "}"))
    if article.pmcid:
        fields.append(("url", "{" + pmc_url(article.pmcid) + "}"))
        fields.append(("note", _braced(article.pmcid + (f", {result.label}" if result.label else ""))))
    if article.license:
        fields.append(("copyright", _braced(article.license)))
    return fields


def _bibtex_file_fields(result: SearchResult) -> list[tuple[str, str]]:
    path = Path(result.image_path)
    fields = [("title", _braced(file_title(result))), ("howpublished", _braced("Image file"))]
    date = file_date(path)
    if date is not None:
        fields += [("year", str(date.year)), ("date", "{" + date.isoformat() + "}")]
    fields += [("url", "{" + path.resolve().as_uri() + "}"), ("note", _braced(f"File: {path}"))]
    return fields


# --------------------------------------------------------------------------------------------------- credit line


def attribution(result: SearchResult) -> str:
    """A one-paragraph credit line: figure, article, journal/year, identifiers and licence."""
    if not is_article_figure(result):
        date = file_date(Path(result.image_path))
        when = f", {date.isoformat()}" if date else ""
        return f"{file_title(result)} (file {result.image_path}{when}). Licence unknown: check the source before reuse."
    article = _article(result)
    parts = [result.label or "Figure"]
    if article.title:
        parts.append(f"from “{article.title}”")
    if article.authors:
        parts.append(f"by {_short_authors(article.authors)}")
    where = ", ".join(str(x) for x in (article.journal, article.year) if x)
    if where:
        parts.append(f"({where})")
    ids = [x for x in (article.pmcid, article.doi and f"doi:{article.doi}") if x]
    text = " ".join(parts)
    if ids:
        text += ". " + ", ".join(ids)
    licence = licence_text(article)
    text += f". {licence}" if licence else ". Licence unknown: check the source before reuse"
    return text + "."


def _short_authors(authors: tuple[str, ...]) -> str:
    family = [a.split(",", 1)[0] for a in authors]
    if len(family) <= 2:
        return " and ".join(family)
    return f"{family[0]} et al."
