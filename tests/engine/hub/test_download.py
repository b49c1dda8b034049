"""Downloads against a local stand-in for the hub: progress, resume, verification, offline mode."""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import huggingface_hub.constants
import pytest

from engine import paths
from engine.errors import CancelledError, ChecksumError, DownloadError, OfflineError
from engine.hub import (
    PMC_CLIP_EXTRACTED,
    PMC_CLIP_FULL_CHECKPOINT,
    PUBMEDBERT_TOKENIZER,
    RemoteFile,
    cached_file_path,
    fetch,
    local_path,
)
from engine.hub import transfer as resumable_transfer
from engine.hub.file_lock import exclusive_lock
from tests.local_hub import ServedFile, online_local_hub

DATASET_PATH = "datasets/axiong/pmc_oa/resolve/main/"
ENCODER = RemoteFile("axiong/pmc_oa", "image_encoder(resnet50).pth", repo_type="dataset")


@pytest.fixture
def hub(monkeypatch):
    """A local hub, with downloads switched on for this test only."""
    monkeypatch.setattr(resumable_transfer, "_wait_before_retry", lambda attempt: None)  # no back-off in tests
    yield from online_local_hub(monkeypatch)


def _payload(n_bytes: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (n_bytes // len(block) + 1))[:n_bytes]


def test_download_reports_progress_and_lands_in_the_cache(hub):
    content = _payload(3_000_000)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    reports = []

    path = fetch(ENCODER, progress=reports.append)

    assert path.read_bytes() == content
    assert path == cached_file_path(ENCODER) and paths.cache_dir() in path.parents
    assert reports, "progress was never reported"
    assert reports[-1].done_bytes == reports[-1].total_bytes == len(content)
    assert reports[-1].filename == ENCODER.filename
    assert reports[-1].rate_bps and reports[-1].rate_bps > 0
    assert reports[-1].eta_seconds == 0
    assert [r.done_bytes for r in reports] == sorted(r.done_bytes for r in reports)
    assert all(r.eta_seconds is None or r.eta_seconds >= 0 for r in reports)
    # The parentheses in the name travel URL-encoded and come back as the same file name.
    assert hub.gets()[0].path.endswith("image_encoder(resnet50).pth")


def test_second_fetch_uses_the_cache_without_any_request(hub):
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(_payload(1000)))
    first = fetch(ENCODER)
    requests_after_first = len(hub.log)
    assert fetch(ENCODER) == first
    assert fetch(ENCODER, offline=True) == first
    assert len(hub.log) == requests_after_first
    assert local_path(ENCODER) == first


def test_dropped_connection_is_resumed_with_a_range_request(hub):
    content = _payload(1_000_000, seed=1)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content, drop_after_bytes=400_000, drops_left=1))

    path = fetch(ENCODER)

    assert path.read_bytes() == content
    gets = hub.gets()
    assert len(gets) == 2
    assert gets[0].range is None
    resumed_from = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert resumed_from == 400_000  # every byte that arrived was kept


def test_interrupted_call_leaves_a_partial_that_the_next_call_completes(hub, monkeypatch):
    content = _payload(900_000, seed=2)
    served = ServedFile(content, drop_after_bytes=200_000, drops_left=resumable_transfer._ATTEMPTS)
    hub.add(DATASET_PATH + ENCODER.filename, served)

    with pytest.raises(DownloadError, match="run the same command again"):
        fetch(ENCODER)
    partial = cached_file_path(ENCODER).with_name(ENCODER.filename + ".part")
    kept = partial.stat().st_size
    assert kept == resumable_transfer._ATTEMPTS * 200_000  # each attempt resumed and added what arrived
    assert local_path(ENCODER) is None

    gets_before = len(hub.gets())
    path = fetch(ENCODER)
    assert path.read_bytes() == content
    second_call = hub.gets()[gets_before:]
    assert [g.range for g in second_call] == [f"bytes={kept}-"]
    assert not partial.exists()


def test_cancel_keeps_the_partial_and_the_next_call_resumes(hub):
    content = _payload(2_000_000, seed=3)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    seen = []

    def cancel_after_some_bytes():
        seen.append(1)
        return len(seen) >= 3

    with pytest.raises(CancelledError, match="resumes"):
        fetch(ENCODER, cancel=cancel_after_some_bytes)
    partial = cached_file_path(ENCODER).with_name(ENCODER.filename + ".part")
    kept = partial.stat().st_size
    assert 0 < kept < len(content)

    reports = []
    path = fetch(ENCODER, progress=reports.append)
    assert path.read_bytes() == content
    assert hub.gets()[-1].range == f"bytes={kept}-"
    assert reports[-1].done_bytes == len(content)


def test_large_file_redirected_to_a_cdn_is_fetched_from_there_and_checked(hub):
    content = _payload(700_000, seed=7)
    hub.add(
        DATASET_PATH + ENCODER.filename, ServedFile(content, lfs_redirect=True, drop_after_bytes=100_000, drops_left=1)
    )
    assert fetch(ENCODER).read_bytes() == content
    heads = [r for r in hub.log if r.method == "HEAD"]
    assert len(heads) == 1 and not heads[0].path.startswith("/cdn/")
    assert [g.path.startswith("/cdn/") for g in hub.gets()] == [True, True]
    assert hub.gets()[1].range == "bytes=100000-"
    record = json.loads(cached_file_path(ENCODER).with_name(ENCODER.filename + ".verified.json").read_text())
    assert record["sha256"] == hashlib.sha256(content).hexdigest() == record["etag"]


def test_a_passing_server_error_is_retried(hub):
    content = _payload(50_000, seed=9)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content, fail_with_status=503, failures_left=2))
    assert fetch(ENCODER).read_bytes() == content
    assert len(hub.gets()) == 3


def test_a_lasting_server_error_is_a_download_error(hub):
    served = ServedFile(_payload(50_000), fail_with_status=503, failures_left=99)
    hub.add(DATASET_PATH + ENCODER.filename, served)
    with pytest.raises(DownloadError, match="503"):
        fetch(ENCODER)
    assert len(hub.gets()) == resumable_transfer._ATTEMPTS


def test_forbidden_is_not_retried(hub):
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(_payload(50_000), fail_with_status=403, failures_left=99))
    with pytest.raises(DownloadError, match="403"):
        fetch(ENCODER)
    assert len(hub.gets()) == 1


def test_server_ignoring_range_restarts_cleanly(hub):
    content = _payload(500_000, seed=4)
    hub.add(
        DATASET_PATH + ENCODER.filename,
        ServedFile(content, drop_after_bytes=100_000, drops_left=1, ignore_range=True),
    )
    assert fetch(ENCODER).read_bytes() == content


def test_pinned_sha256_mismatch_is_rejected_and_the_file_deleted(hub):
    content = _payload(10_000, seed=5)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    pinned = RemoteFile(ENCODER.repo_id, ENCODER.filename, "dataset", sha256="ab" * 32)

    with pytest.raises(ChecksumError, match="sha256"):
        fetch(pinned)
    folder = cached_file_path(pinned).parent
    assert not [p for p in folder.iterdir() if not p.name.endswith((".json", ".lock"))]
    assert local_path(pinned) is None


def test_pinned_sha256_match_is_accepted(hub):
    content = _payload(10_000, seed=6)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    pinned = RemoteFile(ENCODER.repo_id, ENCODER.filename, "dataset", sha256=hashlib.sha256(content).hexdigest())
    assert fetch(pinned).read_bytes() == content
    assert local_path(pinned) is not None


def test_content_not_matching_the_servers_lfs_etag_is_rejected(hub):
    # The server's ETag for an LFS file is the sha256 of the content; bytes corrupted in transit do not match it.
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(_payload(10_000), etag=hashlib.sha256(b"other").hexdigest()))
    with pytest.raises(ChecksumError, match="ETag"):
        fetch(ENCODER)
    assert local_path(ENCODER) is None


def test_pinned_size_that_disagrees_with_the_server_is_rejected_before_downloading(hub):
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(_payload(10_000)))
    with pytest.raises(ChecksumError, match="10000 bytes"):
        fetch(RemoteFile(ENCODER.repo_id, ENCODER.filename, "dataset", size=12_345))
    assert hub.gets() == []


def test_small_git_file_is_checked_against_its_git_blob_sha1(hub):
    vocab = PUBMEDBERT_TOKENIZER[0]
    content = b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    repo_path = f"{vocab.repo_id}/resolve/main/vocab.txt"
    hub.add(repo_path, ServedFile(content, etag=git_sha1))
    assert fetch(vocab).read_bytes() == content

    other = RemoteFile(vocab.repo_id, "tokenizer_config.json")
    hub.add(f"{other.repo_id}/resolve/main/tokenizer_config.json", ServedFile(b"{}", etag=git_sha1))
    with pytest.raises(ChecksumError, match="git blob sha1"):
        fetch(other)


def test_offline_flag_names_the_missing_file_where_and_how(hub):
    with pytest.raises(OfflineError) as caught:
        fetch(ENCODER, offline=True)
    message = str(caught.value)
    assert ENCODER.filename in message and "axiong/pmc_oa" in message
    assert str(cached_file_path(ENCODER)) in message
    assert "pmc-search download" in message and "--weights" in message
    assert f"{hub.url}/datasets/axiong/pmc_oa/resolve/main/image_encoder%28resnet50%29.pth" in message
    assert hub.log == []


def test_hf_hub_offline_environment_means_offline(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        fetch(ENCODER)
    assert hub.log == []


def test_huggingface_hub_own_offline_switch_is_reported_as_offline(hub, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineError, match=r"image_encoder\(resnet50\)\.pth"):
        fetch(ENCODER)


def test_missing_remote_file_is_a_download_error(hub):
    with pytest.raises(DownloadError, match="text_encoder.pth"):
        fetch(PMC_CLIP_EXTRACTED[1])


def test_unreachable_hub_is_a_download_error_that_says_so(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(DownloadError) as caught:
        fetch(ENCODER)
    assert not isinstance(caught.value, OfflineError)
    assert "127.0.0.1:9" in str(caught.value)


def test_cached_file_that_changed_size_since_download_is_not_trusted(hub):
    content = _payload(20_000, seed=10)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    path = fetch(ENCODER)
    path.write_bytes(content[:-1])
    assert local_path(ENCODER) is None
    assert fetch(ENCODER).read_bytes() == content


def test_hand_placed_file_is_accepted_and_checked(tmp_path):
    content = b"weights"
    pinned = RemoteFile("axiong/pmc_oa", "text_encoder.pth", "dataset", sha256=hashlib.sha256(content).hexdigest())
    target = cached_file_path(pinned, cache_dir=tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    assert local_path(pinned, cache_dir=tmp_path) == target
    assert fetch(pinned, offline=True, cache_dir=tmp_path) == target
    target.write_bytes(b"tampered")
    assert local_path(pinned, cache_dir=tmp_path) is None


@pytest.mark.parametrize("name", ["../escape.pth", "/etc/passwd", "a/../../b", "dir\\x.pth", "", "."])
def test_file_names_that_escape_the_cache_are_refused(name):
    with pytest.raises(DownloadError):
        cached_file_path(RemoteFile("axiong/pmc_oa", name, "dataset"))


def test_known_files_point_at_the_official_repos(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert [f.filename for f in PMC_CLIP_EXTRACTED] == [
        "image_encoder(resnet50).pth",
        "text_encoder.pth",
        "text_projection_layer.pth",
    ]
    assert PMC_CLIP_EXTRACTED[0].url() == (
        "https://huggingface.co/datasets/axiong/pmc_oa/resolve/main/image_encoder%28resnet50%29.pth"
    )
    assert PMC_CLIP_FULL_CHECKPOINT.url() == "https://huggingface.co/datasets/axiong/pmc_oa/resolve/main/checkpoint.pt"
    assert {f.filename for f in PUBMEDBERT_TOKENIZER} >= {"vocab.txt", "tokenizer_config.json"}
    assert (
        PUBMEDBERT_TOKENIZER[0]
        .url()
        .startswith(
            "https://huggingface.co/microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext/resolve/main/"
        )
    )


def test_cache_follows_pmc_search_home(isolated_home):
    assert str(cached_file_path(ENCODER)).startswith(os.fspath(isolated_home))


def test_two_simultaneous_fetches_download_once(hub):
    content = _payload(1_500_000, seed=8)
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(content))
    target = cached_file_path(ENCODER)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Both fetches start while the lock is held, so both are past the cache check and must wait for it.
        with exclusive_lock(target.with_name(target.name + ".lock")):
            futures = [pool.submit(fetch, ENCODER) for _ in range(2)]
            time.sleep(0.5)
            assert not any(f.done() for f in futures)
        paths = [f.result(timeout=30) for f in futures]
    assert paths[0] == paths[1] and paths[0].read_bytes() == content
    assert len(hub.gets()) == 1


def test_waiting_for_another_download_can_be_cancelled(hub):
    hub.add(DATASET_PATH + ENCODER.filename, ServedFile(_payload(1000)))
    target = cached_file_path(ENCODER)
    polls = []
    with exclusive_lock(target.with_name(target.name + ".lock")), pytest.raises(CancelledError, match="another"):
        fetch(ENCODER, cancel=lambda: polls.append(1) or len(polls) > 2)
    assert hub.gets() == []
    assert fetch(ENCODER).read_bytes() == _payload(1000)
