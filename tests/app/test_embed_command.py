"""`pmc-search embed` run in-process: vectors in input order, float32, L2-normalised; bad input exits 2."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli import EXIT_BAD_INPUT, main
from engine.models import create_encoder, save_model_dir
from engine.models.transforms import PreprocessConfig
from tests.engine.models.tiny_models import CAPTIONS, sample_images, tiny_model, tiny_vocab


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    folder = save_model_dir(
        tiny_model(seed=11, mlm=False), tiny_vocab(root / "vocab"), root / "model", PreprocessConfig(image_size=64)
    )
    return folder, sample_images(root)


def test_embed_writes_features_in_input_order(model_folder, tmp_path, capsys):
    folder, images = model_folder
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text(f"{CAPTIONS[0]}\n\n{CAPTIONS[1]}\n{CAPTIONS[2]}\n", encoding="utf-8")
    out = tmp_path / "vectors"  # no suffix: must be written exactly here
    argv = [
        "embed",
        "--model",
        f"local-dir:{folder}",
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--images",
        *map(str, reversed(images)),
        "--texts-file",
        str(texts_file),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert "dim 32 on cpu" in capsys.readouterr().out

    data = np.load(out)
    image_features, text_features = data["image_features"], data["text_features"]
    assert image_features.dtype == np.float32 and image_features.shape == (3, 32)
    assert text_features.dtype == np.float32 and text_features.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(image_features, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_features, axis=1), 1.0, atol=1e-5)
    assert list(data["texts"]) == CAPTIONS[:3]

    encoder = create_encoder(f"local-dir:{folder}", device="cpu", batch_size=2)  # same batches as the command
    np.testing.assert_allclose(image_features, encoder.encode_images(list(reversed(images))), atol=1e-5)
    np.testing.assert_allclose(text_features, encoder.encode_texts(CAPTIONS[:3]), atol=1e-5)


def test_model_folder_given_as_weights(model_folder, tmp_path):
    folder, images = model_folder
    out = tmp_path / "v.npz"
    assert (
        main(["embed", "--weights", str(folder), "--device", "cpu", "--images", str(images[0]), "--out", str(out)]) == 0
    )
    assert np.load(out)["image_features"].shape == (1, 32)
    assert np.load(out)["text_features"].shape == (0, 32)


def test_bad_input_exits_2_with_a_message(model_folder, tmp_path, capsys):
    folder, _ = model_folder
    out = tmp_path / "v.npz"
    assert (
        main(["embed", "--model", f"local-dir:{folder}", "--images", str(tmp_path / "gone.png"), "--out", str(out)])
        == EXIT_BAD_INPUT
    )
    assert "gone.png" in capsys.readouterr().err
    assert main(["embed", "--model", f"local-dir:{folder}", "--out", str(out)]) == EXIT_BAD_INPUT
    assert main(["embed", "--model", "no-such-model", "--texts-file", __file__, "--out", str(out)]) == EXIT_BAD_INPUT
    assert "choose one of" in capsys.readouterr().err
    assert not out.exists()
