"""The ingest's decoding never competes with a CPU model for the cores, and overlaps a GPU model's work."""

from __future__ import annotations

import os
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


def _started_during_each(decodes, encodes) -> list[int]:
    """How many decodes began while each batch was encoding."""
    return [sum(1 for d0, _ in decodes if e0 < d0 < e1) for e0, e1 in encodes]


def _ingest(tmp_path, device: str) -> _TimedEncoder:
    folder = tmp_path / device.replace(":", "")
    write_images(folder, {f"{n:02d}.png": COLOURS[n % len(COLOURS)] for n in range(24)})
    encoder = _TimedEncoder(device)
    with new_library(tmp_path / f"lib-{device.replace(':', '')}", encoder) as library:
        _, report = drain(library.ingest(library.add_collection(folder).id, batch_size=4))
    assert report.added == 24 and len(encoder.decodes) == 24
    return encoder


def test_on_the_cpu_decoding_stops_while_a_batch_encodes(tmp_path):
    encoder = _ingest(tmp_path, "cpu")
    assert len(encoder.encodes) >= 6
    # A worker that passed the gate just before it closed still decodes its one image: at most one per worker
    # (os.cpu_count() of them) per batch. Without the gate the pool decodes far ahead (the GPU case below).
    assert max(_started_during_each(encoder.decodes, encoder.encodes)) <= (os.cpu_count() or 2)


def test_on_a_gpu_decoding_overlaps_encoding(tmp_path):
    encoder = _ingest(tmp_path, "cuda:0")
    assert sum(_started_during_each(encoder.decodes, encoder.encodes)) >= 12  # half the images decode meanwhile
