"""Parse a JATS/NLM article (PMC `.nxml` or cloud `.xml`) into article metadata and its figures.

The XML is untrusted: it is parsed with entity resolution, DTD loading and network access off, and a document
that declares entities in an internal DTD subset (the shape of "billion laughs" bombs and of external-entity file
reads) is refused outright. Real PMC files declare none: they reference an external DTD by a bare file name only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lxml import etree

from engine.errors import ArticleParseError
from engine.ingest.licenses import license_from_permissions
from engine.types import ArticleMeta

logger = logging.getLogger(__name__)

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
MAX_XML_BYTES = 64 << 20  # the largest PMC articles are a few MB; anything bigger is not an article


@dataclass(frozen=True)
class JatsFigure:
    """One `<fig>`: what the XML says, before its graphic is matched to a file."""

    fig_id: str | None
    label: str | None
    caption: str | None  # title + paragraphs, whitespace collapsed
    href: str | None  # the main `<graphic>` xlink:href, often without extension
    group_label: str | None = None  # the enclosing `<fig-group>`'s label and caption, kept as context
    group_caption: str | None = None
    media_href: str | None = None  # a `<media>` (usually a video) when the figure has no graphic


def parse_jats(xml_bytes: bytes, source_name: str) -> tuple[ArticleMeta, list[JatsFigure]]:
    """Article metadata and every `<fig>` anywhere in the article (body, back, floats-group, fig-group)."""
    article = _parse_article(xml_bytes, source_name)
    meta = _article_meta(article)
    figures = [_figure(fig) for fig in article.iter("fig")]
    return meta, figures


# --------------------------------------------------------------------------------------------------- parsing


_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,  # comments inside article-meta hold stale dates; they are never content
        remove_pis=True,
    )


def _parse_article(xml_bytes: bytes, source_name: str) -> etree._Element:
    if len(xml_bytes) > MAX_XML_BYTES:
        raise ArticleParseError(f"{source_name}: {len(xml_bytes)} bytes is too large for an article XML")
    subset = _INTERNAL_SUBSET.search(xml_bytes[:65536])
    if subset and b"<!ENTITY" in subset.group(1).upper():
        raise ArticleParseError(f"{source_name}: declares entities in its DOCTYPE (entity expansion refused)")
    try:
        tree = etree.fromstring(xml_bytes, parser=_hardened_parser()).getroottree()
    except etree.XMLSyntaxError as e:
        raise ArticleParseError(f"{source_name}: not well-formed XML ({e})") from e
    except ValueError as e:  # e.g. a str with an encoding declaration, or a NUL byte
        raise ArticleParseError(f"{source_name}: cannot parse XML ({e})") from e
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        # The byte check above misses other encodings (UTF-16); the parsed DTD cannot hide.
        raise ArticleParseError(f"{source_name}: declares entities in its DOCTYPE (entity expansion refused)")
    root = tree.getroot()
    article = root if _local(root.tag) == "article" else next(
        (el for el in root.iter() if isinstance(el.tag, str) and _local(el.tag) == "article"), None
    )
    if article is None:
        raise ArticleParseError(f"{source_name}: not a JATS article (root element <{_local(root.tag)}>)")
    if article.tag != "article":
        raise ArticleParseError(f"{source_name}: JATS elements in a namespace are not supported")
    return article


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def text_of(el: etree._Element | None) -> str | None:
    """All text under `el` (mixed content: bold, italic, xref …), whitespace collapsed; None when empty."""
    if el is None:
        return None
    text = " ".join("".join(el.itertext()).split())
    return text or None


# --------------------------------------------------------------------------------------------------- figures


def _figure(fig: etree._Element) -> JatsFigure:
    group = _enclosing_group(fig)
    graphic = _main_graphic(fig)
    media = next((m for m in fig.iter("media") if not _inside(m, fig, "caption")), None)
    return JatsFigure(
        fig_id=fig.get("id"),
        label=text_of(fig.find("label")),
        caption=_caption_text(fig.find("caption")),
        href=_href(graphic),
        group_label=text_of(group.find("label")) if group is not None else None,
        group_caption=_caption_text(group.find("caption")) if group is not None else None,
        media_href=_href(media),
    )


def _enclosing_group(fig: etree._Element) -> etree._Element | None:
    parent = fig.getparent()
    while parent is not None and parent.tag != "article":
        if parent.tag == "fig-group":
            return parent
        parent = parent.getparent()
    return None


def _main_graphic(fig: etree._Element) -> etree._Element | None:
    # `<graphic>` directly or inside `<alternatives>`; never an `<inline-graphic>` (a different tag) nor a graphic
    # that sits inside the caption, and never a graphic of a nested fig.
    for graphic in fig.iter("graphic"):
        if not _inside(graphic, fig, "caption") and not _inside(graphic, fig, "fig"):
            return graphic
    return None


def _inside(el: etree._Element, stop: etree._Element, tag: str) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag == tag:
            return True
        parent = parent.getparent()
    return False


def _href(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    value = el.get(XLINK_HREF) or el.get("href")
    return value.strip() if value and value.strip() else None


def _caption_text(caption: etree._Element | None) -> str | None:
    """Caption title and paragraphs as one text: "Title. Paragraph one. Paragraph two."."""
    if caption is None:
        return None
    parts = []
    for child in caption:
        if not isinstance(child.tag, str):
            continue
        text = text_of(child)
        if text:
            parts.append(text)
    if not parts:
        return text_of(caption)
    if len(parts) > 1 and parts[0][-1] not in ".:;!?":
        parts[0] += "."  # a title without a full stop would otherwise run into the first sentence
    return " ".join(parts)


# --------------------------------------------------------------------------------------------------- metadata


def _article_meta(article: etree._Element) -> ArticleMeta:
    meta = article.find("front/article-meta")
    journal_meta = article.find("front/journal-meta")
    ids = _article_ids(meta)
    license_code, license_url = license_from_permissions(meta.find("permissions") if meta is not None else None)
    return ArticleMeta(
        pmcid=ids.get("pmcid"),
        pmid=ids.get("pmid"),
        doi=ids.get("doi"),
        title=text_of(meta.find("title-group/article-title")) if meta is not None else None,
        journal=_journal(journal_meta),
        year=_year(meta),
        license=license_code,
        license_url=license_url,
        authors=_authors(meta),
        volume=text_of(meta.find("volume")) if meta is not None else None,
        issue=text_of(meta.find("issue")) if meta is not None else None,
        pages=_pages(meta),
    )


def _authors(meta: etree._Element | None) -> tuple[str, ...]:
    """"Family, Given" per author (or a group author's name), in the order the article lists them."""
    if meta is None:
        return ()
    names = []
    for contrib in meta.findall("contrib-group/contrib"):
        if (contrib.get("contrib-type") or "author").strip().lower() != "author":
            continue  # editors, reviewers …
        name = _person_name(contrib) or text_of(contrib.find("collab"))
        if name:
            names.append(name)
    return tuple(names)


def _person_name(contrib: etree._Element) -> str | None:
    # `<name>` directly, or the western form among `<name-alternatives>`, or a free `<string-name>`.
    candidates = contrib.findall("name") + contrib.findall("name-alternatives/name")
    name = next((n for n in candidates if (n.get("name-style") or "western") == "western"), None)
    if name is None and candidates:
        name = candidates[0]
    if name is None:
        return text_of(contrib.find("string-name"))
    family, given = text_of(name.find("surname")), text_of(name.find("given-names"))
    suffix = text_of(name.find("suffix"))
    if family and suffix:
        family = f"{family} {suffix}"
    if family and given:
        return f"{family}, {given}"
    return family or given


def _pages(meta: etree._Element | None) -> str | None:
    """"145-152" from fpage/lpage, "145" alone, or the electronic location ("e1234") that replaces pages."""
    if meta is None:
        return None
    first, last = text_of(meta.find("fpage")), text_of(meta.find("lpage"))
    if first and last and last != first:
        return f"{first}-{last}"
    return first or text_of(meta.find("elocation-id"))


def normalize_pmcid(value: str | None) -> str | None:
    """"3460867", "PMC3460867", "pmc3460867.2" → "PMC3460867"; None when no digits."""
    if not value:
        return None
    match = re.match(r"^\s*(?:PMC)?(\d+)(?:\.\d+)?\s*$", value, re.IGNORECASE)
    return f"PMC{match.group(1)}" if match else None


def _article_ids(meta: etree._Element | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if meta is None:
        return found
    for el in meta.findall("article-id"):
        kind = (el.get("pub-id-type") or "").strip().lower()
        value = text_of(el)
        if not value:
            continue
        if kind in ("pmc", "pmcid", "pmcaid", "pmcid-ver") and "pmcid" not in found:
            pmcid = normalize_pmcid(value)
            if pmcid:
                found["pmcid"] = pmcid
        elif kind == "pmid" and value.isdigit():
            found.setdefault("pmid", value)
        elif kind == "doi":
            found.setdefault("doi", value)
    return found


def _journal(journal_meta: etree._Element | None) -> str | None:
    if journal_meta is None:
        return None
    for path in ("journal-title-group/journal-title", "journal-title"):
        title = text_of(journal_meta.find(path))
        if title:
            return title
    for kind in ("nlm-ta", "iso-abbrev", "publisher-id"):
        for el in journal_meta.findall("journal-id"):
            if el.get("journal-id-type") == kind and text_of(el):
                return text_of(el)
    return None


def _year(meta: etree._Element | None) -> int | None:
    """Publication year, by the preference order of datasets.md §1.6."""
    if meta is None:
        return None
    dates = meta.findall("pub-date")

    def year_of(el: etree._Element) -> int | None:
        iso = (el.get("iso-8601-date") or "").strip()
        if re.match(r"^\d{4}", iso):
            return int(iso[:4])
        text = text_of(el.find("year"))
        return int(text) if text and text.isdigit() and len(text) == 4 else None

    def kind(el: etree._Element) -> tuple[str, str, str]:
        return (el.get("pub-type") or "", el.get("date-type") or "", el.get("publication-format") or "")

    preferences = [
        lambda el: bool(el.get("iso-8601-date")),
        lambda el: kind(el)[0] == "epub" or (kind(el)[1] == "pub" and kind(el)[2] == "electronic"),
        lambda el: kind(el)[0] == "ppub" or (kind(el)[1] == "pub" and kind(el)[2] == "print"),
        lambda el: kind(el)[0] == "collection" or kind(el)[1] == "collection",
        lambda el: kind(el)[0] == "pmc-release",
        lambda el: True,
    ]
    for wanted in preferences:
        for el in dates:
            if wanted(el):
                year = year_of(el)
                if year is not None:
                    return year
    return None
