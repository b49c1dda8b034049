"""The CPU text tower: the compact tower computes PMC-CLIP's faithful text call (BERT without a mask, [CLS] @
projection), its precisions stay close to fp32, the per-machine choice follows the CPU flags, the ONNX Runtime
export agrees with torch, and repeated texts come from the vector cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.models import PMCClipEncoder
from engine.models.encoder import TextVectorCache, build_text_tower
from engine.models.precision import TEXT_PATH_ENV, TextTowerPlan, text_tower_plan
from engine.models.text_tower import CompactTextTower
from engine.models.tokenizer import load_tokenizer, tokenize
from engine.models.transforms import PreprocessConfig, build_eval_transform
from tests.engine.models.tiny_models import CAPTIONS, tiny_model, tiny_vocab

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})
AVX512_BF16 = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"}


@pytest.fixture(scope="module")
def model_and_ids(tmp_path_factory):
    model = tiny_model(seed=3, mlm=False)
    tokenizer = load_tokenizer(tiny_vocab(tmp_path_factory.mktemp("vocab")))
    ids = tokenize(tokenizer, CAPTIONS + ["", "x " * 200], 77)  # an empty text and one truncated at 77
    return model, ids, tokenizer


@pytest.mark.parametrize("cls_only", [False, True])
def test_fp32_compact_tower_equals_the_faithful_call(model_and_ids, cls_only):
    model, ids, _ = model_and_ids
    tower = CompactTextTower.from_pmc_clip(model, linear="fp32", cls_only=cls_only)
    with torch.inference_mode():
        want = model.encode_text(ids)
        got = tower(ids)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not np.allclose(want[0].numpy(), want[1].numpy(), atol=1e-3)  # the texts really differ


@pytest.mark.parametrize("mode", ["bf16", "int8"])
def test_reduced_precision_towers_compute_the_same_function(model_and_ids, mode):
    model, ids, _ = model_and_ids
    with torch.inference_mode():
        want = model.encode_text(ids)
        got = CompactTextTower.from_pmc_clip(model, linear=mode)(ids)
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert F.cosine_similarity(got, want).min() > 0.99


def test_the_notebook_pooler_variant_keeps_its_own_call():
    model = tiny_model(seed=1, mlm=False, pooling="pooler")
    assert build_text_tower(model, TextTowerPlan("torch", "bf16", "test"), 77) is None
    with pytest.raises(ValueError, match="trained call"):
        CompactTextTower.from_pmc_clip(model)


@pytest.mark.parametrize(
    ("flags", "has_ort", "backend", "linear"),
    [
        (AVX512_BF16, True, "torch", "bf16"),
        (AVX512_BF16, False, "torch", "bf16"),
        (frozenset({"amx_bf16", "avx2"}), False, "torch", "bf16"),
        (AVX2_ONLY, True, "onnxruntime", "fp32"),
        (AVX2_ONLY, False, "torch", "fp32"),
        (AVX2_ONLY | {"avx512f", "avx512_vnni"}, False, "torch", "fp32"),  # AVX-512 without bf16: no bf16
        (frozenset(), False, "torch", "fp32"),  # not Linux: nothing known
    ],
)
def test_the_text_path_follows_the_cpu_flags(flags, has_ort, backend, linear):
    plan = text_tower_plan(flags, has_onnxruntime=has_ort, override="")
    assert (plan.backend, plan.linear) == (backend, linear) and plan.reason


def test_the_environment_overrides_the_choice(monkeypatch):
    monkeypatch.setenv(TEXT_PATH_ENV, "int8")
    assert text_tower_plan(AVX512_BF16, has_onnxruntime=True).linear == "int8"
    monkeypatch.setenv(TEXT_PATH_ENV, "onnx")
    assert text_tower_plan(AVX512_BF16, has_onnxruntime=True).backend == "onnxruntime"
    with pytest.raises(ValueError, match="needs onnxruntime"):
        text_tower_plan(AVX512_BF16, has_onnxruntime=False)
    monkeypatch.setenv(TEXT_PATH_ENV, "fp8")
    with pytest.raises(ValueError, match="use one of"):
        text_tower_plan(AVX2_ONLY, has_onnxruntime=False)


def test_onnx_runtime_tower_agrees_with_torch_and_is_exported_once(model_and_ids, tmp_path):
    pytest.importorskip("onnxruntime")
    from engine.models.text_onnx import OnnxTextTower

    model, ids, _ = model_and_ids
    tower = CompactTextTower.from_pmc_clip(model)
    runtime = OnnxTextTower(tower, tmp_path, context_length=77, threads=1)
    with torch.inference_mode():
        want = tower(ids)
    torch.testing.assert_close(runtime(ids), want, atol=1e-4, rtol=1e-4)
    exported = list(tmp_path.glob("*.onnx"))
    assert exported == [runtime.path]
    mtime = runtime.path.stat().st_mtime_ns
    assert OnnxTextTower(tower, tmp_path, context_length=77).path == runtime.path
    assert runtime.path.stat().st_mtime_ns == mtime  # reused, not exported again
    other = CompactTextTower.from_pmc_clip(tiny_model(seed=4, mlm=False))
    assert OnnxTextTower(other, tmp_path, context_length=77).path != runtime.path  # other weights, other file


def _encoder(model, tokenizer, plan):
    return PMCClipEncoder(
        tokenizer=tokenizer, context_length=77, text_plan=plan, model=model, model_id="tiny", dim=32,
        transform=build_eval_transform(PreprocessConfig(image_size=64)), device="cpu", device_reason="test",
    )


def test_a_repeated_text_is_not_encoded_again(model_and_ids):
    model, _, tokenizer = model_and_ids
    encoder = _encoder(model, tokenizer, TextTowerPlan("torch", "fp32", "test"))
    calls = []
    tower = encoder.text_tower
    encoder.text_tower = lambda ids: calls.append(len(ids)) or tower(ids)
    first = encoder.encode_texts(["chest x-ray", "brain mri"])
    again = encoder.encode_texts(["brain mri", "chest x-ray", "brain mri", "new text"])
    assert calls == [2, 1]  # only the new text went to the model, once
    np.testing.assert_array_equal(again[[1, 0, 2]], first[[0, 1, 1]])
    again[0] = 0.0  # callers own their arrays: the cache keeps its own copy
    np.testing.assert_array_equal(encoder.encode_texts(["brain mri"])[0], first[1])


def test_the_cache_forgets_the_least_recently_used():
    cache = TextVectorCache(capacity=2)
    for text in ("a", "b"):
        cache.put(text, np.full(3, ord(text), np.float32))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", np.zeros(3, np.float32))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
