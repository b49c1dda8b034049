"""Fetch model files from the Hugging Face hub once, resumably, verified, into the engine's cache.

huggingface_hub does the hub-specific parts (the resolve URL, the HEAD request that yields size, ETag and commit,
redirects to the CDN, auth headers, HF_HUB_OFFLINE). The transfer itself is ours: hub's `hf_hub_download` reports
progress only through a tqdm class and cannot be cancelled between chunks, and the engine must not depend on tqdm.
So we stream the file with a ranged GET on hub's HTTP session, appending to a `.part` file that a later call
resumes with `Range: bytes=N-`.

Layout: `cache_dir()/hf/<repo_type>s--<owner>--<name>/<revision>/<filename>`, with `<filename>.verified.json` next to
it recording the size and sha256 we checked. A file is only moved to its final name after it has been verified.

Expected hashes: a `RemoteFile.sha256` we pin wins; otherwise the hub's ETag is used, which for LFS files (all the
large weight files) *is* the sha256 of the content, and for small git files is the git blob sha1.

Environment, read at call time: `HF_ENDPOINT` (a mirror, or the tests' local server) and `HF_HUB_OFFLINE=1`
(use only local files). huggingface_hub itself reads `HF_HUB_OFFLINE` when it is imported and then refuses all
HTTP; tests that serve files locally reset `huggingface_hub.constants.HF_HUB_OFFLINE` as well.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from engine import paths
from engine.errors import DownloadError, OfflineError
from engine.models.file_lock import exclusive_lock

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    filename: str
    repo_type: str = "model"  # "model" or "dataset"
    revision: str = "main"
    size: int | None = None
    sha256: str | None = None

    def url(self, endpoint: str | None = None) -> str:
        """The hub's resolve URL for this file (what a browser or `curl -L` can fetch)."""
        prefix = "datasets/" if self.repo_type == "dataset" else ""
        base = (endpoint or hub_endpoint()).rstrip("/")
        return f"{base}/{prefix}{self.repo_id}/resolve/{quote(self.revision, safe='')}/{quote(self.filename)}"


@dataclass(frozen=True)
class DownloadProgress:
    filename: str
    done_bytes: int
    total_bytes: int | None
    rate_bps: float | None
    eta_seconds: float | None


_PMC_OA = "axiong/pmc_oa"
PMC_CLIP_EXTRACTED: tuple[RemoteFile, RemoteFile, RemoteFile] = (
    RemoteFile(_PMC_OA, "image_encoder(resnet50).pth", repo_type="dataset"),
    RemoteFile(_PMC_OA, "text_encoder.pth", repo_type="dataset"),
    RemoteFile(_PMC_OA, "text_projection_layer.pth", repo_type="dataset"),
)
PMC_CLIP_FULL_CHECKPOINT = RemoteFile(_PMC_OA, "checkpoint.pt", repo_type="dataset")
_PUBMEDBERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"
PUBMEDBERT_TOKENIZER: tuple[RemoteFile, ...] = (
    RemoteFile(_PUBMEDBERT, "vocab.txt"),
    RemoteFile(_PUBMEDBERT, "tokenizer_config.json"),
)


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def offline_from_environment() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def cached_file_path(file: RemoteFile, cache_dir: Path | None = None) -> Path:
    """Where `file` lives once downloaded (whether or not it is there yet)."""
    _validate(file)
    root = _cache_root(cache_dir)
    repo_folder = f"{file.repo_type}s--{file.repo_id.replace('/', '--')}"
    return root / "hf" / repo_folder / quote(file.revision, safe="") / Path(*PurePosixPath(file.filename).parts)


def _cache_root(cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else paths.cache_dir()


def local_path(file: RemoteFile, cache_dir=None) -> Path | None:
    """The cached copy of `file` if it is complete and matches the size/sha256 we know of, else None."""
    target = cached_file_path(file, cache_dir)
    if not target.is_file():
        return None
    actual_size = target.stat().st_size
    record = _read_record(target)
    expected_size = file.size if file.size is not None else record.get("size")
    if expected_size is not None and actual_size != expected_size:
        # Pinned size, or the size we verified at download time: a file that changed since is not trusted.
        logger.warning("%s has %d bytes, expected %d; ignoring it", target, actual_size, expected_size)
        return None
    if file.sha256 is not None:
        recorded = record.get("sha256") if record.get("size") == actual_size else None
        actual = recorded or _sha256_of(target)
        if actual != file.sha256.lower():
            logger.warning("%s has sha256 %s, expected %s; ignoring it", target, actual, file.sha256)
            return None
        if recorded is None:  # placed there by hand: remember the hash so the next check is instant
            _write_record(target, {"size": actual_size, "sha256": actual})
    return target


def fetch(
    file: RemoteFile,
    *,
    offline: bool = False,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Return the local path of `file`, downloading it first unless it is already cached and verified.

    Raises `OfflineError` (offline and not cached; the message says where it is expected and how to get it),
    `ChecksumError` (the download does not have the size/hash it should; the bad file is deleted), `DownloadError`
    (network or server trouble; a partial file is kept and the next call resumes it) or `CancelledError`.
    """
    found = local_path(file, cache_dir)
    if found is not None:
        return found
    target = cached_file_path(file, cache_dir)
    if offline or offline_from_environment():
        raise OfflineError(_offline_message(file, target, _cache_root(cache_dir)))
    # Imported here so that merely using cached files never loads the HTTP stack.
    from engine.models.resumable_transfer import download_to

    with exclusive_lock(target.with_name(target.name + ".lock"), cancel=cancel):
        found = local_path(file, cache_dir)  # whoever held the lock before us may have fetched it already
        if found is not None:
            return found
        return download_to(file, target, _cache_root(cache_dir), progress=progress, cancel=cancel)


def _offline_message(file: RemoteFile, target: Path, cache_root: Path) -> str:
    return (
        f"{file.filename} (from the Hugging Face {file.repo_type} repo {file.repo_id}) is not on this machine and "
        f"downloading is off (offline mode or HF_HUB_OFFLINE=1). It is expected at {target}. To get it: run "
        f"`pmc-search download` on a machine with internet and copy its cache folder's `hf` subfolder into "
        f"{cache_root}, or download {file.url()} yourself and pass it with --weights."
    )


_SAFE_NAME = re.compile(r"^[\w.()\-+ ]+$")


def _validate(file: RemoteFile) -> None:
    # The filename becomes a path under our cache; it must not be able to point anywhere else.
    parts = PurePosixPath(file.filename).parts
    if (
        not parts
        or file.filename.startswith("/")
        or "\\" in file.filename
        or any(p in ("..", ".") or not _SAFE_NAME.match(p) for p in parts)
    ):
        raise DownloadError(f"refusing a remote file name that is not a plain relative path: {file.filename!r}")
    if file.repo_type not in ("model", "dataset") or not re.fullmatch(r"[\w.\-]+/[\w.\-]+", file.repo_id):
        raise DownloadError(f"not a Hugging Face model/dataset repo: {file.repo_type} {file.repo_id!r}")
    if ".." in file.revision:
        raise DownloadError(f"invalid revision {file.revision!r}")


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _read_record(target: Path) -> dict:
    try:
        return json.loads(_record_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_record(target: Path, record: dict) -> None:
    tmp = _record_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, _record_path(target))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
