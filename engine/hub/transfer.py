"""The byte-moving half of `engine.hub.cache`: HEAD for metadata, ranged GET into a `.part` file, verify.

A `.part` file survives failures and cancellation; the next attempt asks only for the bytes after it
(`Range: bytes=N-`). A sidecar `.part.json` remembers which version (ETag) the partial bytes belong to, so a file
that changed on the hub in between is restarted instead of spliced.

Hub files get their metadata from huggingface_hub (which knows the hub's redirects and headers); plain-URL files
from a HEAD request that follows redirects. Only hub files send the hub's auth headers, and only to the hub.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import get_hf_file_metadata
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from engine.errors import CancelledError, ChecksumError, DownloadError, OfflineError, RemoteFileMissingError
from engine.fileio import atomic_write_text, file_digests
from engine.hub.remote import (
    AnyRemoteFile,
    DownloadProgress,
    RemoteFile,
    UrlFile,
    hub_endpoint,
    offline_message,
    write_record,
)

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20
_PROGRESS_INTERVAL_S = 0.2
_ATTEMPTS = 3  # a dropped connection is resumed this many times within one call before giving up
_CONNECT_TIMEOUT_S = 20.0
_READ_TIMEOUT_S = 60.0  # a stalled transfer fails (and can be resumed) instead of hanging forever

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


class _RestartFromZero(Exception):
    """The server refused our Range (416): the partial file is unusable."""


class _TransientServerError(Exception):
    """A 5xx or 429 answer: worth another attempt, like a dropped connection."""


def download_to(
    file: AnyRemoteFile,
    target: Path,
    cache_root: Path,
    *,
    progress: Callable[[DownloadProgress], None] | None,
    cancel: Callable[[], bool] | None,
) -> Path:
    endpoint = hub_endpoint()
    url = file.url(endpoint)
    if isinstance(file, UrlFile):
        location, etag, remote_size = _url_metadata(file, url, target)
    else:
        location, etag, remote_size = _metadata(file, url, target, cache_root, endpoint)
    if file.size is not None and remote_size is not None and remote_size != file.size:
        raise ChecksumError(
            f"{url} has {remote_size} bytes on the server, but {file.filename} should have {file.size}: the remote "
            "file changed; refusing it"
        )
    expected_size = file.size if file.size is not None else remote_size
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    _discard_stale_partial(partial, etag)

    meter = _ProgressMeter(file.filename, expected_size, _size_or_zero(partial), progress)
    on_hub = isinstance(file, RemoteFile) and _same_origin(location, endpoint)
    headers = build_hf_headers() if on_hub else {}
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            _get_into(location, headers, partial, expected_size, meter, cancel)
            break
        except _RestartFromZero:
            partial.unlink(missing_ok=True)
            meter.restart_from_zero()
        except OSError as e:  # disk full, permissions: retrying will not help
            raise DownloadError(f"cannot write {partial}: {e}") from e
        except (httpx2.TransportError, _TransientServerError) as e:
            done = _size_or_zero(partial)
            if attempt == _ATTEMPTS:
                raise DownloadError(
                    f"download of {file.filename} from {url} failed after {attempt} attempts at {done} of "
                    f"{expected_size if expected_size is not None else '?'} bytes ({e}); run the same command again "
                    "to resume from there"
                ) from e
            logger.warning("download of %s interrupted at %d bytes (%s); resuming", file.filename, done, e)
            _wait_before_retry(attempt)
    else:
        raise DownloadError(f"download of {file.filename} from {url} kept restarting; giving up")
    meter.report()

    digests = _verify(file, url, partial, expected_size, etag)
    os.replace(partial, target)
    write_record(target, {"size": target.stat().st_size, **digests, "etag": etag, "url": url})
    _part_record(partial).unlink(missing_ok=True)
    logger.info("downloaded %s to %s", url, target)
    return target


def _wait_before_retry(attempt: int) -> None:
    time.sleep(min(0.25 * 2**attempt, 5.0))


def _metadata(
    file: RemoteFile, url: str, target: Path, cache_root: Path, endpoint: str
) -> tuple[str, str | None, int | None]:
    try:
        meta = get_hf_file_metadata(url, endpoint=endpoint)
    except OfflineModeIsEnabled as e:
        raise OfflineError(offline_message(file, target, cache_root) + " (huggingface_hub is in offline mode)") from e
    except HfHubHTTPError as e:
        if isinstance(e, EntryNotFoundError):
            raise RemoteFileMissingError(f"{url} does not exist on the hub: {e}") from e
        raise DownloadError(f"the hub refused {url}: {e}") from e
    except httpx2.HTTPError as e:
        raise DownloadError(
            f"cannot reach {endpoint} to download {file.filename} ({e}); check the connection, set HF_ENDPOINT to a "
            f"mirror, or put the file at {target} yourself"
        ) from e
    except EntryNotFoundError as e:  # hub's "no such file" is not always an HTTP error type
        raise RemoteFileMissingError(f"{url} does not exist on the hub: {e}") from e
    except ValueError as e:
        raise DownloadError(f"cannot download {url}: {e}") from e
    return meta.location, meta.etag, meta.size


def _url_metadata(file: UrlFile, url: str, target: Path) -> tuple[str, str | None, int | None]:
    """(final location after redirects, ETag, size) of a plain-URL file from a HEAD request."""
    timeout = httpx2.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S)
    try:
        response = get_session().head(
            url, headers={"Accept-Encoding": "identity"}, follow_redirects=True, timeout=timeout
        )
    except httpx2.HTTPError as e:
        raise DownloadError(
            f"cannot reach {url} to download {file.filename} ({e}); check the connection, or put the file at "
            f"{target} yourself"
        ) from e
    if response.status_code == 404:
        raise RemoteFileMissingError(f"{url} does not exist (HTTP 404)")
    if response.status_code >= 400:
        raise DownloadError(f"the server refused {url} (HTTP {response.status_code})")
    length = response.headers.get("Content-Length")
    # A server that compresses or streams on the fly (OSF's zip endpoint) announces no usable length.
    size = int(length) if length and length.isdigit() and not response.headers.get("Content-Encoding") else None
    etag = (response.headers.get("ETag") or "").removeprefix("W/").strip('"') or None
    return str(response.url), etag, size


def _get_into(location, headers, partial: Path, expected_size, meter: _ProgressMeter, cancel) -> None:
    offset = _size_or_zero(partial)
    if expected_size is not None and offset == expected_size:
        return  # a previous attempt got every byte; only verification is left
    if expected_size is not None and offset > expected_size:
        raise _RestartFromZero()
    request_headers = {**headers, "Accept-Encoding": "identity"}
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    timeout = httpx2.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S)
    with get_session().stream("GET", location, headers=request_headers, timeout=timeout) as response:
        _raise_for_status(response, location)
        mode = _write_mode(response, location, offset, meter)
        with open(partial, mode) as out:
            # Chunks as they arrive (not re-buffered to a fixed size), so a dropped connection loses no bytes.
            for chunk in response.iter_bytes():
                out.write(chunk)
                meter.advance(len(chunk))
                if cancel is not None and cancel():
                    out.flush()
                    raise CancelledError(
                        f"download of {partial.name[: -len('.part')]} cancelled at {meter.done} bytes; "
                        "it resumes from there next time"
                    )


def _raise_for_status(response, location: str) -> None:
    if response.status_code == 416:
        raise _RestartFromZero()
    if response.status_code >= 500 or response.status_code == 429:
        raise _TransientServerError(f"{location} answered HTTP {response.status_code}")
    if response.status_code >= 400:
        response.read()
        try:
            hf_raise_for_status(response)
        except HfHubHTTPError as e:
            raise DownloadError(f"the server refused {location}: {e}") from e


def _write_mode(response, location: str, offset: int, meter: _ProgressMeter) -> str:
    """"ab" to append the ranged answer to what we have; "wb" when the server sent the whole file instead."""
    if offset and response.status_code == 200:
        logger.info("server ignored the Range request for %s; starting over", location)
        meter.restart_from_zero()
        return "wb"
    if offset and response.status_code == 206:
        start = _content_range_start(response.headers.get("Content-Range"))
        if start != offset:
            raise DownloadError(f"asked {location} for bytes from {offset}, got a range from {start}")
    return "ab"


def _verify(
    file: AnyRemoteFile, url: str, partial: Path, expected_size: int | None, etag: str | None
) -> dict[str, str]:
    """{'sha256': …} (+ 'md5' when pinned) of the verified download; a mismatch deletes it and raises."""
    on_hub = isinstance(file, RemoteFile)
    hub_etag = etag.lower() if on_hub and etag else ""  # only the hub's ETags are content hashes
    actual_size = _size_or_zero(partial)
    digests = file_digests(partial, ("sha256", "md5") if file.md5 else ("sha256",))
    git_sha1 = _git_blob_sha1(partial) if _HEX40.match(hub_etag) else None
    problem = None
    if expected_size is not None and actual_size != expected_size:
        problem = f"has {actual_size} bytes, expected {expected_size}"
    elif file.sha256 is not None and digests["sha256"] != file.sha256.lower():
        problem = f"has sha256 {digests['sha256']}, expected {file.sha256.lower()}"
    elif file.md5 is not None and digests["md5"] != file.md5.lower():
        problem = f"has md5 {digests['md5']}, expected {file.md5.lower()}"
    elif file.sha256 is None and _HEX64.match(hub_etag) and digests["sha256"] != hub_etag:
        problem = f"has sha256 {digests['sha256']}, but the server's ETag says {hub_etag}"
    elif git_sha1 is not None and git_sha1 != hub_etag:
        problem = f"has git blob sha1 {git_sha1}, but the server's ETag says {hub_etag}"
    if problem:
        partial.unlink(missing_ok=True)
        _part_record(partial).unlink(missing_ok=True)
        raise ChecksumError(f"downloaded {file.filename} from {url} {problem}; the bad file was deleted")
    return digests


def _git_blob_sha1(path: Path) -> str:
    # Git names a small (non-LFS) file by sha1("blob <size>\0" + content); the hub sends that as its ETag. Only
    # small files carry such ETags (LFS files' ETag is their sha256), so reading them twice costs nothing.
    git_sha1 = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    git_sha1.update(path.read_bytes())
    return git_sha1.hexdigest()


def _part_record(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def _discard_stale_partial(partial: Path, etag: str | None) -> None:
    record = _part_record(partial)
    if partial.exists():
        try:
            previous = json.loads(record.read_text(encoding="utf-8")).get("etag")
        except (OSError, ValueError):
            previous = None
        if previous != etag or etag is None:
            logger.info("discarding partial %s: it belongs to another version of the file", partial)
            partial.unlink()
    atomic_write_text(record, json.dumps({"etag": etag}))


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _same_origin(url: str, endpoint: str) -> bool:
    # Our hub token goes only to the hub itself, never to the CDN it redirects to.
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _content_range_start(value: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-", value or "")
    return int(match.group(1)) if match else None


class _ProgressMeter:
    """Turns bytes written into throttled `DownloadProgress` reports; the rate counts only this session's bytes."""

    def __init__(self, filename: str, total: int | None, already: int, callback):
        self.filename, self.total, self.callback = filename, total, callback
        self.session_start_bytes = self.done = already
        self.started = time.monotonic()
        self.last_report = 0.0

    def advance(self, n_bytes: int) -> None:
        self.done += n_bytes
        if time.monotonic() - self.last_report >= _PROGRESS_INTERVAL_S:
            self.report()

    def report(self) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        self.last_report = now
        elapsed = now - self.started
        transferred = self.done - self.session_start_bytes
        rate = transferred / elapsed if elapsed > 0 and transferred > 0 else None
        eta = max(self.total - self.done, 0) / rate if rate and self.total is not None else None
        self.callback(DownloadProgress(self.filename, self.done, self.total, rate, eta))

    def restart_from_zero(self) -> None:
        self.done = self.session_start_bytes = 0
