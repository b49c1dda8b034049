"""Labels made under an older modality rule are replaced from the stored vectors when the library opens writable."""

from __future__ import annotations

from sqlalchemy import select, update

from engine.catalog import Figure, get_meta, set_meta
from engine.library import Library
from engine.library.relabel import FINGERPRINT_KEY
from tests.engine.library.helpers import drain, new_library, write_images
from tests.fakes import FakeEncoder


def _labels(library):
    with library._sessions() as session:
        return sorted(session.execute(select(Figure.id, Figure.modality, Figure.modality_confidence)).all())


def test_stale_labels_are_relabelled_once_on_a_writable_open(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.modality.MIN_CONFIDENCE", 0.0)  # the fake model's labels: every figure gets one
    write_images(tmp_path / "images", {"a.png": "red", "b.png": "blue", "c.png": "white"})
    encoder = FakeEncoder()
    with new_library(tmp_path / "lib", encoder) as library:
        drain(library.ingest(library.add_collection(tmp_path / "images").id))
        fresh = _labels(library)
        # What an older rule left behind: a certain-looking label, and another fingerprint.
        with library._sessions.begin() as session:
            session.execute(update(Figure).values(modality="CT", modality_confidence=1.0))
            set_meta(session, FINGERPRINT_KEY, "an older rule")

    with Library.open(tmp_path / "lib", read_only=True) as read_only:
        read_only.attach_encoder(encoder)
        assert {m for _, m, _ in _labels(read_only)} == {"CT"}  # a read-only open changes nothing

    with Library.open(tmp_path / "lib") as library:
        library.attach_encoder(encoder)
        assert _labels(library) == fresh and all(m != "CT" or c < 1.0 for _, m, c in _labels(library))
        with library._sessions() as session:
            assert get_meta(session, FINGERPRINT_KEY) == library.modality_classifier().fingerprint()
        facets = library.facets().modalities
        assert "CT" not in facets or any(m == "CT" for _, m, _ in fresh)
