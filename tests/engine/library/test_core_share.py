"""The ingest's decoding never competes with a CPU model for the cores, and overlaps a GPU model's work."""

from __future__ import annotations

import time

from tests.engine.library.helpers import drain, new_library, write_images
from tests.fakes import FakeEncoder

COLOURS = ["red", "green", "blue", "white", "black", "yellow", "cyan", "magenta"]


class _TimedEncoder(FakeEncoder):
    """Records when images are decoded and when batches are encoded (monotonic intervals)."""

    def __init__(self, device: str):
        super().__init__(delay=0.03)
        self.device = device
        self.decodes: list[tuple[float, float]] = []
        self.encodes: list[tuple[float, float]] = []

    def load_image(self, path):
        began = time.monotonic()
        time.sleep(0.01)  # a decode that takes a while, so an overlap cannot slip between two clock reads
        image = super().load_image(path)
        self.decodes.append((began, time.monotonic()))
        return image

    def encode_preprocessed(self, batch):
        began = time.monotonic()
        out = super().encode_preprocessed(batch)
        self.encodes.append((began, time.monotonic()))
        return out


def _started_during(decodes, encodes) -> int:
    """Decodes that began while a batch was encoding (one begun just before may finish during it: that is allowed)."""
    return sum(1 for d0, _ in decodes for e0, e1 in encodes if e0 < d0 < e1)


def _ingest(tmp_path, device: str) -> _TimedEncoder:
    folder = tmp_path / device.replace(":", "")
    write_images(folder, {f"{n:02d}.png": COLOURS[n % len(COLOURS)] for n in range(24)})
    encoder = _TimedEncoder(device)
    with new_library(tmp_path / f"lib-{device.replace(':', '')}", encoder) as library:
        _, report = drain(library.ingest(library.add_collection(folder).id, batch_size=4))
    assert report.added == 24 and len(encoder.decodes) == 24
    return encoder


def test_on_the_cpu_no_image_is_decoded_while_a_batch_encodes(tmp_path):
    encoder = _ingest(tmp_path, "cpu")
    assert len(encoder.encodes) >= 6
    assert _started_during(encoder.decodes, encoder.encodes) == 0


def test_on_a_gpu_decoding_overlaps_encoding(tmp_path):
    encoder = _ingest(tmp_path, "cuda:0")
    assert _started_during(encoder.decodes, encoder.encodes) >= 3
