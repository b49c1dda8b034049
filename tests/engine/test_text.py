"""engine.text: clean text for the catalog, lossless path text, terminal-safe display."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.text import BYTES_PREFIX, clean_text, display_text, path_from_text, path_to_text


def test_clean_text_replaces_lone_surrogates_and_drops_nul():
    assert clean_text("a\ud800b\udfffc\x00d") == "a\ufffdb\ufffdcd"
    assert clean_text("fine \u00e9 \U0001f600") == "fine \u00e9 \U0001f600"
    assert clean_text(None) is None
    "x".join([clean_text("\ud800")]).encode("utf-8")  # encodable now


@pytest.mark.parametrize(
    "raw",
    [b"/data/plain.png", b"/data/caf\xc3\xa9.png", b"/data/caf\xe9-\xff.png", b"rel/\x80%41.png", b"/fsbytes:x"],
)
def test_path_text_round_trips_any_file_name(raw):
    path = Path(os.fsdecode(raw))
    stored = path_to_text(path)
    stored.encode("utf-8")  # always storable in SQLite
    assert os.fsencode(path_from_text(stored)) == raw


def test_valid_utf8_paths_are_stored_as_themselves():
    assert path_to_text(Path("/data/caf\u00e9.png")) == "/data/caf\u00e9.png"
    assert path_to_text(Path(os.fsdecode(b"/d/\xff.png"))).startswith(BYTES_PREFIX)


def test_display_text_escapes_terminal_controls():
    shown = display_text("\x1b]0;owned\x07x\x1b[2J\u202eevil\x9b\ttab\nnl" + os.fsdecode(b"\xff"))
    assert shown == "\\x1b]0;owned\\x07x\\x1b[2J\\u202eevil\\x9b\\x09tab\\x0anl\\xff"
    assert display_text(Path("/plain/name.png")) == "/plain/name.png"
