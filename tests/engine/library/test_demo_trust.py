"""Issue 9's examples on the bundled demo model and demo library: every number and label on a result means something.

The demo library is built once for this module (about 10 s): the 121 bundled figures, plus a second collection that
holds copies of five of them (the same image in two collections must come back once).
"""

from __future__ import annotations

import shutil

import pytest

from app.match_text import modality_text, percent
from engine import paths
from engine.modality import MIN_CONFIDENCE
from engine.types import MatchLevel, QueryTerm, ScoreScale, SearchFilters, SearchQuery

needs_bundle = pytest.mark.skipif(
    not (paths.resource_path("demo-model") / "config.json").is_file(), reason="resources/demo-model is not bundled"
)
pytestmark = needs_bundle

COPIED = ("gel_electrophoresis-03", "chest_radiograph-02", "bar_chart-05", "ecg_trace-01", "pie_chart-07")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from app.demo import build_demo_library, demo_model_spec
    from engine.progress import run_to_end

    root = tmp_path_factory.mktemp("demo-trust")
    library = build_demo_library(root / "library", demo_model_spec(), figures_dir=root / "figures")
    copies = root / "copies"
    copies.mkdir()
    for stem in COPIED:
        for suffix in (".jpg", ".txt"):
            shutil.copyfile(root / "figures" / f"{stem}{suffix}", copies / f"{stem}{suffix}")
    run_to_end(library.ingest(library.add_collection(copies, kind="folder", name="Copies").id))
    yield library
    library.close()


def search(library, text, **options):
    return library.search(SearchQuery((QueryTerm(text),), **{"limit": 200, **options}))


def kind(result) -> str:
    return result.image_path.name.rsplit("-", 1)[0]


@pytest.mark.parametrize("text", ["zzqxv", "radiograhp", "", "   ", "胸部 X線", "Грудная клетка", "the of", "123"])
def test_nonsense_empty_and_unknown_script_queries_get_none_and_at_most_three_results(demo, text):
    page = search(demo, text)
    assert page.verdict.level is MatchLevel.NONE, page.verdict
    assert len(page.results) <= 3 and all(r.match is MatchLevel.NONE for r in page.results)
    assert page.verdict.message.count(".") == 1 and page.verdict.message.startswith(("No clear match", "The query"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("chest radiograph", "chest_radiograph"), ("western blot", "gel_electrophoresis"),
     ("fluorescence micrograph with green cells", "fluorescence_micrograph"), ("scatter plot", "scatter_plot"),
     ("flow diagram", "flow_diagram")],
)
def test_the_demo_vocabulary_gives_strong_top_results_of_the_right_kind(demo, text, expected):
    page = search(demo, text)
    assert page.verdict.level is MatchLevel.STRONG and page.verdict.scale is ScoreScale.STRENGTH
    top = page.results[:5]
    assert all(r.match is MatchLevel.STRONG for r in top)
    assert [kind(r) for r in top] == [expected] * 5
    # Fewer than a full grid: results end where the matches end, not at the limit.
    assert len(page.results) < 121


def test_a_misspelling_no_longer_beats_the_word(demo):
    right, wrong = search(demo, "radiograph"), search(demo, "radiograhp")
    assert right.verdict.level is MatchLevel.STRONG and wrong.verdict.level is MatchLevel.NONE
    assert right.verdict.best_score > wrong.verdict.best_score + 1.0


@pytest.mark.parametrize("text", ["gel with 6 lanes", "bar chart", "chest radiograph", "zzqxv"])
def test_results_are_ordered_by_the_score_they_show(demo, text):
    for hybrid in (True, False):
        results = search(demo, text, hybrid=hybrid, min_score=-1e9).results
        scores = [r.score for r in results]
        assert scores == sorted(scores, reverse=True)
        for r in results:  # the shown score is the vector's strength plus what keywords added, nothing else
            assert r.score == pytest.approx(r.why.vector_score + r.why.keyword_bonus, abs=1e-6)
            assert -1.0 <= r.why.similarity <= 1.0 and r.why.background is not None  # the raw similarity is kept


def test_a_bare_digit_never_drags_in_unrelated_figures(demo):
    """"gel with 6 lanes": bar charts captioned "6 purple bars" must not rise on the digit."""
    page = search(demo, "gel with 6 lanes")
    assert all(kind(r) == "gel_electrophoresis" for r in page.results[:5])
    assert all("6" not in r.why.matched_terms for r in page.results)
    assert "6" in page.verdict.ignored_words and "with" in page.verdict.ignored_words
    charts = search(demo, "gel with 6 lanes", filters=SearchFilters(modalities=("Chart / plot",)), min_score=-1e9)
    assert charts.results, "the demo library labels some bar charts as charts"
    assert all(r.why.keyword_bonus == 0.0 and r.why.matched_terms == () for r in charts.results)
    default = search(demo, "gel with 6 lanes", filters=SearchFilters(modalities=("Chart / plot",)))
    assert default.verdict.level is MatchLevel.NONE and len(default.results) <= 3  # nothing there stands out


def test_keyword_evidence_is_bm25_weighted_and_gated_by_the_background(demo):
    page = search(demo, "western blot", min_score=-1e9)
    lifted = [r for r in page.results if r.why.keyword_bonus > 0]
    assert lifted and all(r.why.vector_score >= 1.0 for r in lifted)  # only above the background level
    assert all(0 < r.why.keyword_bonus <= 2.0 for r in lifted)
    unlifted_matches = [r for r in page.results if r.why.keyword_rank and not r.why.keyword_bonus]
    assert all(r.why.vector_score < 1.0 for r in unlifted_matches)


def test_unknown_words_are_named(demo):
    page = search(demo, "chest radiograph pneumothorax")
    assert page.verdict.unknown_words == ("pneumothorax",)
    assert page.verdict.level is MatchLevel.STRONG  # the words the model knows still find chest films
    alone = search(demo, "pneumothorax")
    assert alone.verdict.level is MatchLevel.NONE and "does not know pneumothorax" in alone.verdict.message
    assert search(demo, "lanes").verdict.unknown_words == ()


def test_modality_labels_are_probabilities_never_100_percent_and_the_filter_trusts_only_confident_ones(demo):
    everything = search(demo, "x", min_score=-1e9).results
    assert everything
    texts = [modality_text(r) for r in everything]
    assert not any("100%" in t for t in texts)
    assert all(r.modality_confidence is not None and 0 < r.modality_confidence < 1 for r in everything)
    assert any(t.startswith("Unclassified") for t in texts) or all(r.modality for r in everything)
    assert all(r.modality is None or r.modality_confidence >= MIN_CONFIDENCE for r in everything)
    # The demo model cannot read "CT", so no figure is called CT (it called bar charts "CT (100%)" before).
    assert not any(r.modality == "CT" for r in everything)
    assert percent(0.9999) == "99%" and percent(0.5) == "50%"
    for label in demo.facets().modalities:
        filtered = search(demo, "x", filters=SearchFilters(modalities=(label,)), min_score=-1e9).results
        assert filtered and all(r.modality == label and r.modality_confidence >= MIN_CONFIDENCE for r in filtered)


def test_the_same_image_in_two_collections_is_one_result_naming_both(demo):
    results = search(demo, "x", min_score=-1e9).results
    paths = [r.image_path.name for r in results]
    assert len(paths) == len(set(paths)) == 121  # 126 figures, 5 of them copies
    by_name = {r.image_path.name: r for r in results}
    for stem in COPIED:
        assert set(by_name[f"{stem}.jpg"].collections) == {"Demo figures", "Copies"}
    gels = search(demo, "western blot").results
    assert len({r.image_path.name for r in gels}) == len(gels)


def test_image_queries_are_on_their_own_scale_and_find_similar_leaves_the_figure_out(demo, tmp_path):
    everything = search(demo, "x", min_score=-1e9).results
    source = next(r for r in everything if r.image_path.name == "gel_electrophoresis-03.jpg")
    similar = demo.similar_to(source.figure_id, limit=50)
    assert similar.verdict.scale is ScoreScale.CLOSENESS
    names = [r.image_path.name for r in similar.results]
    assert "gel_electrophoresis-03.jpg" not in names  # neither the figure nor its copy in "Copies"
    assert all(r.score <= 100.0 for r in similar.results)
    # A dropped file with the same bytes is "identical"; other figures never are.
    dropped = tmp_path / "dropped.jpg"
    shutil.copyfile(source.image_path, dropped)
    page = demo.search(SearchQuery((QueryTerm(image=dropped),), limit=50))
    assert page.results[0].image_path.name == "gel_electrophoresis-03.jpg"
    assert page.results[0].match is MatchLevel.IDENTICAL
    assert sum(r.match is MatchLevel.IDENTICAL for r in page.results) == 1
    assert set(page.results[0].collections) == {"Demo figures", "Copies"}
    assert all(r.match is not MatchLevel.IDENTICAL for r in page.results[1:])
    scores = [r.score for r in page.results]
    assert scores == sorted(scores, reverse=True) and all(s <= 100.0 for s in scores)


def test_describe_lists_the_captions_that_fit_a_figure_with_their_figures(demo):
    gel = next(r for r in search(demo, "western blot").results if kind(r) == "gel_electrophoresis")
    by_id = demo.captions_for_image(gel.figure_id, limit=8)
    assert len(by_id) == 8
    assert [m.score for m in by_id] == sorted((m.score for m in by_id), reverse=True)
    assert all(m.image_path is not None and m.image_path.is_file() for m in by_id)
    assert sum("gel" in m.caption.lower() or "blot" in m.caption.lower() for m in by_id[:5]) >= 4
    by_file = demo.captions_for_image(gel.image_path, limit=8)
    assert [m.caption for m in by_file][:3] == [m.caption for m in by_id][:3]  # the same image, the same answer
