"""`pmc-search embed-corpus` and `index SOURCE --vectors DIR`: shards per rank, 2 gloo processes equal 1, a crash
resumes without losing or repeating work, and a library built from the shards equals one built by encoding."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch.multiprocessing as mp

from app.cli import main
from engine.library import Library
from engine.library.corpus_shards import open_shards, rank_folder, read_manifest
from tests.fakes import FakeEncoder, solid_image

COLOURS = ["red", "green", "blue", "yellow", "white", "black", "cyan", "magenta"]


def fake_factory(spec, device, offline, progress):
    return FakeEncoder()


class _FlakyEncoder(FakeEncoder):
    """Dies like a killed process after `survive` batches."""

    def __init__(self, survive: int):
        super().__init__()
        self.survive = survive

    def encode_preprocessed(self, batch):
        if self.survive == 0:
            raise KeyboardInterrupt
        self.survive -= 1
        return super().encode_preprocessed(batch)


@pytest.fixture
def corpus(tmp_path):
    images = tmp_path / "corpus"
    images.mkdir()
    for n in range(23):
        colour = COLOURS[n % len(COLOURS)]
        solid_image(colour, speckle=n + 1).save(images / f"fig{n:02d}.png")
        (images / f"fig{n:02d}.txt").write_text(f"a {colour} figure number {n}")
    (images / "broken.png").write_bytes(b"not a png")
    return images


def _embed(source, out, *extra, factory=fake_factory) -> int:
    return main(["embed-corpus", str(source), "--out", str(out), "-q", "--batch-size", "3", "--part-size", "4",
                 *extra], encoder_factory=factory)


def _by_key(out) -> dict[str, np.ndarray]:
    vectors = {}
    for figures, part in open_shards(out).iter_parts():
        for figure, vector in zip(figures, part, strict=True):
            assert figure.record.key not in vectors, "a figure was encoded twice"
            vectors[figure.record.key] = vector
    return vectors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_worker(rank: int, world: int, port: int, source: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    if _embed(source, out, "--device", "cpu") != 0:
        raise SystemExit(1)


def test_two_gloo_processes_write_the_same_vectors_as_one(corpus, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert _embed(corpus, one) == 0
    mp.start_processes(_rank_worker, args=(2, _free_port(), str(corpus), str(two)), nprocs=2, start_method="spawn")
    single, double = _by_key(one), _by_key(two)
    assert len(single) == 23 and single.keys() == double.keys()
    for key, vector in single.items():
        np.testing.assert_array_equal(double[key], vector)
    shards = open_shards(two)
    assert shards.complete and [m.rank for _, m in shards.manifests] == [0, 1]
    assert sorted(m.vectors for _, m in shards.manifests) == [11, 12]
    assert [p["path"].endswith("broken.png") for p in shards.problems()] == [True]  # counted once, by its rank


def test_a_crashed_rank_resumes_without_repeating_or_losing_work(corpus, tmp_path):
    out = tmp_path / "out"
    assert _embed(corpus, out, factory=lambda *a: _FlakyEncoder(survive=3)) == 130  # "interrupted"
    manifest = read_manifest(rank_folder(out, 0, 1))
    assert not manifest.complete and 0 < manifest.vectors < 23 and manifest.consumed >= manifest.vectors
    (rank_folder(out, 0, 1) / "part-000099.npz").write_bytes(b"half-written part the manifest never listed")
    resumed = FakeEncoder()
    assert _embed(corpus, out, factory=lambda *a: resumed) == 0
    assert resumed.images_encoded == 23 - manifest.vectors  # only what the first run had not written
    assert not (rank_folder(out, 0, 1) / "part-000099.npz").exists()
    reference = tmp_path / "reference"
    _embed(corpus, reference)
    got, want = _by_key(out), _by_key(reference)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_a_library_built_from_shards_equals_one_built_by_encoding(corpus, tmp_path, capsys):
    out = tmp_path / "vectors"
    assert _embed(corpus, out) == 0
    imported, encoded = tmp_path / "imported", tmp_path / "encoded"
    counting = FakeEncoder()
    assert main(["--library", str(imported), "index", str(corpus), "--vectors", str(out), "-q"],
                encoder_factory=lambda *a: counting) == 0
    assert counting.images_encoded == 0  # nothing decoded or encoded
    assert "23 added" in capsys.readouterr().out
    assert main(["--library", str(encoded), "index", str(corpus), "-q"], encoder_factory=fake_factory) == 0
    with Library.open(imported, read_only=True) as a, Library.open(encoded, read_only=True) as b:
        assert a.info().figures == b.info().figures == 23 and len(a._index) == 23
        rows_a = {r.image_path.name: (r.caption, r.modality) for r in _all(a)}
        rows_b = {r.image_path.name: (r.caption, r.modality) for r in _all(b)}
        assert rows_a == rows_b
        for result in _all(a):
            other = next(r for r in _all(b) if r.image_path == result.image_path)
            np.testing.assert_allclose(a.stored_vector(result.figure_id), b.stored_vector(other.figure_id), atol=1e-6)
        assert [p.path.endswith("broken.png") for p in a.problems()] == [True]
    # A normal re-index of the same source afterwards finds every file unchanged: nothing is encoded again.
    again = FakeEncoder()
    assert main(["--library", str(imported), "index", str(corpus), "-q"], encoder_factory=lambda *a: again) == 0
    assert again.images_encoded == 0


def _all(library):
    from sqlalchemy import select

    from engine.catalog import Figure

    with library._sessions() as session:
        return [library.figure(i) for i in session.scalars(select(Figure.id))]


def test_shards_of_another_model_or_an_unfinished_run_are_refused(corpus, tmp_path, capsys):
    out = tmp_path / "vectors"
    assert _embed(corpus, out, factory=lambda *a: FakeEncoder(model_id="other-model")) == 0
    assert main(["--library", str(tmp_path / "lib"), "index", str(corpus), "--vectors", str(out), "-q"],
                encoder_factory=fake_factory) == 2
    assert "other-model" in capsys.readouterr().err
    unfinished = tmp_path / "unfinished"
    assert _embed(corpus, unfinished, factory=lambda *a: _FlakyEncoder(survive=2)) == 130
    assert main(["--library", str(tmp_path / "lib2"), "index", str(corpus), "--vectors", str(unfinished), "-q"],
                encoder_factory=fake_factory) == 2
    assert "not finished" in capsys.readouterr().err
    manifest = json.loads((rank_folder(out, 0, 1) / "manifest.json").read_text())
    assert manifest["model_id"] == "other-model" and manifest["complete"] is True
    assert _embed(corpus, out) == 2  # another model into the same --out folder: refused, not mixed
    assert "holds another embedding" in capsys.readouterr().err


def test_a_large_import_goes_straight_into_the_reduced_index(corpus, tmp_path, monkeypatch):
    from engine.library import index_cache

    monkeypatch.setattr(index_cache, "REDUCED_FROM", 10)
    monkeypatch.setattr(index_cache, "REDUCED_DIM", 4)
    out = tmp_path / "vectors"
    assert _embed(corpus, out) == 0
    library_dir = tmp_path / "lib"
    assert main(["--library", str(library_dir), "index", str(corpus), "--vectors", str(out), "-q"],
                encoder_factory=fake_factory) == 0
    with Library.open(library_dir, read_only=True) as library:
        index = library._index.current()
        assert index.reduced_dim == 4 and len(index) == 23
        for result in _all(library)[:5]:
            found, sims = index.search(library.stored_vector(result.figure_id)[None, :], k=1)
            assert sims[0, 0] == pytest.approx(1.0, abs=1e-3)


def test_a_shard_record_keeps_its_article_whole_and_hashable():
    """PMC sources carry articles with authors: the record read back from a shard equals the one written (JSON
    turns the author tuple into a list) and stays hashable, as the ingest's article grouping needs; unknown keys
    in a shard are ignored."""
    from pathlib import Path

    from engine.library.corpus_shards import figure_from_json, figure_to_json
    from engine.library.ingest import EncodedFigure
    from engine.types import ArticleMeta, FigureRecord

    article = ArticleMeta(pmcid="PMC7", title="Chest imaging", journal="Radiology", year=2020,
                          authors=("Smith, Jane", "Doe, John"), volume="12", issue="3", pages="45-67")
    record = FigureRecord(key="PMC7/f1.jpg", image_path=Path("/data/PMC7/f1.jpg"), caption="A chest film",
                          label="Figure 1", figure_id="f1", article=article)
    written = EncodedFigure(record, 1234, 5678, "ab" * 32)
    raw = json.loads(json.dumps(figure_to_json(written)))
    raw["article"]["not_a_field"] = "from a newer version"
    read = figure_from_json(raw)
    assert read == written and hash(read.record.article) == hash(article)
