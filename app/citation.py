"""Citations and attribution for a figure: RIS, BibTeX and a plain "credit line" for slides.

Pure functions over `SearchResult`, so they are tested without Qt. The licence travels with every export
because most PMC figures are CC BY or CC BY-NC: reusing one without attribution breaks its licence.
"""

from __future__ import annotations

import re

from engine.types import ArticleMeta, SearchResult

PMC_ARTICLE_URL = "https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"
DOI_URL = "https://doi.org/{doi}"


def pmc_url(pmcid: str) -> str:
    return PMC_ARTICLE_URL.format(pmcid=pmcid if pmcid.upper().startswith("PMC") else f"PMC{pmcid}")


def doi_url(doi: str) -> str:
    return DOI_URL.format(doi=doi)


def _article(result: SearchResult) -> ArticleMeta:
    return result.article or ArticleMeta()


def to_ris(result: SearchResult) -> str:
    article = _article(result)
    lines = ["TY  - JOUR"]
    if article.title:
        lines.append(f"TI  - {article.title}")
    if article.journal:
        lines.append(f"JO  - {article.journal}")
    if article.year:
        lines.append(f"PY  - {article.year}")
    if article.doi:
        lines.append(f"DO  - {article.doi}")
        lines.append(f"UR  - {doi_url(article.doi)}")
    if article.pmcid:
        lines.append(f"UR  - {pmc_url(article.pmcid)}")
        lines.append(f"AN  - {article.pmcid}")
    if article.pmid:
        lines.append(f"M1  - PMID:{article.pmid}")
    figure = result.label or "Figure"
    lines.append(f"N1  - {figure}: {result.caption or ''}".rstrip())
    if article.license:
        lines.append(f"N1  - Licence: {article.license}" + (f" ({article.license_url})" if article.license_url else ""))
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


def _bibtex_escape(text: str) -> str:
    return re.sub(r"([{}&%$#_])", r"\\\1", text)


def bibtex_key(result: SearchResult) -> str:
    article = _article(result)
    base = article.pmcid or (article.doi and re.sub(r"\W+", "", article.doi)) or f"figure{result.figure_id}"
    return f"{base}{article.year or ''}"


def to_bibtex(result: SearchResult) -> str:
    article = _article(result)
    fields = []
    if article.title:
        fields.append(("title", "{" + _bibtex_escape(article.title) + "}"))
    if article.journal:
        fields.append(("journal", "{" + _bibtex_escape(article.journal) + "}"))
    if article.year:
        fields.append(("year", str(article.year)))
    if article.doi:
        fields.append(("doi", "{" + article.doi + "}"))
    if article.pmcid:
        fields.append(("url", "{" + pmc_url(article.pmcid) + "}"))
        fields.append(("note", "{" + article.pmcid + (f", {result.label}" if result.label else "") + "}"))
    if article.license:
        fields.append(("copyright", "{" + _bibtex_escape(article.license) + "}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@article{{{bibtex_key(result)},\n{body}\n}}\n"


def attribution(result: SearchResult) -> str:
    """A one-paragraph credit line: figure, article, journal/year, identifiers and licence."""
    article = _article(result)
    parts = [result.label or "Figure"]
    if article.title:
        parts.append(f"from “{article.title}”")
    where = ", ".join(str(x) for x in (article.journal, article.year) if x)
    if where:
        parts.append(f"({where})")
    ids = [x for x in (article.pmcid, article.doi and f"doi:{article.doi}") if x]
    text = " ".join(parts)
    if ids:
        text += ". " + ", ".join(ids)
    if article.license:
        text += f". Licence: {article.license}"
        if article.license_url:
            text += f" ({article.license_url})"
    else:
        text += ". Licence unknown: check the source before reuse"
    return text + "."
