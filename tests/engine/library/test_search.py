"""Search on a hand-built library whose right answers are known (FakeEncoder: colours are concepts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import engine.ingest
from engine.search import searcher as searcher_module
from engine.types import ArticleMeta, FigureRecord, QueryTerm, SearchFilters, SearchQuery
from tests.engine.library.helpers import drain, new_library
from tests.fakes import COLOUR_RGB, FakeEncoder, solid_image

RADIOLOGY_2010 = ArticleMeta(pmcid="PMC1", title="Chest imaging", journal="Radiology", year=2010, license="CC BY")
PATHOLOGY_2015 = ArticleMeta(pmcid="PMC2", title="Tissue atlas", journal="Pathology", year=2015)
RADIOLOGY_2020 = ArticleMeta(pmcid="PMC3", title="Knee study", journal="Radiology", year=2020)

# key: (colour, caption, article)
FIGURES = {
    "f1": ("red", "Axial CT of the chest with a red tumour", RADIOLOGY_2010),
    "f2": ("red", "Histology slide, stained", PATHOLOGY_2015),
    "f3": ("blue", "MRI of the knee with a red marker", RADIOLOGY_2020),
    "f4": ("green", None, RADIOLOGY_2020),
    "f5": ("blue", "A blue bar chart", None),
    "f6": ("white", "Empty white background", None),
}


def _mixed_image() -> Image.Image:
    image = solid_image("red")
    for x in range(16, 32):
        for y in range(32):
            image.putpixel((x, y), COLOUR_RGB["blue"])
    return image


@pytest.fixture
def known_library(tmp_path, monkeypatch):
    folder = tmp_path / "figures"
    folder.mkdir()
    records = []
    for n, (key, (colour, caption, article)) in enumerate(sorted(FIGURES.items())):
        path = folder / f"{key}.png"
        solid_image(colour, speckle=n + 1).save(path)
        records.append(
            FigureRecord(key=key, image_path=path, caption=caption, label=f"Figure {n + 1}", article=article)
        )
    _mixed_image().save(folder / "mixed.png")
    records.append(FigureRecord(key="mixed", image_path=folder / "mixed.png", caption="Two colour panel"))

    def fake_iter_source(path, kind, *, work_dir):
        yield from records

    monkeypatch.setattr(engine.ingest, "iter_source", fake_iter_source)
    monkeypatch.setattr(engine.ingest, "estimate_count", lambda path, kind: len(records))
    encoder = FakeEncoder()
    library = new_library(tmp_path / "lib", encoder)
    collection = library.add_collection(folder, kind="folder")
    drain(library.ingest(collection.id))
    ids = {library.figure(r.figure_id).label: r.figure_id for r in _everything(library)}
    yield library, {key: ids[f"Figure {n + 1}"] for n, key in enumerate(sorted(FIGURES))}
    library.close()


def _everything(library):
    return library.search(SearchQuery((QueryTerm("x"),), limit=100, hybrid=False)).results


def _keys(page, ids) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id.get(r.figure_id, "mixed") for r in page.results]


def test_text_query_finds_the_right_colour(known_library):
    library, ids = known_library
    page = library.search(SearchQuery((QueryTerm("red"),), limit=2, hybrid=False))
    assert set(_keys(page, ids)) == {"f1", "f2"}
    assert all(r.why.similarity > 0.9 for r in page.results)
    assert page.results[0].article is not None and page.results[0].collection == "figures"


def test_hybrid_ranking_fuses_caption_keywords(known_library):
    library, ids = known_library
    vector_only = library.search(SearchQuery((QueryTerm("red marker"),), limit=3, hybrid=False))
    assert "f3" not in _keys(vector_only, ids)  # f3 is a blue image: the vectors alone miss it
    hybrid = library.search(SearchQuery((QueryTerm("red marker"),), limit=3))
    keys = _keys(hybrid, ids)
    assert keys[0] == "f1"  # red image and 'red' in its caption: both lists agree
    assert "f3" in keys  # its caption matches both words
    f3 = next(r for r in hybrid.results if r.figure_id == ids["f3"])
    assert f3.why.matched_terms == ("red", "marker") and f3.why.keyword_rank == 1
    assert f3.why.similarity < 0.2
    f1 = hybrid.results[0]
    assert f1.why.matched_terms == ("red",) and f1.why.vector_rank in (1, 2)
    assert f1.score == pytest.approx(1 / (60 + f1.why.vector_rank) + 1 / (60 + f1.why.keyword_rank))


def test_filters_year_journal_pmcid_modality_collection(known_library, tmp_path):
    library, ids = known_library

    def run(**filters) -> set[str]:
        page = library.search(SearchQuery((QueryTerm("red"),), filters=SearchFilters(**filters), limit=50))
        return set(_keys(page, ids))

    assert run(year_min=2012) == {"f2", "f3", "f4"}
    assert run(year_min=2012, year_max=2016) == {"f2"}
    assert run(journals=("Radiology",)) == {"f1", "f3", "f4"}
    assert run(pmcids=("3",)) == {"f3", "f4"}  # the prefix is optional
    modality = library.figure(ids["f1"]).modality
    assert modality is not None
    with_modality = run(modalities=(modality,))
    assert "f1" in with_modality
    assert all(library.figure(ids[k]).modality == modality for k in with_modality if k in ids)
    only_this = library.collections()[0].id
    assert len(run(collection_ids=(only_this,))) == 7
    assert run(collection_ids=(only_this + 100,)) == set()


def test_min_score_sort_and_pagination(known_library):
    library, ids = known_library
    strong = library.search(SearchQuery((QueryTerm("red"),), min_score=0.5, limit=50, hybrid=False))
    assert set(_keys(strong, ids)) == {"f1", "f2", "mixed"} and strong.total_candidates == 3
    by_year = library.search(SearchQuery((QueryTerm("red"),), sort="year_desc", limit=50))
    years = [r.article.year if r.article else None for r in by_year.results]
    known = [y for y in years if y is not None]
    assert known == sorted(known, reverse=True) and years[len(known) :] == [None] * (len(years) - len(known))
    whole = library.search(SearchQuery((QueryTerm("red"),), limit=7)).results
    pages = [library.search(SearchQuery((QueryTerm("red"),), offset=o, limit=3)).results for o in (0, 3, 6)]
    assert [r.figure_id for page in pages for r in page] == [r.figure_id for r in whole]


def test_combined_image_plus_text_query(known_library, tmp_path):
    library, ids = known_library
    red_path = tmp_path / "query.png"
    solid_image("red").save(red_path)
    only_image = library.search(SearchQuery((QueryTerm(image=red_path),), limit=1, hybrid=False))
    assert _keys(only_image, ids)[0] in {"f1", "f2"}
    plus_blue = library.search(
        SearchQuery((QueryTerm(image=red_path), QueryTerm(text="blue", weight=1.0)), limit=1, hybrid=False)
    )
    assert _keys(plus_blue, ids) == ["mixed"]
    minus_red = library.search(
        SearchQuery((QueryTerm(image=_mixed_image()), QueryTerm(text="red", weight=-0.8)), limit=2, hybrid=False)
    )
    assert set(_keys(minus_red, ids)) == {"f3", "f5"}  # the blue ones


def test_empty_or_cancelling_query_is_user_error(known_library):
    from engine.errors import UserInputError

    library, _ = known_library
    with pytest.raises(UserInputError):
        library.search(SearchQuery(()))
    with pytest.raises(UserInputError):
        library.search(SearchQuery((QueryTerm("red"), QueryTerm("red", weight=-1.0))))
    with pytest.raises(UserInputError):
        library.search(SearchQuery((QueryTerm(image=Path("/no/such/image.png")),)))


def test_similar_captions_figure_and_facets(known_library):
    library, ids = known_library
    similar = library.similar_to(ids["f1"], limit=2)
    assert ids["f1"] not in [r.figure_id for r in similar.results]
    assert _keys(similar, ids)[0] == "f2"

    captions = library.captions_for_image(solid_image("blue"), limit=2)
    assert captions[0].caption == "A blue bar chart" and captions[0].figure_id == ids["f5"]
    assert captions[0].score >= captions[1].score

    detail = library.figure(ids["f1"])
    assert detail.article == RADIOLOGY_2010 and detail.caption.startswith("Axial CT") and detail.score == 0.0

    facets = library.facets()
    assert facets.journals == ("Pathology", "Radiology")
    assert facets.years == (2010, 2020)
    assert facets.modalities and facets.collections[0].figures == 7
    assert library.info().articles == 3


@pytest.mark.parametrize("exact_limit", [0, 10**6])
def test_selective_filter_still_returns_k(tmp_path, monkeypatch, exact_limit):
    """A filter that keeps 5 of 300 figures returns those 5, by the ANN path and by the exact path."""
    monkeypatch.setattr(searcher_module, "EXACT_SEARCH_LIMIT", exact_limit)
    folder = tmp_path / "many"
    folder.mkdir()
    records = []
    for n in range(300):
        path = folder / f"{n}.png"
        solid_image("red" if n % 60 else "blue", speckle=n % 900 + 1).save(path)
        year = 1999 if n % 60 == 0 else 2020
        records.append(FigureRecord(key=str(n), image_path=path, article=ArticleMeta(pmcid=f"PMC{n}", year=year)))
    monkeypatch.setattr(engine.ingest, "iter_source", lambda path, kind, *, work_dir: iter(records))
    monkeypatch.setattr(engine.ingest, "estimate_count", lambda path, kind: len(records))
    with new_library(tmp_path / "lib", FakeEncoder()) as library:
        drain(library.ingest(library.add_collection(folder, kind="folder").id, batch_size=64))
        page = library.search(SearchQuery((QueryTerm("red"),), filters=SearchFilters(year_max=2000), limit=5))
        assert len(page.results) == 5
        assert all(r.article.year == 1999 for r in page.results)


def test_very_common_query_words_are_left_out_of_the_keyword_search(known_library, monkeypatch):
    library, ids = known_library
    monkeypatch.setattr(searcher_module, "COMMON_WORD_MIN_MATCHES", 0)
    monkeypatch.setattr(searcher_module, "COMMON_WORD_SHARE", 0.2)  # 'red' is in 2 of 7 captions, 'marker' in 1
    hits = library._searcher.keyword_hits(["red", "marker"], 10, None)
    assert hits == [ids["f3"]]
    assert library._searcher.keyword_hits(["red", "chest"], 10, None) == [ids["f1"]]
    monkeypatch.setattr(searcher_module, "COMMON_WORD_SHARE", 0.0)  # now every word is common
    assert library._searcher.keyword_hits(["red", "marker"], 10, None) == [ids["f3"]]  # the rarest one is kept
