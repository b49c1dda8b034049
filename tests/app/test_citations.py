"""Citations parsed back with real RIS and BibTeX parsers: every field of the article, and a file citation for a
figure from a folder (never an empty entry)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import bibtexparser
import rispy

from app.citation import attribution, to_bibtex, to_ris
from engine.types import ArticleMeta, SearchResult, WhyMatched

ARTICLE = ArticleMeta(
    pmcid="PMC3460867", pmid="23029536", doi="10.1371/journal.pone.0046493",
    title="Inhibition of lipase by THL analogues & friends", journal="PLoS ONE", year=2012,
    license="CC BY 4.0", license_url="https://creativecommons.org/licenses/by/4.0/",
    authors=("Smith, Jane A", "Li, Ming", "The ABC Trial Group"), volume="7", issue="9", pages="145-152",
)


def _result(image_path: Path, article: ArticleMeta | None, caption: str | None = "Axial CT of the chest.",
            label: str | None = "Figure 2") -> SearchResult:
    return SearchResult(27, 0.5, image_path, caption, label, "c", None, None, article, WhyMatched(0.3))


def test_ris_of_an_article_figure_parses_with_every_field(tmp_path):
    (entry,) = rispy.loads(to_ris(_result(tmp_path / "f.jpg", ARTICLE)))
    assert entry["type_of_reference"] == "JOUR"
    assert entry["authors"] == ["Smith, Jane A", "Li, Ming", "The ABC Trial Group"]
    assert entry["title"] == ARTICLE.title and entry["secondary_title"] == "PLoS ONE"
    assert (entry["year"], entry["volume"], entry["number"]) == ("2012", "7", "9")
    assert (entry["start_page"], entry["end_page"]) == ("145", "152")
    assert entry["doi"] == ARTICLE.doi and entry["accession_number"] == "PMC3460867"
    assert "https://pmc.ncbi.nlm.nih.gov/articles/PMC3460867/" in entry["urls"]
    assert any("CC BY 4.0" in note for note in entry["notes"])
    assert any(note.startswith("Figure 2: Axial CT") for note in entry["notes"])


def test_bibtex_of_an_article_figure_parses_with_every_field(tmp_path):
    library = bibtexparser.parse_string(to_bibtex(_result(tmp_path / "f.jpg", ARTICLE)))
    assert not library.failed_blocks
    (entry,) = library.entries
    fields = {f.key: f.value for f in entry.fields}
    assert entry.entry_type == "article" and entry.key == "PMC34608672012"
    assert fields["author"] == "Smith, Jane A and Li, Ming and The ABC Trial Group"
    assert fields["title"] == r"Inhibition of lipase by THL analogues \& friends"
    assert (fields["journal"], fields["year"], fields["volume"], fields["number"], fields["pages"]) == (
        "PLoS ONE", "2012", "7", "9", "145--152")
    assert fields["doi"] == ARTICLE.doi and "PMC3460867" in fields["note"]


def test_an_electronic_page_number_is_one_page_not_a_range(tmp_path):
    article = ArticleMeta(title="T", journal="J", pages="e46493")
    (entry,) = rispy.loads(to_ris(_result(tmp_path / "f.jpg", article)))
    assert entry["start_page"] == "e46493" and "end_page" not in entry
    (bib,) = bibtexparser.parse_string(to_bibtex(_result(tmp_path / "f.jpg", article))).entries
    assert bib.fields_dict["pages"].value == "e46493"


def test_a_folder_figure_is_cited_as_a_file_with_caption_path_and_date(tmp_path):
    image = tmp_path / "scans" / "case_27.png"
    image.parent.mkdir()
    image.write_bytes(b"png")
    when = time.mktime((2021, 3, 4, 12, 0, 0, 0, 0, -1))
    os.utime(image, (when, when))
    result = _result(image, None, caption="Lateral knee radiograph, effusion", label=None)

    (entry,) = rispy.loads(to_ris(result))
    assert entry["type_of_reference"] == "FIGURE"
    assert entry["title"] == "Lateral knee radiograph, effusion"
    assert entry["year"] == "2021" and entry["date"] == "2021/03/04"
    assert entry["urls"] == [image.resolve().as_uri()]
    assert any(str(image) in note for note in entry["notes"])

    library = bibtexparser.parse_string(to_bibtex(result))
    assert not library.failed_blocks
    (bib,) = library.entries
    fields = {f.key: f.value for f in bib.fields}
    assert bib.entry_type == "misc" and bib.key == "case_2727"
    assert fields["title"] == "Lateral knee radiograph, effusion" and fields["year"] == "2021"
    assert fields["date"] == "2021-03-04" and r"case\_27.png" in fields["note"]
    assert "case_27.png" in attribution(result) and "2021-03-04" in attribution(result)


def test_a_folder_figure_without_caption_is_titled_by_its_file_name(tmp_path):
    image = tmp_path / "figure27.png"
    image.write_bytes(b"png")
    result = _result(image, ArticleMeta(), caption=None, label=None)  # an empty article is no article
    (entry,) = rispy.loads(to_ris(result))
    assert entry["title"] == "figure27.png"
    (bib,) = bibtexparser.parse_string(to_bibtex(result)).entries
    assert len(bib.fields) >= 4 and bib.fields_dict["title"].value == "figure27.png"
