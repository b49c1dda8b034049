"""Where create_model gets PMC-CLIP weights from when none are given: the three extracted files (not the 2.4 GB
training checkpoint) and the tokenizer, via engine.models.download, passing `offline` and `progress` through.

The download module itself is tested by its own tests; here a stand-in records what was asked for."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from engine.errors import OfflineError
from engine.models import factory
from engine.models.checkpoint import split_full_state_dict
from engine.models.registry import resolve
from tests.engine.models.tiny_models import CAPTIONS, tiny_config, tiny_model, tiny_vocab


@dataclass(frozen=True)
class FakeRemoteFile:
    repo_id: str
    filename: str


def _fake_download(monkeypatch, store: Path, calls: list):
    module = types.ModuleType("engine.models.download")
    module.PMC_CLIP_EXTRACTED = tuple(
        FakeRemoteFile("axiong/pmc_oa", n)
        for n in ("image_encoder(resnet50).pth", "text_encoder.pth", "text_projection_layer.pth")
    )
    module.PMC_CLIP_FULL_CHECKPOINT = FakeRemoteFile("axiong/pmc_oa", "checkpoint.pt")
    module.PUBMEDBERT_TOKENIZER = (FakeRemoteFile("microsoft/pubmedbert", "vocab.txt"),)

    def fetch(file, *, offline=False, progress=None, cancel=None):
        calls.append((file.filename, offline, progress))
        path = store / file.filename
        if not path.is_file():
            raise OfflineError(f"{file.filename} is not in the cache {store}")
        return path

    module.fetch = fetch
    monkeypatch.setitem(sys.modules, "engine.models.download", module)


@pytest.fixture()
def tiny_registry(monkeypatch):
    entry = replace(resolve("pmc-clip"), pmc_clip_config=tiny_config(mlm=False))
    monkeypatch.setattr(factory, "resolve", lambda name: entry)


def test_downloads_extracted_files_and_tokenizer(tiny_registry, monkeypatch, tmp_path):
    source = tiny_model(seed=8)
    for name, obj in split_full_state_dict(source.state_dict()).items():
        torch.save(obj, tmp_path / name)
    tiny_vocab(tmp_path)
    calls: list = []
    _fake_download(monkeypatch, tmp_path, calls)
    progress = object()

    loaded = factory.create_model("pmc-clip", offline=True, progress=progress)
    assert [c[0] for c in calls] == [
        "image_encoder(resnet50).pth",
        "text_encoder.pth",
        "text_projection_layer.pth",
        "vocab.txt",
    ]
    assert all(offline is True and p is progress for _, offline, p in calls)
    assert torch.equal(loaded.model.text_projection, source.text_projection)
    ids = loaded.tokenizer(CAPTIONS[:1])["input_ids"]
    assert ids[0][0] == 2  # [CLS]


def test_offline_miss_names_the_file(tiny_registry, monkeypatch, tmp_path):
    _fake_download(monkeypatch, tmp_path, [])
    with pytest.raises(OfflineError, match=r"image_encoder\(resnet50\)\.pth"):
        factory.create_model("pmc-clip", offline=True)


def test_local_weights_and_tokenizer_never_download(tiny_registry, monkeypatch, tmp_path):
    torch.save({"state_dict": tiny_model(seed=2).state_dict()}, tmp_path / "checkpoint.pt")
    vocab = tiny_vocab(tmp_path / "tok")
    monkeypatch.setitem(sys.modules, "engine.models.download", None)  # any import of it would now fail
    loaded = factory.create_model("pmc-clip", weights=tmp_path / "checkpoint.pt", tokenizer=vocab)
    assert loaded.dim == 32 and loaded.context_length == 77
