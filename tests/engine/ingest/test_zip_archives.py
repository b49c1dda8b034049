"""Data-set zips (PMC-OA images.zip, SLAKE imgs.zip, the VQA-RAD OSF zip) go through the same hostile-archive rules."""

from __future__ import annotations

import stat
import zipfile

import pytest

from engine.errors import ArchiveError
from engine.ingest.archives import ArchiveLimits, safe_extract


def _zip(path, members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED, mode_of=None):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode_of and name in mode_of:
                info.external_attr = mode_of[name] << 16
            zf.writestr(info, content)
    return path


def test_an_honest_zip_is_extracted_with_its_folders(tmp_path):
    archive = _zip(tmp_path / "imgs.zip", {"imgs/xmlab1/source.jpg": b"\xff\xd8jpeg", "imgs/xmlab1/mask.png": b"png"})
    files = safe_extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == [
        "imgs/xmlab1/mask.png",
        "imgs/xmlab1/source.jpg",
    ]
    assert (tmp_path / "out/imgs/xmlab1/source.jpg").read_bytes() == b"\xff\xd8jpeg"
    assert safe_extract(archive, tmp_path / "out") == files  # a finished extraction is reused


def test_only_wanted_members_are_written(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"a/source.jpg": b"1", "a/mask.png": b"2"})
    files = safe_extract(archive, tmp_path / "out", wanted=lambda name: name.endswith(".jpg"))
    assert [p.name for p in files] == ["source.jpg"] and not (tmp_path / "out/a/mask.png").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_members_that_escape_are_refused_and_nothing_is_left(tmp_path, name):
    archive = _zip(tmp_path / "bad.zip", {"ok.txt": b"x", name: b"evil"})
    with pytest.raises(ArchiveError, match="refused"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_a_symlink_member_is_refused(tmp_path):
    archive = _zip(tmp_path / "l.zip", {"link": b"/etc/passwd"}, mode_of={"link": stat.S_IFLNK | 0o777})
    with pytest.raises(ArchiveError, match="link"):
        safe_extract(archive, tmp_path / "out")


def test_an_encrypted_member_is_refused(tmp_path):
    archive = _zip(tmp_path / "e.zip", {"a.txt": b"secret"}, compression=zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    # set the "encrypted" general-purpose flag in the local header (offset 6) and the central directory (offset 8)
    data[6] |= 1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="encrypted"):
        safe_extract(archive, tmp_path / "out")


def test_a_zip_bomb_is_refused(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(8 << 20)})  # 8 MiB of zeros deflate ~1000×
    with pytest.raises(ArchiveError, match="bomb"):
        safe_extract(archive, tmp_path / "out")


def test_limits_apply_to_zips(tmp_path):
    archive = _zip(tmp_path / "z.zip", {f"f{i}.jpg": b"x" * 3000 for i in range(3)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveError, match="members"):
        safe_extract(archive, tmp_path / "a", limits=ArchiveLimits(max_members=2))
    with pytest.raises(ArchiveError, match="in total"):
        safe_extract(archive, tmp_path / "b", limits=ArchiveLimits(max_total_bytes=5000))


def test_a_corrupt_zip_is_an_archive_error(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(ArchiveError, match="corrupt"):
        safe_extract(archive, tmp_path / "out")
