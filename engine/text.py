"""Text that crosses a boundary: from untrusted files into the catalog, from the catalog onto a terminal.

Three jobs, each done once, where the text crosses:
- `clean_text`: strings read from sources (captions, labels, ids, article facts) become valid Unicode that SQLite
  and Qt accept. A lone surrogate ("\\ud800" in a JSON escape, or a non-UTF-8 file name decoded by Python with
  `surrogateescape`) cannot be encoded as UTF-8 and used to abort whole sources; it becomes U+FFFD.
- `path_to_text` / `path_from_text`: file paths are stored as text, losslessly. A path that is valid UTF-8 is
  stored as itself; one that is not (a Linux file name in Latin-1, say) is stored as its bytes, percent-encoded
  behind a prefix no absolute path or relative key can start with, so the file can still be opened later.
- `display_text`: what is printed on a terminal. File names and captions can hold ANSI/OSC escape sequences
  (which can retitle or clear a terminal, or fake output) and bidirectional overrides; they are shown escaped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls (tab and newline included: a displayed item is one line), DEL, C1 controls, and the Unicode
# bidirectional embeddings/overrides/isolates that reorder what a terminal shows ("Trojan source").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
BYTES_PREFIX = "fsbytes:"
# Kept readable in the stored form; everything else (bytes >= 0x80 that are not valid UTF-8, "%") is escaped.
_SAFE_BYTES = "/-_.~ ()[]{}+,;=!@#$&'"


def clean_text(value: str | None) -> str | None:
    """Valid Unicode for the catalog: lone surrogates become U+FFFD, NUL characters are dropped."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", value)


def _is_utf8_clean(text: str) -> bool:
    return _SURROGATES.search(text) is None


def path_to_text(path: str | os.PathLike) -> str:
    """A path as catalog text, losslessly: itself when valid UTF-8, else `fsbytes:` + its percent-encoded bytes."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if _is_utf8_clean(text) and not text.startswith(BYTES_PREFIX):
        return text
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a surrogate no file system byte maps to: keep a readable, unique stand-in
        raw = text.encode("utf-8", "surrogatepass")
    return BYTES_PREFIX + quote_from_bytes(raw, safe=_SAFE_BYTES)


def path_from_text(text: str) -> Path:
    """The inverse of `path_to_text`."""
    if text.startswith(BYTES_PREFIX):
        return Path(os.fsdecode(unquote_to_bytes(text[len(BYTES_PREFIX) :])))
    return Path(text)


def _escape(match: re.Match) -> str:
    char = match.group(0)
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 file name, as surrogateescape decoded it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def display_text(value: object) -> str:
    """One line that is safe to print on a terminal: control, escape and bidi characters shown as \\xNN/\\uNNNN."""
    text = os.fsdecode(value) if isinstance(value, bytes) else str(value)
    return _UNPRINTABLE.sub(_escape, text)
