"""A repeated query is answered from the library's recent pages, and never with a page the catalog has outgrown."""

from __future__ import annotations

from engine.library import Library
from engine.types import QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, new_library, write_images

EVERYTHING = -1e9  # min_score: every figure, whatever the verdict


def _counting(library: Library) -> list[int]:
    """Count the searches that reach the ranking (the cache answers the others)."""
    calls: list[int] = []
    search = library._searcher.search

    def counted(request):
        calls.append(1)
        return search(request)

    library._searcher.search = counted
    return calls


def _red(limit: int = 50) -> SearchQuery:
    return SearchQuery((QueryTerm("red"),), limit=limit, min_score=EVERYTHING)


def test_a_repeated_query_is_served_from_recent_pages_until_the_catalog_changes(tmp_path):
    write_images(tmp_path / "src", {"a.png": "red", "b.png": "blue"})
    library = new_library(tmp_path / "lib")
    with library:
        collection = library.add_collection(tmp_path / "src")
        drain(library.ingest(collection.id))
        library.search(SearchQuery((QueryTerm("blue"),)))  # the first search stores the null prompts' vectors: a commit
        calls = _counting(library)
        first = library.search(_red())
        again = library.search(_red())
        assert len(calls) == 1  # the second answer did not rank anything
        assert again.results == first.results and again.verdict == first.verdict
        assert library.search(_red(limit=1)).results == first.results[:1] and len(calls) == 2  # another query

        write_images(tmp_path / "src", {"c.png": "red"}, speckle_from=10)
        drain(library.ingest(collection.id))  # commits: every page is outdated
        after = library.search(_red())
        assert len(calls) == 3
        assert {r.image_path.name for r in after.results} == {"a.png", "b.png", "c.png"}

        library.remove_collection(collection.id)
        assert library.search(_red()).results == () and len(calls) == 4


def test_image_queries_and_read_only_libraries_are_not_cached(tmp_path):
    write_images(tmp_path / "src", {"a.png": "red", "b.png": "blue"})
    library = new_library(tmp_path / "lib")
    with library:
        drain(library.ingest(library.add_collection(tmp_path / "src").id))
        calls = _counting(library)
        image_query = SearchQuery((QueryTerm(image=tmp_path / "src" / "a.png"),), min_score=EVERYTHING)
        library.search(image_query)
        library.search(image_query)
        assert len(calls) == 2  # the file may have changed between the two
    with Library.open(tmp_path / "lib", read_only=True) as view:  # another process may be writing
        view.attach_encoder(library.encoder)
        calls = _counting(view)
        view.search(_red())
        view.search(_red())
        assert len(calls) == 2


def test_a_page_computed_across_a_commit_is_not_kept(tmp_path):
    write_images(tmp_path / "src", {"a.png": "red"})
    library = new_library(tmp_path / "lib")
    with library:
        collection = library.add_collection(tmp_path / "src")
        drain(library.ingest(collection.id))
        library.search(SearchQuery((QueryTerm("blue"),)))  # the null prompts' vectors are stored now
        search = library._searcher.search
        calls: list[int] = []

        def commit_meanwhile(request):  # an ingest batch commits while this search runs
            calls.append(1)
            page = search(request)
            if len(calls) == 1:
                library.add_collection(tmp_path)  # any commit
            return page

        library._searcher.search = commit_meanwhile
        library.search(_red())
        library.search(_red())
        assert len(calls) == 2  # the first page was not stored: it may show the catalog before the commit
        library.search(_red())
        assert len(calls) == 2
