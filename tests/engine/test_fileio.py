"""Atomic writes and file hashing: the one home of both (engine.fileio)."""

from __future__ import annotations

import hashlib

import pytest

from engine import fileio


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "stamp.json"
    fileio.atomic_write_text(target, "first")
    fileio.atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["stamp.json"]


def test_a_failed_write_keeps_the_old_file_and_deletes_the_temp(tmp_path):
    target = tmp_path / "index.hnsw"
    target.write_bytes(b"old")

    def half_then_fail(handle):
        handle.write(b"new but incom")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        fileio.atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.hnsw"]


def test_atomic_output_gives_a_path_for_writers_that_want_one(tmp_path):
    target = tmp_path / "out.bin"
    with fileio.atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"\x00" * 10)
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_bytes() == b"\x00" * 10


def test_stale_temp_files_of_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".index.hnsw.abc123.tmp").write_bytes(b"x" * 100)
    (tmp_path / ".other.abc.tmp").write_bytes(b"x")
    assert fileio.remove_stale_temp_files(tmp_path, "index.hnsw") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abc.tmp"]


def test_file_sha256_matches_hashlib_across_block_boundaries(tmp_path):
    data = bytes(range(256)) * 9000  # > 2 MiB: several 1 MiB blocks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert fileio.file_sha256(path) == hashlib.sha256(data).hexdigest()
