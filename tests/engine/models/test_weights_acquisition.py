"""Where create_model gets PMC-CLIP weights when none are given: the three extracted files (never the 2.4 GB
training checkpoint) and the tokenizer, downloaded from a local stand-in for the hub, with progress, then read
from the cache; offline mode names the missing file; local files never touch the network."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import huggingface_hub.constants
import pytest
import torch

from engine.errors import OfflineError
from engine.hub import PUBMEDBERT_TOKENIZER, DownloadProgress
from engine.hub import transfer as resumable_transfer
from engine.models import factory
from engine.models.checkpoint import split_full_state_dict
from engine.models.registry import resolve
from tests.engine.models.tiny_models import tiny_config, tiny_model, tiny_vocab
from tests.local_hub import ServedFile, start_local_hub

DATASET_PATH = "datasets/axiong/pmc_oa/resolve/main/"


@pytest.fixture()
def tiny_registry(monkeypatch):
    """The registry's pmc-clip entry (heads, pooling, preprocess, source) at toy size."""
    entry = resolve("pmc-clip")
    tiny = replace(entry, pmc_clip_config=replace(tiny_config(mlm=False), fusion_layers=0))
    monkeypatch.setattr(factory, "resolve", lambda name: tiny)
    return tiny


@pytest.fixture()
def hub(monkeypatch):
    hub, server = start_local_hub()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(resumable_transfer, "_wait_before_retry", lambda attempt: None)
    yield hub
    server.shutdown()
    server.server_close()


def _serve_tiny_release(hub, tmp_path, source) -> None:
    for name, obj in split_full_state_dict(source.state_dict()).items():
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        hub.add(DATASET_PATH + name, ServedFile(buffer.getvalue()))
    vocab = (tiny_vocab(tmp_path / "vocab") / "vocab.txt").read_bytes()
    tokenizer_repo = PUBMEDBERT_TOKENIZER[0].repo_id
    hub.add(f"{tokenizer_repo}/resolve/main/vocab.txt", ServedFile(vocab))
    config = json.dumps({"do_lower_case": True, "model_max_length": 512}).encode()
    hub.add(f"{tokenizer_repo}/resolve/main/tokenizer_config.json", ServedFile(config))


def test_first_use_downloads_extracted_files_with_progress_then_works_offline(tiny_registry, hub, tmp_path):
    source = tiny_model(seed=8)
    _serve_tiny_release(hub, tmp_path, source)
    updates: list[DownloadProgress] = []

    loaded = factory.create_model("pmc-clip", progress=updates.append)
    fetched = sorted({r.path.rsplit("/", 1)[-1] for r in hub.gets()})
    assert fetched == sorted(
        [
            "image_encoder(resnet50).pth",
            "text_encoder.pth",
            "text_projection_layer.pth",
            "vocab.txt",
            "tokenizer_config.json",
        ]
    )
    assert not hub.gets("checkpoint.pt")
    assert {u.filename for u in updates} >= {"text_encoder.pth", "vocab.txt"}
    assert all(u.done_bytes <= (u.total_bytes or u.done_bytes) for u in updates)
    assert torch.equal(loaded.model.text_projection, source.text_projection)
    assert torch.equal(loaded.model.visual.attnpool.q_proj.weight, source.visual.attnpool.q_proj.weight)

    requests_before = len(hub.log)
    again = factory.create_model("pmc-clip", offline=True)  # everything now comes from the cache
    assert len(hub.log) == requests_before
    assert torch.equal(
        again.model.text_encoder.embeddings.word_embeddings.weight,
        source.text_encoder.embeddings.word_embeddings.weight,
    )


def test_offline_miss_names_the_file(tiny_registry):
    with pytest.raises(OfflineError, match=r"image_encoder\(resnet50\)\.pth"):
        factory.create_model("pmc-clip", offline=True)


def test_local_weights_and_tokenizer_never_download(tiny_registry, hub, tmp_path):
    torch.save({"state_dict": tiny_model(seed=2).state_dict()}, tmp_path / "checkpoint.pt")
    vocab = tiny_vocab(tmp_path / "tok")
    loaded = factory.create_model("pmc-clip", weights=tmp_path / "checkpoint.pt", tokenizer=vocab)
    assert loaded.dim == 32 and loaded.context_length == 77
    assert hub.log == []
