"""engine.ingest.safe_paths: one "stays inside the source" rule, and regular files only (no FIFO hangs)."""

from __future__ import annotations

import os

import pytest

from engine.fileio import NotRegularFileError, open_regular, read_regular
from engine.ingest.safe_paths import resolve_inside


@pytest.mark.parametrize(
    ("name", "why"),
    [("/etc/passwd", "absolute"), ("C:\\x.jpg", "absolute"), ("../x.jpg", "climbs"), ("a/../../x.jpg", "climbs"),
     ("a\\..\\..\\x.jpg", "climbs"), ("", "empty"), ("a\x00b", "NUL")],
)
def test_names_that_leave_the_source_are_refused(tmp_path, name, why):
    path, reason = resolve_inside(tmp_path, name)
    assert path is None and why in reason


def test_a_symlink_out_of_the_source_is_refused_and_one_inside_is_not(tmp_path):
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (root / "images" / "real.jpg").write_bytes(b"y")
    os.symlink(tmp_path / "secret.jpg", root / "images" / "out.jpg")
    os.symlink(root / "images" / "real.jpg", root / "images" / "in.jpg")
    assert resolve_inside(root, "images/out.jpg")[0] is None
    assert resolve_inside(root, "images/in.jpg")[0] == root / "images" / "in.jpg"
    assert resolve_inside(root, "images/missing.jpg")[0] == root / "images" / "missing.jpg"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "captions.txt"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        open_regular(fifo)
    with pytest.raises(NotRegularFileError):
        read_regular(tmp_path, 10)  # a folder


def test_read_regular_enforces_the_size_limit(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 11)
    with pytest.raises(ValueError, match="larger than 10"):
        read_regular(tmp_path / "big.txt", 10)
    assert read_regular(tmp_path / "big.txt", 11) == b"x" * 11
