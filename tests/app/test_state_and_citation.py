from pathlib import Path

from app.citation import attribution, bibtex_key, to_bibtex, to_ris
from app.controller import QueryImage, RequestTracker, SearchState, describe_progress, format_eta
from app.highlight import highlight_caption
from engine.types import ArticleMeta, SearchFilters, SearchResult, WhyMatched


def _result(**article):
    meta = ArticleMeta(**article) if article else None
    return SearchResult(7, 0.5, Path("/x/f.png"), "A CT & MRI <image>", "Figure 2", "c", None, None, meta,
                        WhyMatched(0.31))


def test_empty_state_makes_no_query_and_text_plus_image_makes_two_terms():
    assert SearchState().to_query() is None
    assert SearchState(text="   ").to_query() is None
    image = QueryImage(label="x.png", path=Path("/tmp/x.png"))
    query = SearchState(text=" chest CT ", image=image, filters=SearchFilters(year_min=2010), min_score=0.2,
                        sort="year_desc").to_query()
    assert [(t.text, t.image) for t in query.terms] == [(None, Path("/tmp/x.png")), ("chest CT", None)]
    assert query.filters.year_min == 2010 and query.min_score == 0.2 and query.sort == "year_desc"


def test_only_the_newest_request_of_a_kind_is_current():
    tracker = RequestTracker()
    first = tracker.next("search")
    other = tracker.next("thumbs")
    second = tracker.next("search")
    assert not tracker.is_current("search", first)
    assert tracker.is_current("search", second) and tracker.is_current("thumbs", other)
    tracker.invalidate("search")
    assert not tracker.is_current("search", second)


def test_progress_text_has_count_rate_and_eta():
    assert describe_progress(1234, 5000, 42.0, 90) == "1,234 of 5,000 figures · 42 figures/s · about 1 min 30 s left"
    assert describe_progress(3, None, None, None) == "3 figures"
    assert format_eta(7300) == "about 2 h 01 min left"


def test_caption_highlight_escapes_html_and_marks_word_prefixes():
    out = highlight_caption("Fractures <b>of</b> the rib; CT shows fracture.", ["fracture", "ct"])
    assert "<b>of</b>" not in out and "&lt;b&gt;" in out
    assert out.count("background-color") == 3  # Fractures, CT, fracture


def test_ris_bibtex_and_attribution_carry_identifiers_and_licence():
    r = _result(pmcid="PMC123", doi="10.1/x_y", title="A & B", journal="J Imaging", year=2020, license="CC BY 4.0",
                license_url="https://creativecommons.org/licenses/by/4.0/")
    ris = to_ris(r)
    assert ris.startswith("TY  - JOUR\n") and ris.rstrip().endswith("ER  -")
    assert "DO  - 10.1/x_y" in ris and "UR  - https://pmc.ncbi.nlm.nih.gov/articles/PMC123/" in ris
    assert "Licence: CC BY 4.0" in ris
    bib = to_bibtex(r)
    assert bib.startswith("@article{PMC1232020,") and r"A \& B" in bib and "year = 2020" in bib
    text = attribution(r)
    assert "Figure 2" in text and "PMC123" in text and "doi:10.1/x_y" in text and "CC BY 4.0" in text


def test_attribution_without_licence_warns():
    assert "Licence unknown" in attribution(_result())
    assert bibtex_key(_result()) == "f7"  # a file figure: its file name and id
