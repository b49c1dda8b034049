"""Issue 15: per-item failures never cost a batch; duplicates are not "added"; invalid vectors never stored."""

from __future__ import annotations

import shutil

import numpy as np

from tests.engine.library.helpers import drain, index_consistent_with_catalog, new_library
from tests.fakes import FakeEncoder, solid_image


def test_copies_of_one_image_are_reused_not_added_even_across_batches(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    solid_image("red").save(src / "a.png")
    for n in range(40):
        shutil.copy(src / "a.png", src / f"copy{n:02}.png")
    solid_image("blue").save(src / "b.png")
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        collection = library.add_collection(src)
        _, report = drain(library.ingest(collection.id, batch_size=4))  # copies land in many batches in flight
        assert (report.added, report.reused, report.failed) == (2, 40, 0)
        assert library.info().figures == 42
        assert index_consistent_with_catalog(library)


class NanEncoder(FakeEncoder):
    """Gives NaN for blue images: a model bug must not poison the catalog or the index."""

    def encode_preprocessed(self, batch):
        out = super().encode_preprocessed(batch)
        out[np.asarray(batch)[:, 2].mean(axis=(1, 2)) > 0.9] = np.nan
        return out


def test_a_nan_vector_from_the_model_is_reported_and_never_stored(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n, colour in enumerate(["red", "blue", "green"]):
        solid_image(colour, speckle=n + 1).save(src / f"{colour}.png")
    with new_library(tmp_path / "lib", NanEncoder()) as library:
        collection = library.add_collection(src)
        _, report = drain(library.ingest(collection.id))
        assert (report.added, report.failed) == (2, 1)
        assert "blue.png" in report.problems[0].path and "NaN" in report.problems[0].message
        assert index_consistent_with_catalog(library)
