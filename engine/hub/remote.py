"""What a downloadable file is, where its verified copy lives, and the record that says it was verified.

The lowest layer of `engine.hub`: no HTTP, no torch. `fetch` (the cache) and `transfer` (the bytes) both build on
it, so neither reaches into the other's private names.

Two kinds of file: `RemoteFile`, a file of a Hugging Face model/dataset repo, and `UrlFile`, a file at a plain
HTTP(S) address outside the hub (MedMNIST's npz on Zenodo, VQA-RAD on OSF, ROCO's captions on GitHub, PMC's
article packages). Both download the same way (progress, resume, verification, offline mode).

Layout: `cache_dir()/hf/<repo_type>s--<owner>--<name>/<revision>/<filename>` and
`cache_dir()/url/<host>/<hash of the address>/<filename>`, with `<filename>.verified.json` next to each recording
the size and sha256 we checked. A caller may instead name the target path (data sets go where the user says). A
file is only moved to its final name after it has been verified.

Environment, read at call time: `HF_ENDPOINT` (a hub mirror, or the tests' local server), `PMC_SEARCH_URL_MIRROR`
(a server that holds plain-URL files under `/<host>/<path>`: an institutional mirror, or the tests' local server)
and `HF_HUB_OFFLINE=1` (use only local files).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from engine import paths
from engine.errors import DownloadError
from engine.fileio import atomic_write_text

DEFAULT_ENDPOINT = "https://huggingface.co"
URL_MIRROR_ENV = "PMC_SEARCH_URL_MIRROR"


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    filename: str
    repo_type: str = "model"  # "model" or "dataset"
    revision: str = "main"
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    def url(self, endpoint: str | None = None) -> str:
        """The hub's resolve URL for this file (what a browser or `curl -L` can fetch)."""
        prefix = "datasets/" if self.repo_type == "dataset" else ""
        base = (endpoint or hub_endpoint()).rstrip("/")
        return f"{base}/{prefix}{self.repo_id}/resolve/{quote(self.revision, safe='')}/{quote(self.filename)}"


@dataclass(frozen=True)
class UrlFile:
    """A file at a plain HTTP(S) address. `filename` is its local name (a plain relative path).

    Expected hashes: the `sha256` or `md5` we pin (MedMNIST publishes MD5s). Servers outside the hub give no
    content hash we could trust, so an unpinned file is checked only against the size the server announced; its
    sha256 is recorded next to it so a later change is noticed.
    """

    address: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    repo_type = "url"  # not a field: lets code that shows a file's origin treat both kinds alike

    def url(self, endpoint: str | None = None) -> str:
        """The address to fetch: the original, or its copy on the `PMC_SEARCH_URL_MIRROR` server."""
        mirror = url_mirror()
        if not mirror:
            return self.address
        parts = urlsplit(self.address)
        query = f"?{parts.query}" if parts.query else ""
        return f"{mirror}/{parts.netloc}{parts.path}{query}"


AnyRemoteFile = RemoteFile | UrlFile


@dataclass(frozen=True)
class DownloadProgress:
    filename: str
    done_bytes: int
    total_bytes: int | None
    rate_bps: float | None
    eta_seconds: float | None


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def url_mirror() -> str:
    return os.environ.get(URL_MIRROR_ENV, "").strip().rstrip("/")


def offline_from_environment() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def cache_root(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir) if cache_dir is not None else paths.cache_dir()


def cached_file_path(file: AnyRemoteFile, cache_dir: Path | None = None) -> Path:
    """Where `file` lives once downloaded (whether or not it is there yet)."""
    validate(file)
    if isinstance(file, UrlFile):
        host = re.sub(r"[^\w.\-]", "_", urlsplit(file.address).netloc) or "host"
        key = hashlib.sha256(file.address.encode("utf-8")).hexdigest()[:16]
        return cache_root(cache_dir) / "url" / host / key / Path(*PurePosixPath(file.filename).parts)
    repo_folder = f"{file.repo_type}s--{file.repo_id.replace('/', '--')}"
    return (
        cache_root(cache_dir)
        / "hf"
        / repo_folder
        / quote(file.revision, safe="")
        / Path(*PurePosixPath(file.filename).parts)
    )


_SAFE_NAME = re.compile(r"^[\w.()\-+ ]+$")


def validate(file: AnyRemoteFile) -> None:
    """The filename becomes a path under our cache; it must not be able to point anywhere else."""
    validate_relative_name(file.filename)
    if isinstance(file, UrlFile):
        if urlsplit(file.address).scheme not in ("http", "https") or not urlsplit(file.address).netloc:
            raise DownloadError(f"not an http(s) address: {file.address!r}")
        return
    if file.repo_type not in ("model", "dataset") or not re.fullmatch(r"[\w.\-]+/[\w.\-]+", file.repo_id):
        raise DownloadError(f"not a Hugging Face model/dataset repo: {file.repo_type} {file.repo_id!r}")
    if ".." in file.revision:
        raise DownloadError(f"invalid revision {file.revision!r}")


def validate_relative_name(filename: str) -> None:
    """A remote file's local name must be a plain relative path that cannot point outside its folder."""
    parts = PurePosixPath(filename).parts
    if (
        not parts
        or filename.startswith("/")
        or "\\" in filename
        or any(p in ("..", ".") or not _SAFE_NAME.match(p) for p in parts)
    ):
        raise DownloadError(f"refusing a remote file name that is not a plain relative path: {filename!r}")


def offline_message(file: AnyRemoteFile, target: Path, root: Path) -> str:
    if isinstance(file, UrlFile):
        return (
            f"{file.filename} (from {file.address}) is not on this machine and downloading is off (offline mode or "
            f"HF_HUB_OFFLINE=1). It is expected at {target}. To get it: download {file.address} on a machine with "
            f"internet and put it there (it is checked before use), or point {URL_MIRROR_ENV} at a local mirror."
        )
    return (
        f"{file.filename} (from the Hugging Face {file.repo_type} repo {file.repo_id}) is not on this machine and "
        f"downloading is off (offline mode or HF_HUB_OFFLINE=1). It is expected at {target}. To get it: run "
        f"`pmc-search download` on a machine with internet and copy its cache folder's `hf` subfolder into "
        f"{root}, or download {file.url()} yourself and pass it with --weights."
    )


def record_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def read_record(target: Path) -> dict:
    """What was verified about `target` when it was downloaded ({} when nothing was recorded)."""
    try:
        record = json.loads(record_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(target: Path, record: dict) -> None:
    atomic_write_text(record_path(target), json.dumps(record, indent=1))
