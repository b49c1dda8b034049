"""A tiny stand-in for the Hugging Face hub on 127.0.0.1, for download tests.

It answers what huggingface_hub and our transfer ask for: HEAD on `/{datasets/}{repo}/resolve/{rev}/{file}` with
ETag, X-Repo-Commit and Content-Length; GET with optional `Range: bytes=N-` (206 + Content-Range). It logs every
request, and can misbehave on purpose: drop the connection half-way through a body, ignore Range, lie in its ETag.

The same server stands in for plain-URL hosts too: with `PMC_SEARCH_URL_MIRROR` pointing at it, a file of
`https://zenodo.org/records/1/files/a.npz?download=1` is looked up under `/zenodo.org/records/1/files/a.npz`
(`add_url` does that mapping). `unknown_length` serves a body without Content-Length, like a zip built on the fly.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class ServedFile:
    content: bytes
    etag: str | None = None  # default: sha256 of the content, like an LFS file
    drop_after_bytes: int | None = None  # close the connection after this many body bytes…
    drops_left: int = 0  # …this many times
    ignore_range: bool = False
    fail_with_status: int | None = None  # answer GETs with this HTTP status…
    failures_left: int = 0  # …this many times
    lfs_redirect: bool = False  # like the real hub for large files: 302 to a CDN path, size/hash in X-Linked-*
    unknown_length: bool = False  # no Content-Length, no Range support; the body ends when the connection closes
    chunk_delay_s: float = 0.0  # a slow line: wait this long after each 64 KiB of body


@dataclass
class LoggedRequest:
    method: str
    path: str
    range: str | None


@dataclass
class LocalHub:
    files: dict[str, ServedFile] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    url: str = ""

    def add(self, repo_path: str, served: ServedFile) -> None:
        """`repo_path` like "datasets/axiong/pmc_oa/resolve/main/text_encoder.pth"."""
        self.files["/" + repo_path] = served

    def add_url(self, address: str, served: ServedFile) -> None:
        """Serve a plain-URL file where `PMC_SEARCH_URL_MIRROR=<this server>` makes the downloader look for it."""
        parts = urlsplit(address)
        self.files[f"/{parts.netloc}{parts.path}"] = served

    def gets(self, suffix: str = "") -> list[LoggedRequest]:
        return [r for r in self.log if r.method == "GET" and r.path.endswith(suffix)]


class _HubHandler(BaseHTTPRequestHandler):
    """Answers like the Hugging Face hub (and plain URL servers) for the files of `hub` (set by `_handler_for`)."""

    hub: LocalHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _lookup(self) -> ServedFile | None:
        path = unquote(urlsplit(self.path).path)
        self.hub.log.append(LoggedRequest(self.command, path, self.headers.get("Range")))
        return self.hub.files.get(path.removeprefix("/cdn"))

    def _redirected(self, served: ServedFile) -> bool:
        if not served.lfs_redirect or urlsplit(self.path).path.startswith("/cdn/"):
            return False
        self.send_response(302)
        # Another host name for the same server, as the real CDN is another host than the hub.
        cdn = self.hub.url.replace("127.0.0.1", "localhost")
        self.send_header("Location", f"{cdn}/cdn{urlsplit(self.path).path}")
        self.send_header("X-Linked-Etag", f'"{hashlib.sha256(served.content).hexdigest()}"')
        self.send_header("X-Linked-Size", str(len(served.content)))
        self.send_header("ETag", '"git-pointer-etag"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _common_headers(self, served: ServedFile) -> None:
        etag = served.etag if served.etag is not None else hashlib.sha256(served.content).hexdigest()
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Accept-Ranges", "bytes")

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        served = self._lookup()
        if served is None:
            return self._not_found()
        if self._redirected(served):
            return
        self.send_response(200)
        if served.unknown_length:  # a HEAD answer has no body, so no length is needed to end it
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        self._common_headers(served)
        self.send_header("Content-Length", str(len(served.content)))
        self.end_headers()

    def do_GET(self):
        served = self._lookup()
        if served is None:
            return self._not_found()
        if self._redirected(served) or self._failed(served) or self._streamed_without_length(served):
            return
        start = self._start_of_range(served)
        if start is None:
            return
        body = served.content[start:]
        self._common_headers(served)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if served.drops_left > 0 and served.drop_after_bytes is not None:
            served.drops_left -= 1
            self.wfile.write(body[: served.drop_after_bytes])
            self.wfile.flush()
            self.close_connection = True
            return
        if served.chunk_delay_s:
            self._write_slowly(body, served.chunk_delay_s)
            return
        self.wfile.write(body)

    def _write_slowly(self, body: bytes, delay_s: float) -> None:
        try:
            for start in range(0, len(body), 1 << 16):
                self.wfile.write(body[start:start + (1 << 16)])
                self.wfile.flush()
                time.sleep(delay_s)
        except OSError:  # the client hung up (a cancelled download)
            self.close_connection = True

    def _failed(self, served: ServedFile) -> bool:
        if served.failures_left > 0 and served.fail_with_status is not None:
            served.failures_left -= 1
            self.send_response(served.fail_with_status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def _streamed_without_length(self, served: ServedFile) -> bool:
        if not served.unknown_length:
            return False
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(served.content)
        self.close_connection = True
        return True

    def _start_of_range(self, served: ServedFile) -> int | None:
        """Send the status line for a (ranged) GET; the first byte to send, or None when answered with 416."""
        requested = self.headers.get("Range")
        if not requested or served.ignore_range:
            self.send_response(200)
            return 0
        start = int(requested.removeprefix("bytes=").split("-")[0])
        if start >= len(served.content):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(served.content)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(served.content) - 1}/{len(served.content)}")
        return start


def _handler_for(hub: LocalHub) -> type[_HubHandler]:
    return type("Handler", (_HubHandler,), {"hub": hub})


def start_local_hub() -> tuple[LocalHub, ThreadingHTTPServer]:
    hub = LocalHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True, name="local-hub").start()
    return hub, server


@contextmanager
def serving(monkeypatch) -> Iterator[LocalHub]:
    """A local hub that the downloader uses for hub files (HF_ENDPOINT) and plain URLs (PMC_SEARCH_URL_MIRROR),
    with downloads switched on for the duration.

    conftest sets HF_HUB_OFFLINE=1 for the whole suite, and huggingface_hub read it when first imported, so both
    the variable and hub's cached constant are reset here.
    """
    import huggingface_hub.constants

    from engine.hub import transfer

    hub, server = start_local_hub()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("PMC_SEARCH_URL_MIRROR", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(transfer, "_wait_before_retry", lambda attempt: None)  # no back-off in tests
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


def online_local_hub(monkeypatch) -> Iterator[LocalHub]:
    """`serving` as a generator, for a fixture to `yield from`."""
    with serving(monkeypatch) as hub:
        yield hub
