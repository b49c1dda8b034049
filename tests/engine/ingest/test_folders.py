"""engine.ingest.folders: recursive image folders with sidecar captions, stable keys, hidden and looping dirs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from engine.ingest.folders import count_images, iter_folder
from engine.types import FigureRecord, SourceProblem

from ..test_imaging import write_dicom
from .fixtures import image_bytes


def split(items):
    records = [i for i in items if isinstance(i, FigureRecord)]
    problems = [i for i in items if isinstance(i, SourceProblem)]
    return records, problems


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "figs"
    (root / "ct" / "deep").mkdir(parents=True)
    (root / ".cache").mkdir()
    (root / "a.jpg").write_bytes(image_bytes())
    (root / "a.txt").write_text("  Axial CT of the\n abdomen.  ")
    (root / "b.PNG").write_bytes(image_bytes(fmt="PNG"))
    (root / "B.json").write_text(json.dumps({"caption": "Chest X-ray", "label": "Fig 2"}))
    (root / "ct" / "c.tif").write_bytes(image_bytes(fmt="TIFF"))
    (root / "ct" / "c.json").write_text("{broken")
    (root / "ct" / "deep" / "IM0001").write_bytes(b"")
    write_dicom(root / "ct" / "deep" / "IM0001", np.zeros((4, 4), np.uint8))
    (root / "ct" / "notes.txt").write_text("not a caption of anything")
    (root / "ct" / "paper.pdf").write_bytes(b"%PDF")
    (root / ".cache" / "thumb.jpg").write_bytes(image_bytes())
    (root / "ct" / "DICOMDIR").write_bytes((root / "ct" / "deep" / "IM0001").read_bytes())
    (root / "._a.jpg").write_bytes(b"\x00\x05\x16\x07")  # macOS AppleDouble junk
    return root


def test_reads_images_recursively_with_sidecars(tree):
    records, problems = split(list(iter_folder(tree)))
    by_key = {r.key: r for r in records}
    assert list(by_key) == ["a.jpg", "b.PNG", "ct/c.tif", "ct/deep/IM0001"]
    assert by_key["a.jpg"].caption == "Axial CT of the abdomen."
    assert by_key["b.PNG"].caption == "Chest X-ray" and by_key["b.PNG"].label == "Fig 2"
    assert by_key["ct/c.tif"].caption is None
    assert by_key["a.jpg"].image_path == tree / "a.jpg"
    assert len(problems) == 1 and problems[0].path.endswith("c.json")  # reported, image still indexed


def test_keys_are_stable_across_reads(tree):
    first = [r.key for r in iter_folder(tree) if isinstance(r, FigureRecord)]
    second = [r.key for r in iter_folder(tree) if isinstance(r, FigureRecord)]
    assert first == second


def test_symlink_loops_are_cut_and_broken_links_reported(tree):
    os.symlink(tree, tree / "ct" / "loop")
    os.symlink(tree / "missing.jpg", tree / "dangling.jpg")
    records, problems = split(list(iter_folder(tree)))
    assert len(records) == 4
    assert any("broken" in p.message and p.path.endswith("dangling.jpg") for p in problems)


def test_single_file_and_count(tree):
    records, _ = split(list(iter_folder(tree / "a.jpg")))
    assert [r.key for r in records] == ["a.jpg"] and records[0].caption == "Axial CT of the abdomen."
    assert count_images(tree) == 4
    _, problems = split(list(iter_folder(tree / "ct" / "paper.pdf")))
    assert problems


def test_unreadable_folder_is_a_problem(tmp_path):
    _, problems = split(list(iter_folder(tmp_path / "nope")))
    assert problems and "nope" in problems[0].path
