"""`pmc-search download` against a local stand-in for the hub."""

from __future__ import annotations

import hashlib

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK, main
from app.commands.download import files_to_download
from engine.hub import PMC_CLIP_FULL_CHECKPOINT, local_path
from tests.local_hub import ServedFile, online_local_hub


@pytest.fixture
def hub(monkeypatch):
    yield from online_local_hub(monkeypatch)


def _serve(hub, remote, content: bytes) -> None:
    prefix = "datasets/" if remote.repo_type == "dataset" else ""
    hub.add(f"{prefix}{remote.repo_id}/resolve/main/{remote.filename}", ServedFile(content))


def test_download_fetches_every_file_of_the_model(hub, capsys):
    files = files_to_download("pmc-clip", full_checkpoint=False)
    for i, remote in enumerate(files):
        _serve(hub, remote, hashlib.sha256(bytes([i])).digest() * 100)

    assert main(["download"]) == EXIT_OK

    out = capsys.readouterr().out
    for remote in files:
        assert local_path(remote) is not None
        assert remote.filename in out
    assert local_path(PMC_CLIP_FULL_CHECKPOINT) is None
    assert len(hub.gets()) == len(files)
    # A second run finds everything cached and transfers nothing.
    assert main(["download"]) == EXIT_OK
    assert len(hub.gets()) == len(files)
    assert capsys.readouterr().out.count("already here") == len(files)


def test_full_checkpoint_flag_adds_the_checkpoint():
    names = [f.filename for f in files_to_download("pmc-clip", full_checkpoint=True)]
    assert "checkpoint.pt" in names and "image_encoder(resnet50).pth" in names and "vocab.txt" in names


def test_download_while_offline_names_the_file_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "image_encoder(resnet50).pth" in err and "HF_HUB_OFFLINE" in err
