"""engine.ingest.datasets and the ingest entry points: PMC-OA jsonl, ROCO, kind detection, counts."""

from __future__ import annotations

import json

import pytest

from engine.errors import UserInputError
from engine.ingest import detect_source_kind, estimate_count, iter_source
from engine.ingest.datasets import estimate_lines, iter_pmc_oa, iter_roco
from engine.types import FigureRecord, SourceProblem

from .fixtures import image_bytes, write_article_folder, write_package


def split(items):
    return ([i for i in items if isinstance(i, FigureRecord)], [i for i in items if isinstance(i, SourceProblem)])


@pytest.fixture
def pmc_oa(tmp_path):
    root = tmp_path / "pmc_oa"
    sub = root / "images" / "caption_T060_filtered_top4_sep_v0_subfigures"
    sub.mkdir(parents=True)
    for name in ("PMC212319_Fig3_4.jpg", "PMC1_F1_0.jpg", "PMC2_F2_1.jpg"):
        (sub / name).write_bytes(image_bytes())
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "PMC3_F1_0.jpg").write_bytes(image_bytes())
    rows = [
        json.dumps({"image": "PMC212319_Fig3_4.jpg", "caption": "A. Real time image\u2028of cells.",
                    "alignment_type": "x", "alignment_score": 0.9}, ensure_ascii=False),
        json.dumps({"image": "PMC1_F1_0.jpg", "caption": "CT scan", "pmcid": "PMC999", "url_name": "a-1.jpg"}),
        '{"image": "PMC2_F2_1.jpg", "caption": broken json',
        "",
        json.dumps({"caption": "no image key"}),
        json.dumps({"image": "missing.jpg", "caption": "gone"}),
        json.dumps({"image": "../../etc/passwd", "caption": "escape"}),
        json.dumps({"image": "PMC3_F1_0.jpg", "caption": "found by name"}),
    ]
    (root / "pmc_oa.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_pmc_oa_rows_stream_with_line_numbered_problems(pmc_oa):
    records, problems = split(list(iter_pmc_oa(pmc_oa / "pmc_oa.jsonl")))
    assert [r.key for r in records] == ["PMC212319_Fig3_4.jpg", "PMC1_F1_0.jpg"]
    first = records[0]
    assert first.caption == "A. Real time image of cells."  # a raw U+2028 inside a row does not split it
    assert first.article.pmcid == "PMC212319"  # from the image name when the row has no pmcid
    assert records[1].article.pmcid == "PMC999"
    assert all(r.image_path.parent.name == "caption_T060_filtered_top4_sep_v0_subfigures" for r in records)
    assert all(r.image_path.is_file() for r in records)
    lines = sorted(int(p.path.rsplit(":", 1)[1]) for p in problems)
    # With the images.zip layout present, an image outside it counts as missing (line 8), not searched for.
    assert lines == [3, 5, 6, 7, 8]


def test_pmc_oa_without_the_zip_layout_finds_images_by_name(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "PMC7_F1_0.jpg").write_bytes(image_bytes())
    (tmp_path / "rows.jsonl").write_text(json.dumps({"image": "PMC7_F1_0.jpg", "caption": "x"}) + "\n")
    records, problems = split(list(iter_pmc_oa(tmp_path / "rows.jsonl")))
    assert not problems and records[0].image_path == tmp_path / "a" / "b" / "PMC7_F1_0.jpg"


def test_pmc_oa_folder_source_and_estimate(pmc_oa):
    assert detect_source_kind(pmc_oa) == "pmc-oa"
    assert detect_source_kind(pmc_oa / "pmc_oa.jsonl") == "pmc-oa"
    records, _ = split(list(iter_source(pmc_oa, "pmc-oa", work_dir=pmc_oa / "w")))
    assert len(records) == 2
    assert estimate_count(pmc_oa, "pmc-oa") == 8


def test_estimate_lines_extrapolates_large_files(tmp_path):
    path = tmp_path / "big.jsonl"
    line = json.dumps({"image": "x.jpg", "caption": "y" * 80}) + "\n"
    path.write_text(line * 30000)
    assert estimate_lines(path, sample_bytes=1 << 16) == pytest.approx(30000, rel=0.01)


@pytest.fixture
def roco(tmp_path):
    root = tmp_path / "roco-dataset"
    rad = root / "data" / "test" / "radiology"
    non = root / "data" / "validation" / "non-radiology"
    for folder in (rad, non):
        folder.mkdir(parents=True)
    (rad / "images").mkdir()
    (rad / "captions.txt").write_text(
        "ROCO_00001\t Axial MRI (coronal view).\n"
        "ROCO_00006\t Coronal plain computed tomography image \u2013 liver.\n"
        "ROCO_81798\t Cholangiography showing the metallic stent.\n"
        "garbage line without tab\n", encoding="utf-8")
    (rad / "licences.txt").write_text(
        "ROCO_ID,PMC_ID,CC\nROCO_00001,PMC4608653_cro-0008-0385-g01.jpg,CC BY-NC\n"
        "ROCO_00006,PMC5_ol-11-05-3298-g02.jpg,CC BY\nROCO_81798,PMC6_x.jpg,CC0\n")
    (rad / "dlinks.txt").write_text(
        "ROCO_00001\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/8d/34/PMC4608653.tar.gz -P /path/to/Dir"
        "\tcro-0008-0385-g01.jpg\n")
    (rad / "keywords.txt").write_text("ROCO_00001\t\taxial\tcoronal\tmri\tview\n")
    (rad / "images" / "ROCO_00001.jpg").write_bytes(image_bytes())  # the current naming
    (rad / "images" / "PMC5_ol-11-05-3298-g02.jpg").write_bytes(image_bytes())  # the pre-2022 naming
    (non / "captions.txt").write_text("ROCO_81826\t A bar chart.\n")  # images never fetched
    return root


def test_roco_reads_both_image_namings_and_licences(roco):
    records, problems = split(list(iter_roco(roco)))
    by_key = {r.key: r for r in records}
    assert list(by_key) == ["ROCO_00001", "ROCO_00006"]
    first = by_key["ROCO_00001"]
    assert first.caption == "Axial MRI (coronal view)."
    assert first.article.pmcid == "PMC4608653" and first.article.license == "CC BY-NC"
    assert first.figure_id == "cro-0008-0385-g01.jpg"
    assert by_key["ROCO_00006"].caption == "Coronal plain computed tomography image \u2013 liver."
    assert by_key["ROCO_00006"].image_path.name == "PMC5_ol-11-05-3298-g02.jpg"
    messages = " | ".join(p.message for p in problems)
    assert "ROCO_81798" in messages and "not '<ROCO id><TAB><caption>'" in messages
    assert "fetch the images" in messages  # the non-radiology folder, reported once, not per line
    assert len(problems) == 3


def test_roco_detection_and_estimate(roco):
    assert detect_source_kind(roco) == "roco"
    assert detect_source_kind(roco / "data" / "test" / "radiology") == "roco"
    assert estimate_count(roco, "roco") == 5


def test_detect_folder_and_pmc(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "x.png").write_bytes(image_bytes(fmt="PNG"))
    assert detect_source_kind(folder) == "folder"
    assert detect_source_kind(folder / "x.png") == "folder"
    assert detect_source_kind(write_package(tmp_path / "PMC1.tar.gz")) == "pmc"
    nxml = write_article_folder(tmp_path / "pmc" / "a")
    assert detect_source_kind(tmp_path / "pmc") == "pmc"
    assert detect_source_kind(nxml) == "pmc"
    notes = tmp_path / "notes.docx"
    notes.write_bytes(b"PK")
    with pytest.raises(UserInputError):
        detect_source_kind(notes)
    with pytest.raises(UserInputError):
        detect_source_kind(tmp_path / "missing")


def test_iter_source_dispatches_and_rejects_unknown_kind(tmp_path):
    nxml = write_article_folder(tmp_path / "a")
    records, _ = split(list(iter_source(nxml.parent, "pmc", work_dir=tmp_path / "w")))
    assert len(records) == 5
    assert estimate_count(nxml.parent, "pmc") is None
    assert estimate_count(nxml.parent, "folder") == len(list(nxml.parent.glob("*.*"))) - 1
    with pytest.raises(UserInputError):
        iter_source(tmp_path, "zip", work_dir=tmp_path)
    with pytest.raises(UserInputError):
        estimate_count(tmp_path, "zip")
