"""Collections of several sources, incomplete runs that can be resumed, pauses without a stale rate, browsing,
and the article facts a complete citation needs, stored and read back."""

from __future__ import annotations

from engine.progress import run_to_end
from tests.engine.ingest.fixtures import ARTICLE_NXML, write_package

from .helpers import drain, new_library, write_images

SECOND_ARTICLE = (
    ARTICLE_NXML.replace('pub-id-type="pmc">3460867', 'pub-id-type="pmc">3460999')
    .replace("<article-id pub-id-type=\"pmid\">23029536</article-id>", "")
    .replace("10.1371/journal.pone.0046493</article-id>", "10.1371/journal.pone.0099999</article-id>")
    .replace(
        "</title-group>",
        '</title-group><contrib-group><contrib contrib-type="author"><name><surname>Smith</surname>'
        "<given-names>Jane</given-names></name></contrib></contrib-group>",
    )
    .replace("</permissions>", "</permissions><volume>7</volume><issue>9</issue><fpage>e46493</fpage>")
)


def test_packages_imported_together_form_one_collection_with_per_article_counts(tmp_path):
    first = write_package(tmp_path / "PMC3460867.tar.gz")
    second = write_package(tmp_path / "PMC3460999.tar.gz", top="PMC3460999", xml=SECOND_ARTICLE)
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection([first, second], name="Pleural effusion reading")
        assert (collection.name, collection.kind, collection.sources) == (
            "Pleural effusion reading", "pmc", (str(first), str(second))
        )
        assert collection.status == "incomplete"  # nothing indexed yet
        _, report = drain(library.ingest(collection.id))
        # Five captioned figures each; both packages hold the same image bytes, so the second reuses every vector.
        assert (report.added, report.reused) == (5, 5)
        (info,) = library.collections()
        assert (info.figures, info.articles, info.status) == (10, 2, "complete")
        # The same sources again are the same collection, not a second one.
        assert library.add_collection([first, second]).id == collection.id
        smith = [library.figure(r.figure_id) for r in library.browse(collection.id).results]
        cited = {r.article.pmcid: r.article for r in smith}
        assert cited["PMC3460999"].authors == ("Smith, Jane",)
        assert (cited["PMC3460999"].volume, cited["PMC3460999"].issue, cited["PMC3460999"].pages) == ("7", "9",
                                                                                                        "e46493")
        assert cited["PMC3460867"].authors == ()


def test_folders_with_the_same_file_names_keep_their_figures_apart(tmp_path):
    write_images(tmp_path / "a", {"x.png": "red", "y.png": "green"})
    write_images(tmp_path / "b", {"x.png": "blue", "y.png": "white"}, speckle_from=10)
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection([tmp_path / "a", tmp_path / "b"], kind="folder", name="both")
        drain(library.ingest(collection.id))
        assert library.collections()[0].figures == 4
        assert sorted(r.image_path.parent.name for r in library.browse(collection.id).results) == ["a", "a", "b", "b"]
        # One source gone: the other is still read, and nothing of the gone one is swept.
        for path in (tmp_path / "b").iterdir():
            path.unlink()
        (tmp_path / "b").rmdir()
        progress, report = drain(library.ingest(collection.id))
        assert any("gone" in p.message for p in report.problems)
        assert library.collections()[0].figures == 4 and library.collections()[0].status == "incomplete"


def test_a_cancelled_run_leaves_the_collection_incomplete_and_resuming_completes_it(tmp_path):
    write_images(tmp_path / "f", {f"{i:02d}.png": "red" for i in range(12)})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(tmp_path / "f")
        steps = library.ingest(collection.id, cancel=lambda: True, batch_size=4)
        report = run_to_end(steps, lambda _p: None)
        assert report.cancelled
        info = library.collections()[0]
        assert info.status == "incomplete" and 0 < info.figures < 12
        _, report = drain(library.ingest(collection.id, batch_size=4))
        assert not report.cancelled and report.reused == info.figures  # resumed: nothing encoded twice
        assert library.collections()[0].status == "complete" and library.collections()[0].figures == 12


def test_a_pause_is_reported_and_the_rate_starts_afresh_after_it(tmp_path):
    write_images(tmp_path / "f", {f"{i:02d}.png": "red" for i in range(16)})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(tmp_path / "f")
        paused = {"left": 2}  # paused for two polls after the second batch

        def pause() -> bool:
            if seen and sum(p.phase == "encoding" for p in seen) == 2 and paused["left"]:
                paused["left"] -= 1
                return True
            return False

        seen: list = []
        run_to_end(library.ingest(collection.id, pause=pause, batch_size=4), seen.append)
        phases = [p.phase for p in seen]
        after = phases.index("paused")
        assert phases[after - 1] == "encoding" and seen[after + 1].phase == "encoding"
        assert seen[after + 1].rate is None and seen[after + 1].eta_seconds is None  # no rate from before the pause
        assert seen[after - 1].rate is not None


def test_browse_pages_through_a_collection_in_reading_order(tmp_path):
    write_images(tmp_path / "f", {f"{i:02d}.png": "red" for i in range(7)})
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(tmp_path / "f")
        drain(library.ingest(collection.id))
        page = library.browse(collection.id, offset=0, limit=5)
        rest = library.browse(collection.id, offset=5, limit=5)
        assert page.total_candidates == 7 and len(page.results) == 5 and len(rest.results) == 2
        names = [r.image_path.name for r in page.results + rest.results]
        assert names == sorted(names) and len(set(names)) == 7
