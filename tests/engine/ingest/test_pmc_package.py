"""engine.ingest.pmc_package + archives: packages, cloud folders, bare .nxml, and hostile archives."""

from __future__ import annotations

import json
import tarfile

import pytest

from engine.errors import ArchiveError
from engine.ingest.archives import ArchiveLimits, safe_extract
from engine.ingest.figures import resolve_graphic
from engine.ingest.pmc_package import iter_pmc
from engine.types import FigureRecord, SourceProblem

from .fixtures import ARTICLE_NXML, add_bytes, image_bytes, write_article_folder, write_package

EXPECTED_KEYS = [
    "PMC3460867/pone-0046493-g001",
    "PMC3460867/F2",
    "PMC3460867/F3A",
    "PMC3460867/F3B",
    "PMC3460867/F7",
]


def split(items):
    return ([i for i in items if isinstance(i, FigureRecord)], [i for i in items if isinstance(i, SourceProblem)])


def check_article_records(records, problems):
    assert [r.key for r in records] == EXPECTED_KEYS
    by_id = {r.figure_id: r for r in records}
    assert by_id["pone-0046493-g001"].image_path.name == "pone.0046493.g001.jpg"  # the jpg, not the gif thumbnail
    assert by_id["F2"].image_path.name == "pone.0046493.g002.jpg"  # case-insensitive, path in href dropped
    assert by_id["F3A"].caption == "Western blots of liver tissue. Control lanes."
    assert by_id["F3B"].caption == "Western blots of liver tissue." and by_id["F3B"].label == "B"
    assert by_id["F7"].image_path.name == "pone.0046493.g007.gif"  # only a gif: still used
    for r in records:
        assert r.image_path.is_file()
        assert r.article.pmcid == "PMC3460867" and r.article.year == 2012
    messages = sorted(p.message for p in problems)
    assert len(problems) == 3
    assert any("no caption" in m for m in messages)
    assert any("media" in m for m in messages)
    assert any("not among" in m for m in messages)


def test_resolve_graphic_recipe(tmp_path):
    files = {n: tmp_path / n for n in ["a.g001.gif", "a.g001.jpg", "B.TIF", "c.g3.jpeg", "d.png", "e.tiff"]}
    assert resolve_graphic("a.g001", files).name == "a.g001.jpg"
    assert resolve_graphic("dir/a.g001.gif", files).name == "a.g001.gif"  # an exact name wins
    assert resolve_graphic("b", files).name == "B.TIF"
    assert resolve_graphic("c.g3.jpg", files).name == "c.g3.jpeg"  # same stem, other extension
    assert resolve_graphic("d", files).name == "d.png"
    assert resolve_graphic("e", files).name == "e.tiff"
    assert resolve_graphic("zzz", files) is None


def test_package_is_extracted_and_read(tmp_path):
    package = write_package(tmp_path / "PMC3460867.tar.gz")
    work = tmp_path / "work"
    records, problems = split(list(iter_pmc(package, work_dir=work)))
    check_article_records(records, problems)
    assert all(work in r.image_path.parents for r in records)
    extracted = {p.name for p in (work / "pmc-packages" / "PMC3460867").rglob("*") if p.is_file()}
    assert "pone.0046493.pdf" not in extracted and "pone.0046493.s001.doc" not in extracted
    again, _ = split(list(iter_pmc(package, work_dir=work)))  # a resumed run reuses the extraction
    assert [r.key for r in again] == EXPECTED_KEYS


def test_package_with_other_top_folder_name(tmp_path):
    package = write_package(tmp_path / "odd.tgz", top="some_other_name")
    records, _ = split(list(iter_pmc(package, work_dir=tmp_path / "w")))
    assert len(records) == 5


def test_bare_nxml_beside_images(tmp_path):
    nxml = write_article_folder(tmp_path / "article")
    check_article_records(*split(list(iter_pmc(nxml, work_dir=tmp_path / "w"))))
    check_article_records(*split(list(iter_pmc(nxml.parent, work_dir=tmp_path / "w"))))


def test_cloud_folder_with_metadata_json(tmp_path):
    folder = tmp_path / "PMC3460867.1"
    xml = ARTICLE_NXML.replace('<ali:license_ref specific-use="textmining" content-type="ccbylicense">', "<x>")
    xml = xml.replace("</ali:license_ref>", "</x>").replace("https://creativecommons.org/licenses/by/4.0/", "")
    xml = xml.replace('<article-id pub-id-type="pmc">3460867</article-id>', "")
    write_article_folder(folder, "PMC3460867.1.xml", xml)
    (folder / "PMC3460867.1.json").write_text(json.dumps({
        "pmcid": "PMC3460867", "version": 1, "doi": "10.1371/journal.pone.0046493", "license_code": "CC BY-NC",
        "is_pmc_openaccess": True, "media_urls": ["https://pmc-oa-opendata.s3.amazonaws.com/x?md5=1"],
    }))
    records, problems = split(list(iter_pmc(tmp_path, work_dir=tmp_path / "w")))
    check_article_records(records, problems)
    assert records[0].article.license == "CC BY-NC"  # the XML stated only free text: metadata fills the code


def test_folder_of_packages_and_duplicates_get_distinct_keys(tmp_path):
    (tmp_path / "dl" / "08" / "e0").mkdir(parents=True)
    write_package(tmp_path / "dl" / "08" / "e0" / "PMC3460867.tar.gz")
    write_article_folder(tmp_path / "dl" / "loose")
    records, _ = split(list(iter_pmc(tmp_path / "dl", work_dir=tmp_path / "w")))
    keys = [r.key for r in records]
    assert len(keys) == 10 and len(set(keys)) == 10


def test_corrupt_xml_in_package_is_a_problem(tmp_path):
    package = write_package(tmp_path / "bad.tar.gz", xml="<article><front>")
    records, problems = split(list(iter_pmc(package, work_dir=tmp_path / "w")))
    assert not records and len(problems) == 1 and "bad.tar.gz" in problems[0].path


# --------------------------------------------------------------------------------------------------- hostile tars


def hostile_tar(path, build):
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, "PMC1/a.nxml", ARTICLE_NXML.encode())
        build(tar)
    return path


def _symlink(tar):
    info = tarfile.TarInfo("PMC1/link.jpg")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar.addfile(info)


def _hardlink(tar):
    info = tarfile.TarInfo("PMC1/hard.jpg")
    info.type, info.linkname = tarfile.LNKTYPE, "PMC1/a.nxml"
    tar.addfile(info)


def _device(tar):
    info = tarfile.TarInfo("PMC1/dev")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    tar.addfile(info)


def _fifo(tar):
    info = tarfile.TarInfo("PMC1/fifo")
    info.type = tarfile.FIFOTYPE
    tar.addfile(info)


@pytest.mark.parametrize(
    "build,reason",
    [
        (lambda t: add_bytes(t, "../escape.jpg", image_bytes()), "outside"),
        (lambda t: add_bytes(t, "PMC1/../../escape.jpg", image_bytes()), "outside"),
        (lambda t: add_bytes(t, "/tmp/abs.jpg", image_bytes()), "absolute"),
        (_symlink, "link"),
        (_hardlink, "link"),
        (_device, "device"),
        (_fifo, "device"),
    ],
)
def test_hostile_archives_are_refused_whole(tmp_path, build, reason):
    archive = hostile_tar(tmp_path / "evil.tar.gz", build)
    dest = tmp_path / "w" / "evil"
    with pytest.raises(ArchiveError, match=reason):
        safe_extract(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path / "w" / "escape.jpg").exists()
    # Through the reader it is one reported problem, not an exception.
    records, problems = split(list(iter_pmc(archive, work_dir=tmp_path / "w2")))
    assert not records and len(problems) == 1 and reason in problems[0].message


def test_size_and_count_limits(tmp_path):
    archive = hostile_tar(tmp_path / "big.tar.gz", lambda t: add_bytes(t, "PMC1/big.jpg", b"\0" * 5000))
    with pytest.raises(ArchiveError, match="over"):
        safe_extract(archive, tmp_path / "a", limits=ArchiveLimits(max_member_bytes=4000))
    with pytest.raises(ArchiveError, match="in total"):
        safe_extract(archive, tmp_path / "b", limits=ArchiveLimits(max_total_bytes=6000))
    with pytest.raises(ArchiveError, match="members"):
        safe_extract(archive, tmp_path / "c", limits=ArchiveLimits(max_members=1))
    assert len(safe_extract(archive, tmp_path / "d")) == 2


def test_corrupt_archive_and_foreign_destination(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b not gzip at all")
    with pytest.raises(ArchiveError, match="corrupt"):
        safe_extract(bad, tmp_path / "x")
    good = write_package(tmp_path / "g.tar.gz")
    foreign = tmp_path / "users-folder"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(ArchiveError, match="not ours"):
        safe_extract(good, foreign)
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_truncated_gzip_is_refused(tmp_path):
    good = write_package(tmp_path / "g.tar.gz").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ArchiveError):
        safe_extract(cut, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_plain_tar_and_dot_slash_names(tmp_path):
    path = tmp_path / "p.tar"
    with tarfile.open(path, "w") as tar:
        add_bytes(tar, "./PMC9/a.nxml", ARTICLE_NXML.encode())
        add_bytes(tar, "./PMC9/pone.0046493.g001.jpg", image_bytes())
    files = safe_extract(path, tmp_path / "out")
    assert sorted(f.relative_to(tmp_path / "out").as_posix() for f in files) == [
        "PMC9/a.nxml", "PMC9/pone.0046493.g001.jpg"]
    assert all(f.is_file() for f in files)
