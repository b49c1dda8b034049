"""The Encoder: float32 L2-normalised vectors in input order, batched, from paths or PIL images, for our model
folders and for open_clip models (a tiny randomly initialised open_clip architecture stands in for BiomedCLIP)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import ImageDecodeError, ModelNotFoundError, OfflineError
from engine.models import create_encoder, list_models, resolve, save_model_dir
from engine.models.tokenizer import load_tokenizer, tokenize
from engine.models.transforms import PreprocessConfig, build_eval_transform
from engine.types import Encoder
from tests.engine.models.tiny_models import CAPTIONS, sample_images, tiny_model, tiny_vocab


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder")
    model = tiny_model(seed=7, mlm=False)
    out = save_model_dir(model, tiny_vocab(root / "vocab"), root / "model", PreprocessConfig(image_size=64))
    return model, out, sample_images(root)


def _assert_normalised(vectors: np.ndarray, rows: int, dim: int) -> None:
    assert vectors.dtype == np.float32 and vectors.shape == (rows, dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_local_dir_encoder_matches_the_model(exported):
    model, out, paths = exported
    encoder = create_encoder(f"local-dir:{out}", device="cpu", batch_size=2, cpu_bf16=False, text_path="fp32")
    assert isinstance(encoder, Encoder)
    assert encoder.model_id == f"local-dir:{out.resolve()}" and encoder.dim == 32
    assert encoder.device == "cpu" and encoder.device_reason and encoder.precision == (
        "fp32 channels_last, text tower fp32 (torch)"
    )

    images = encoder.encode_images(paths)  # 3 paths, batch 2: two chunks
    _assert_normalised(images, 3, 32)
    transform = build_eval_transform(PreprocessConfig(image_size=64))
    pixels = torch.stack([transform(Image.open(p)) for p in paths])
    with torch.inference_mode():
        want = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1).numpy()
    np.testing.assert_allclose(images, want, atol=1e-5)

    texts = encoder.encode_texts(CAPTIONS[:3])
    _assert_normalised(texts, 3, 32)
    ids = tokenize(load_tokenizer(out / "tokenizer"), CAPTIONS[:3])
    with torch.inference_mode():
        want_text = model.encode_text(ids, normalize=True).numpy()
    np.testing.assert_allclose(texts, want_text, atol=1e-5)


def test_batch_size_one_and_input_order(exported):
    _, out, paths = exported
    single = create_encoder(f"local-dir:{out}", device="cpu", batch_size=1, cpu_bf16=False)
    many = create_encoder(f"local-dir:{out}", device="cpu", batch_size=16, cpu_bf16=False)
    np.testing.assert_allclose(single.encode_texts(CAPTIONS), many.encode_texts(CAPTIONS), atol=1e-5)
    forward = many.encode_images([Image.open(p) for p in paths])
    backward = single.encode_images(list(reversed(paths)))
    np.testing.assert_allclose(forward[::-1], backward, atol=1e-5)
    assert single.encode_texts(["one caption"]).shape == (1, 32)
    assert many.encode_texts([]).shape == (0, 32) and many.encode_images([]).shape == (0, 32)


def test_cpu_bf16_image_path_stays_within_cosine_0999_of_fp32(exported):
    _, out, paths = exported
    fast = create_encoder(f"local-dir:{out}", device="cpu", cpu_bf16=True, text_path="fp32")
    exact = create_encoder(f"local-dir:{out}", device="cpu", cpu_bf16=False, text_path="fp32")
    assert fast.precision == "images bf16 autocast channels_last, texts fp32, text tower fp32 (torch)"
    got, want = fast.encode_images(paths), exact.encode_images(paths)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * want).sum(axis=1).min() >= 0.999
    np.testing.assert_array_equal(fast.encode_texts(CAPTIONS), exact.encode_texts(CAPTIONS))


def test_preprocess_then_encode_preprocessed_equals_encode_images(exported):
    _, out, paths = exported
    encoder = create_encoder(f"local-dir:{out}", device="cpu")
    batch = torch.stack([encoder.preprocess(Image.open(p)) for p in paths])
    assert batch.shape == (3, 3, 64, 64)
    np.testing.assert_allclose(encoder.encode_preprocessed(batch), encoder.encode_images(paths), atol=1e-6)


def test_unreadable_image_names_the_file(exported, tmp_path):
    _, out, _ = exported
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match="broken.png"):
        create_encoder(f"local-dir:{out}", device="cpu").encode_images([bad])


def test_unknown_model_lists_choices():
    with pytest.raises(ModelNotFoundError) as info:
        resolve("pmc-clipp")
    for name in ("pmc-clip", "pmc-clip-notebook", "biomedclip", "open_clip:", "local-dir:"):
        assert name in str(info.value)
    assert list_models()[0] == "pmc-clip"
    for incomplete in ("local-dir:", "hf-hub:", "open_clip:"):
        with pytest.raises(ModelNotFoundError):
            resolve(incomplete)
    with pytest.raises(ModelNotFoundError, match="no architecture"):
        create_encoder("open_clip:NoSuchArch/none", device="cpu")


def test_biomedclip_entry_points_at_the_hub_repo():
    entry = resolve("biomedclip")
    assert entry.kind == "open_clip"
    assert entry.open_clip_name == "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"


@pytest.fixture()
def tiny_open_clip_arch(tmp_path):
    import open_clip

    name = "test-tiny-rn"
    config = {
        "embed_dim": 24,
        "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8, "patch_size": None},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    (tmp_path / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / f"{name}.json")
    return name


def test_open_clip_model_through_the_wrapper(tiny_open_clip_arch, tmp_path):
    torch.manual_seed(0)
    encoder = create_encoder(f"open_clip:{tiny_open_clip_arch}", device="cpu", batch_size=2)
    assert encoder.model_id == f"open_clip:{tiny_open_clip_arch}" and encoder.dim == 24
    paths = sample_images(tmp_path)
    images = encoder.encode_images(paths)
    _assert_normalised(images, 3, 24)
    texts = encoder.encode_texts(["a chest x-ray", "a brain mri", "a western blot"])
    _assert_normalised(texts, 3, 24)
    assert encoder.preprocess(Image.open(paths[0])).shape == (3, 64, 64)
    # Same numbers as calling open_clip directly with its own tokenizer.
    import open_clip

    with torch.inference_mode():
        direct = encoder.model.encode_text(open_clip.get_tokenizer(tiny_open_clip_arch)(["a brain mri"]))
    np.testing.assert_allclose(texts[1], torch.nn.functional.normalize(direct, dim=-1)[0].numpy(), atol=1e-5)


def test_open_clip_offline_without_cache_names_the_model_and_cache():
    with pytest.raises(OfflineError) as info:
        create_encoder("open_clip:RN50/openai", device="cpu", offline=True)
    assert "open_clip:RN50/openai" in str(info.value) and "open_clip" in str(info.value)


def test_open_clip_unknown_tag_lists_the_known_ones():
    with pytest.raises(ModelNotFoundError, match="known tags: .*openai"):
        create_encoder("open_clip:RN50/no-such-tag", device="cpu")


def test_preprocess_is_safe_to_call_from_several_threads(exported):
    from concurrent.futures import ThreadPoolExecutor

    _, out, paths = exported
    encoder = create_encoder(f"local-dir:{out}", device="cpu")
    images = [Image.open(p).convert("RGB") for p in paths] * 8
    sequential = [encoder.preprocess(im) for im in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(encoder.preprocess, images))
    assert all(torch.equal(a, b) for a, b in zip(sequential, concurrent, strict=True))


@pytest.mark.gpu
def test_gpu_autocast_stays_within_cosine_0999_of_cpu_fp32(exported):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    _, out, paths = exported
    gpu = create_encoder(f"local-dir:{out}", device="cuda")
    cpu = create_encoder(f"local-dir:{out}", device="cpu")
    assert gpu.device.startswith("cuda") and "autocast" in gpu.precision
    for got, want in (
        (gpu.encode_images(paths), cpu.encode_images(paths)),
        (gpu.encode_texts(CAPTIONS), cpu.encode_texts(CAPTIONS)),
    ):
        assert got.dtype == np.float32
        assert (got * want).sum(axis=1).min() >= 0.999


def test_missing_device_fails_before_any_weights_are_fetched(monkeypatch):
    from engine.errors import DeviceError
    from engine.models import factory

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(factory, "create_model", lambda *a, **k: pytest.fail("weights fetched before device check"))
    with pytest.raises(DeviceError):
        create_encoder("pmc-clip", device="cuda")


def test_images_cross_to_the_model_as_uint8_and_are_normalised_per_batch_to_the_bit(exported):
    _, out, paths = exported
    encoder = create_encoder(f"local-dir:{out}", device="cpu", cpu_bf16=False, text_path="fp32")
    transform = build_eval_transform(PreprocessConfig(image_size=64))
    images = [Image.open(p).convert("RGB") for p in paths]
    pixels = torch.stack([encoder.preprocess(im) for im in images])
    assert pixels.dtype == torch.uint8 and pixels.shape == (3, 3, 64, 64)
    assert torch.equal(transform.normalise(pixels), torch.stack([transform(im) for im in images]))
    # A float batch (already normalised) is taken as it is, so both give the same vectors.
    np.testing.assert_array_equal(
        encoder.encode_preprocessed(pixels), encoder.encode_preprocessed(transform.normalise(pixels))
    )


def test_large_jpegs_are_decoded_at_twice_the_input_side_for_ingest_and_queries_alike(exported, tmp_path):
    _, out, _ = exported
    encoder = create_encoder(f"local-dir:{out}", device="cpu", cpu_bf16=False, text_path="fp32")
    path = tmp_path / "large.jpg"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (600, 520, 3), dtype=np.uint8)).save(path, quality=90)
    assert encoder.load_image(path).size == (130, 150)  # 1/4: both sides stay >= 2 x 64; 1/8 would not
    np.testing.assert_array_equal(encoder.encode_images([path]), encoder.encode_images([encoder.load_image(path)]))
    assert "large JPEGs decoded at reduced scale >= 128 px" in encoder.preprocess_id
