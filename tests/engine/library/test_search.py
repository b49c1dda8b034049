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
    # The fake encoder's modality labels mean nothing; labelling every figure gives the Modality filter work to do.
    monkeypatch.setattr("engine.modality.MIN_CONFIDENCE", 0.0)
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
    return library.search(SearchQuery((QueryTerm("x"),), limit=100, hybrid=False, min_score=-1e9)).results


def _keys(page, ids) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id.get(r.figure_id, "mixed") for r in page.results]


def test_text_query_finds_the_right_colour(known_library):
    library, ids = known_library
    page = library.search(SearchQuery((QueryTerm("red"),), limit=2, hybrid=False))
    assert set(_keys(page, ids)) == {"f1", "f2"}
    assert all(r.why.similarity > 0.9 for r in page.results)
    assert page.results[0].article is not None and page.results[0].collection == "figures"


def test_keywords_lift_only_figures_whose_vectors_already_match(known_library):
    library, ids = known_library
    vector_only = library.search(SearchQuery((QueryTerm("red marker"),), limit=3, hybrid=False))
    assert "f3" not in _keys(vector_only, ids)  # f3 is a blue image: the vectors alone miss it
    hybrid = library.search(SearchQuery((QueryTerm("red marker"),), limit=10))
    keys = _keys(hybrid, ids)
    # f3's caption holds both words, but its image is blue: below the background, keywords cannot drag it in.
    assert "f3" not in keys
    assert keys[0] == "f1"  # red image and 'red' in its caption
    f1 = hybrid.results[0]
    assert f1.why.matched_terms == ("red",) and f1.why.vector_rank in (1, 2) and f1.why.keyword_bonus > 0
    assert f1.score == pytest.approx(f1.why.vector_score + f1.why.keyword_bonus)
    scores = [r.score for r in hybrid.results]
    assert scores == sorted(scores, reverse=True)  # one order: the score shown
    with_f3 = library.search(SearchQuery((QueryTerm("red marker"),), limit=10, min_score=-1e9))
    f3 = next(r for r in with_f3.results if r.figure_id == ids["f3"])
    assert f3.why.keyword_rank == 1 and f3.why.keyword_bonus == 0.0 and f3.why.matched_terms == ()
    assert f3.score == pytest.approx(f3.why.vector_score) and f3.why.vector_score < 1.0


def test_a_quoted_phrase_asks_for_keyword_matching(known_library):
    library, ids = known_library
    page = library.search(SearchQuery((QueryTerm('"red marker"'),), limit=10))
    assert _keys(page, ids) == ["f3"]  # only its caption holds the phrase, and it is returned though its image is blue
    assert page.results[0].why.keyword_bonus > 0 and page.verdict.level.value == "weak"
    assert "caption" in page.verdict.message
    assert library.search(SearchQuery((QueryTerm('"marker red"'),), limit=10)).results == ()


def test_filters_year_journal_pmcid_modality_collection(known_library, tmp_path):
    library, ids = known_library

    def run(**filters) -> set[str]:
        query = SearchQuery((QueryTerm("red"),), filters=SearchFilters(**filters), limit=50, min_score=-1e9)
        return set(_keys(library.search(query), ids))

    assert run(year_min=2012) == {"f2", "f3", "f4"}
    assert run(year_min=2012, year_max=2016) == {"f2"}
    assert run(journals=("Radiology",)) == {"f1", "f3", "f4"}
    assert run(pmcids=("3",)) == {"f3", "f4"}  # the prefix is optional
    labelled = [r for r in _everything(library) if r.modality is not None]
    assert labelled, "some figure should carry a confident modality label"
    modality = labelled[0].modality
    with_modality = run(modalities=(modality,))
    assert labelled[0].figure_id in {ids.get(k) for k in with_modality} | {
        r.figure_id for r in labelled if r.image_path.name == "mixed.png"
    }
    assert all(library.figure(ids[k]).modality == modality for k in with_modality if k in ids)
    only_this = library.collections()[0].id
    assert len(run(collection_ids=(only_this,))) == 7
    assert run(collection_ids=(only_this + 100,)) == set()


def test_min_score_sort_and_pagination(known_library):
    library, ids = known_library
    everything = library.search(SearchQuery((QueryTerm("red"),), min_score=-1e9, limit=50, hybrid=False))
    assert everything.total_candidates == 7
    cut = (everything.results[2].score + everything.results[3].score) / 2  # between the red ones and the rest
    strong = library.search(SearchQuery((QueryTerm("red"),), min_score=cut, limit=50, hybrid=False))
    assert set(_keys(strong, ids)) == {"f1", "f2", "mixed"} and strong.total_candidates == 3
    assert all(r.score >= cut for r in strong.results)
    above_all = library.search(SearchQuery((QueryTerm("red"),), min_score=everything.results[0].score + 2.5))
    assert above_all.results == () and above_all.total_candidates == 0  # the minimum can empty the list
    assert above_all.verdict.level.value == "strong"  # while the verdict still says what the library holds
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
        page = library.search(SearchQuery((QueryTerm("blue"),), filters=SearchFilters(year_max=2000), limit=5))
        assert len(page.results) == 5
        assert all(r.article.year == 1999 for r in page.results)


def test_very_common_query_words_are_left_out_of_the_keyword_search(known_library, monkeypatch):
    from engine.search import keywords
    from engine.search.keywords import KeywordQuery

    library, ids = known_library

    def hits(*words):
        with library._sessions() as session:
            return list(keywords.gather(session, KeywordQuery(words=words), 10, None).ranks)

    monkeypatch.setattr(keywords, "COMMON_WORD_MIN_MATCHES", 0)
    monkeypatch.setattr(keywords, "COMMON_WORD_SHARE", 0.2)  # 'red' is in 2 of 7 captions, 'marker' in 1
    assert hits("red", "marker") == [ids["f3"]]
    assert hits("red", "chest") == [ids["f1"]]
    monkeypatch.setattr(keywords, "COMMON_WORD_SHARE", 0.0)  # now every word is common
    assert hits("red", "marker") == [ids["f3"]]  # the rarest one is kept
