"""Real source formats through the whole library: a PMC .tar.gz package (JATS) and a PMC-OA jsonl."""

from __future__ import annotations

import io
import json
import tarfile

from engine.types import QueryTerm, SearchFilters, SearchQuery
from tests.engine.library.helpers import drain, new_library
from tests.fakes import FakeEncoder, solid_image

NXML = """<?xml version="1.0" encoding="UTF-8"?>
<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="research-article">
<front>
 <journal-meta><journal-title-group><journal-title>Radiology Cases</journal-title></journal-title-group></journal-meta>
 <article-meta>
  <article-id pub-id-type="pmc">PMC123456</article-id>
  <article-id pub-id-type="pmid">31234567</article-id>
  <article-id pub-id-type="doi">10.1000/example.1</article-id>
  <title-group><article-title>Imaging of pleural effusion</article-title></title-group>
  <pub-date pub-type="epub"><year>2019</year></pub-date>
  <permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/">
   <license-p>This article is distributed under CC BY 4.0.</license-p></license></permissions>
 </article-meta>
</front>
<body>
 <fig id="f1"><label>Figure 1</label><caption><p>Chest radiograph with a large red effusion.</p></caption>
  <graphic xlink:href="fig1"/></fig>
 <fig id="f2"><label>Figure 2</label><caption><p>An image that is not in the package.</p></caption>
  <graphic xlink:href="missing"/></fig>
</body>
</article>
"""


def _package(path) -> None:
    image = io.BytesIO()
    solid_image("red", speckle=5).save(image, format="JPEG")
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("PMC123456/article.nxml", NXML.encode()), ("PMC123456/fig1.jpg", image.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_pmc_package_ingests_article_metadata_and_reports_missing_graphics(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    _package(packages / "PMC123456.tar.gz")
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        collection = library.add_collection(packages)
        assert collection.kind == "pmc"
        _, report = drain(library.ingest(collection.id))
        assert report.added == 1 and report.failed >= 1
        assert any("missing" in p.message or "missing" in p.path for p in report.problems)
        page = library.search(
            SearchQuery((QueryTerm("red effusion"),), filters=SearchFilters(pmcids=("PMC123456",)), limit=5)
        )
        (result,) = page.results
        assert result.label == "Figure 1" and "red effusion" in result.caption
        assert result.why.matched_terms == ("red", "effusion")  # a red image: its caption words count
        article = result.article
        assert (article.pmcid, article.pmid, article.doi) == ("PMC123456", "31234567", "10.1000/example.1")
        assert (article.journal, article.year) == ("Radiology Cases", 2019)
        assert article.title == "Imaging of pleural effusion"
        assert article.license and "BY" in article.license
        assert result.image_path.is_relative_to(tmp_path / "lib" / "media")  # extracted into the library
        _, again = drain(library.ingest(collection.id))
        assert again.added == 0 and again.reused == 1 and encoder.images_encoded == 1


def test_pmc_oa_jsonl_with_a_broken_line(tmp_path):
    root = tmp_path / "pmc_oa"
    images = root / "images"
    images.mkdir(parents=True)
    rows = []
    for n, colour in enumerate(["red", "green", "blue"]):
        solid_image(colour, speckle=n + 1).save(images / f"PMC{n}_fig{n}.jpg")
        rows.append(json.dumps({"image": f"PMC{n}_fig{n}.jpg", "caption": f"A {colour} panel", "pmcid": f"PMC{n}"}))
    rows.insert(1, "{not json")
    (root / "train.jsonl").write_text("\n".join(rows) + "\n")
    with new_library(tmp_path / "lib") as library:
        collection = library.add_collection(root)
        assert collection.kind == "pmc-oa"
        _, report = drain(library.ingest(collection.id))
        assert report.added == 3 and report.failed == 1
        top = library.search(SearchQuery((QueryTerm("green"),), limit=1)).results[0]
        assert top.caption == "A green panel" and top.article.pmcid == "PMC1"
