"""Fetch model files from the Hugging Face hub once, resumably, verified, into the engine's cache.

huggingface_hub does the hub-specific parts (the resolve URL, the HEAD request that yields size, ETag and commit,
redirects to the CDN, auth headers, HF_HUB_OFFLINE). The transfer itself is ours (`engine.hub.transfer`): hub's
`hf_hub_download` reports progress only through a tqdm class and cannot be cancelled between chunks, and the engine
must not depend on tqdm.

Expected hashes: a `RemoteFile.sha256` we pin wins; otherwise the hub's ETag is used, which for LFS files (all the
large weight files) *is* the sha256 of the content, and for small git files is the git blob sha1. Plain-URL files
(`UrlFile`) are checked against a pinned sha256 or md5 and the announced size.

`target=` puts a file at a path of the caller's choosing instead of the cache (data sets go where the user says);
everything else (lock, `.part` file, resume, verification record) works the same there.

Importing this module imports neither torch nor the HTTP stack: merely using cached files stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from engine.errors import OfflineError
from engine.fileio import file_digests
from engine.hub.file_lock import exclusive_lock
from engine.hub.remote import (
    AnyRemoteFile,
    DownloadProgress,
    cache_root,
    cached_file_path,
    offline_from_environment,
    offline_message,
    read_record,
    validate,
    write_record,
)

logger = logging.getLogger(__name__)


def local_path(file: AnyRemoteFile, cache_dir=None, *, target: Path | None = None) -> Path | None:
    """The cached copy of `file` (or the one at `target`) if it is complete and matches the size/hashes we know of,
    else None."""
    target = Path(target) if target is not None else cached_file_path(file, cache_dir)
    if not target.is_file():
        return None
    actual_size = target.stat().st_size
    record = read_record(target)
    expected_size = file.size if file.size is not None else record.get("size")
    if expected_size is not None and actual_size != expected_size:
        # Pinned size, or the size we verified at download time: a file that changed since is not trusted.
        logger.warning("%s has %d bytes, expected %d; ignoring it", target, actual_size, expected_size)
        return None
    pinned = {name: value.lower() for name, value in (("sha256", file.sha256), ("md5", file.md5)) if value}
    if pinned:
        same_file = record.get("size") == actual_size
        actual = {name: record.get(name) for name in pinned} if same_file else {}
        if not all(actual.get(name) for name in pinned):
            # Placed there by hand (or an older record): hash it once and remember, so the next check is instant.
            actual = file_digests(target, ("sha256", *(n for n in pinned if n != "sha256")))
            write_record(target, {**record, "size": actual_size, **actual})
        for name, expected in pinned.items():
            if actual[name] != expected:
                logger.warning("%s has %s %s, expected %s; ignoring it", target, name, actual[name], expected)
                return None
    return target


def fetch(
    file: AnyRemoteFile,
    *,
    offline: bool = False,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    cache_dir: Path | None = None,
    target: Path | None = None,
) -> Path:
    """Return the local path of `file`, downloading it first unless it is already cached and verified.

    `target`: where the file goes instead of the cache (the caller's folder); it is reused when already verified.

    Raises `OfflineError` (offline and not cached; the message says where it is expected and how to get it),
    `ChecksumError` (the download does not have the size/hash it should; the bad file is deleted), `DownloadError`
    (network or server trouble; a partial file is kept and the next call resumes it) or `CancelledError`.
    """
    validate(file)
    found = local_path(file, cache_dir, target=target)
    if found is not None:
        return found
    target = Path(target) if target is not None else cached_file_path(file, cache_dir)
    if offline or offline_from_environment():
        raise OfflineError(offline_message(file, target, cache_root(cache_dir)))
    # Imported here so that merely using cached files never loads the HTTP stack.
    from engine.hub.transfer import download_to

    with exclusive_lock(target.with_name(target.name + ".lock"), cancel=cancel):
        found = local_path(file, cache_dir, target=target)  # whoever held the lock before us may have fetched it
        if found is not None:
            return found
        return download_to(file, target, cache_root(cache_dir), progress=progress, cancel=cancel)
