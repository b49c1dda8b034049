"""The reference evaluation decodes images whole; the app's encoders decode large JPEGs at a reduced scale."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine import paths
from engine.imaging import open_image
from engine.models import create_encoder
from trainer.evaluate.encode import images_decoded_whole


def test_evaluation_encodes_image_files_decoded_whole(tmp_path):
    encoder = create_encoder(f"local-dir:{paths.resource_path('demo-model')}", device="cpu")
    path = tmp_path / "large.jpg"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (600, 520, 3), dtype=np.uint8)).save(path, quality=90)
    whole = encoder.encode_images([open_image(path)])
    np.testing.assert_array_equal(images_decoded_whole(encoder)([path]), whole)
    assert not np.array_equal(encoder.encode_images([path]), whole)  # the app's decoding differs, slightly
