"""What a downloadable file is, where its verified copy lives, and the record that says it was verified.

The lowest layer of `engine.hub`: no HTTP, no torch. `fetch` (the cache) and `transfer` (the bytes) both build on
it, so neither reaches into the other's private names.

Layout: `cache_dir()/hf/<repo_type>s--<owner>--<name>/<revision>/<filename>`, with `<filename>.verified.json` next to
it recording the size and sha256 we checked. A file is only moved to its final name after it has been verified.

Environment, read at call time: `HF_ENDPOINT` (a mirror, or the tests' local server) and `HF_HUB_OFFLINE=1`
(use only local files).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from engine import paths
from engine.errors import DownloadError
from engine.fileio import atomic_write_text

DEFAULT_ENDPOINT = "https://huggingface.co"


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


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def offline_from_environment() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def cache_root(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir) if cache_dir is not None else paths.cache_dir()


def cached_file_path(file: RemoteFile, cache_dir: Path | None = None) -> Path:
    """Where `file` lives once downloaded (whether or not it is there yet)."""
    validate(file)
    repo_folder = f"{file.repo_type}s--{file.repo_id.replace('/', '--')}"
    return (
        cache_root(cache_dir)
        / "hf"
        / repo_folder
        / quote(file.revision, safe="")
        / Path(*PurePosixPath(file.filename).parts)
    )


_SAFE_NAME = re.compile(r"^[\w.()\-+ ]+$")


def validate(file: RemoteFile) -> None:
    """The filename becomes a path under our cache; it must not be able to point anywhere else."""
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


def offline_message(file: RemoteFile, target: Path, root: Path) -> str:
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
