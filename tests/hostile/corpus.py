"""The hostile corpus: every way issue 15 found to lose a batch, hang a run or read outside a source, as sources.

Built on demand (no checked-in blobs): `python -m tests.hostile.corpus OUT_DIR` writes every case under
OUT_DIR/<case>/, and the tests build each case in a temp folder the same way. A case is a source to index plus
its expected, specific outcome: how many figures must still be indexed (the rest of the batch always continues)
and the problems that must be reported, each naming the file and the reason.

Item numbers refer to the first list of issue 15.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes import solid_image

_COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta", "white", "black")
_counter = iter(range(1, 1_000_000))


def image(path: Path, colour: str = "red") -> Path:
    """A small PNG (or JPEG by suffix) that no other corpus image equals byte for byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    solid_image(colour, speckle=next(_counter) % 400 + 1).save(path)
    return path


def good_images(folder: Path, count: int, stem: str = "good") -> list[Path]:
    return [image(folder / f"{stem}{n}.png", _COLOURS[n % len(_COLOURS)]) for n in range(count)]


@dataclass(frozen=True)
class Expect:
    added: int  # figures that must end up indexed
    problems: tuple[tuple[str, str], ...] = ()  # (fragment of the file named, fragment of the reason)
    exit_code: int = 0
    caption_contains: str | None = None  # a caption that must be searchable, e.g. with U+FFFD in it
    new_contents: int | None = None  # the report's "N added": distinct contents encoded (copies are "reused")


@dataclass(frozen=True)
class Case:
    name: str
    item: str  # the item
    what: str
    build: Callable[[Path], Path]  # writes the case into a folder; returns the source to index
    expect: Expect
    posix_only: bool = False
    needs: tuple[str, ...] = field(default=())  # e.g. ("non-utf8-names",) for file systems that refuse them


# --------------------------------------------------------------------------------------------- item 1: bad strings
def surrogate_json_sidecar(root: Path) -> Path:
    src = root / "src"
    good_images(src, 3)
    image(src / "fig.png")
    (src / "fig.json").write_text('{"caption": "lone \\ud800 surrogate in a caption", "label": "\\udfff"}')
    return src


def surrogate_cloud_metadata(root: Path) -> Path:
    from tests.engine.ingest.fixtures import write_article_folder

    xml = write_article_folder(root / "src", "PMC3460867.1.xml")
    meta = xml.parent / "PMC3460867.1.json"
    meta.write_text('{"pmcid": "PMC3460867", "license_code": "CC BY \\ud800", "doi": "\\udc00"}')
    return root / "src"


def surrogate_jsonl_caption(root: Path) -> Path:
    src = root / "src"
    for n in range(3):
        image(src / f"PMC{n + 1}_F1_0.jpg")
    rows = [
        '{"image": "PMC1_F1_0.jpg", "caption": "lone \\ud800 surrogate"}',
        '{"image": "PMC2_F1_0.jpg", "caption": "fine"}',
        '{"image": "\\ud800.jpg", "caption": "a surrogate in the image name"}',
        '{"image": "PMC3_F1_0.jpg", "caption": "after the bad rows"}',
    ]
    (src / "pmc_oa.jsonl").write_text("\n".join(rows) + "\n")
    return src / "pmc_oa.jsonl"


def non_utf8_file_name(root: Path) -> Path:
    src = root / "src"
    good_images(src, 2)
    raw = os.fsencode(src) + b"/caf\xe9-\xff.png"
    image(Path(os.fsdecode(raw)))
    Path(os.fsdecode(os.fsencode(src) + b"/caf\xe9-\xff.txt")).write_bytes(b"caption of a latin-1 name \xe9")
    return src


# --------------------------------------------------------------------------------------------- item 2: silent stops
def nested_sidecar(root: Path) -> Path:
    src = root / "src"
    image(src / "a_nested.png")
    (src / "a_nested.json").write_text("[" * 100_000 + "]" * 100_000)
    good_images(src, 3, stem="z_after")  # sorted after the bad one: must still be scanned
    return src


def integer_pmcid_row(root: Path) -> Path:
    src = root / "src"
    image(src / "a.jpg")
    image(src / "b.jpg")
    rows = [json.dumps({"image": "a.jpg", "caption": "integer pmcid", "pmcid": 3460867}),
            json.dumps({"image": "b.jpg", "caption": "after it"})]
    (src / "pmc_oa.jsonl").write_text("\n".join(rows) + "\n")
    return src / "pmc_oa.jsonl"


def nested_jsonl_row(root: Path) -> Path:
    src = root / "src"
    image(src / "a.jpg")
    image(src / "b.jpg")
    rows = [json.dumps({"image": "a.jpg", "caption": "before"}),
            '{"image": "x.jpg", "caption": ' + "[" * 100_000 + "]" * 100_000 + "}",
            json.dumps({"image": "b.jpg", "caption": "after the deep row"})]
    (src / "pmc_oa.jsonl").write_text("\n".join(rows) + "\n")
    return src / "pmc_oa.jsonl"


# --------------------------------------------------------------------------------------------- item 3: hangs
def _roco_folder(folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for roco_id in ids:
        image(folder / "images" / f"{roco_id}.jpg")
    (folder / "captions.txt").write_text("".join(f"{i}\t A caption of {i}\n" for i in ids))


def roco_fifo_captions(root: Path) -> Path:
    src = root / "roco"
    _roco_folder(src / "data" / "train" / "radiology", ["ROCO_00001", "ROCO_00002"])
    fifo_folder = src / "data" / "test" / "radiology"
    (fifo_folder / "images").mkdir(parents=True)
    image(fifo_folder / "images" / "ROCO_00009.jpg")
    os.mkfifo(fifo_folder / "captions.txt")
    return src


def special_files_in_folder(root: Path) -> Path:
    src = root / "src"
    good_images(src, 2)
    os.mkfifo(src / "pipe.png")
    image(src / "fig.png")
    os.mkfifo(src / "fig.txt")  # a FIFO sidecar: never opened, the image is still indexed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(src / "sock.jpg"))
    except OSError:  # a path too long for AF_UNIX: the FIFOs still make the case
        pass
    finally:
        sock.close()
    return src


# --------------------------------------------------------------------------------------------- item 4: outside
def roco_licences_outside(root: Path) -> Path:
    src = root / "roco"
    folder = src / "data" / "train" / "radiology"
    (folder / "images").mkdir(parents=True)
    image(folder / "images" / "ROCO_00003.jpg")
    secret_abs = image(root / "outside" / "secret_abs.jpg")
    image(root / "outside" / "secret_rel.jpg")
    (folder / "captions.txt").write_text(
        "ROCO_00001\t absolute path\nROCO_00002\t climbing path\nROCO_00003\t an honest one\n"
    )
    (folder / "licences.txt").write_text(
        "ROCO_ID,PMC_ID,CC\n"
        f"ROCO_00001,{secret_abs},CC BY\n"
        "ROCO_00002,../../../../../outside/secret_rel.jpg,CC BY\n"
    )
    return src


def symlink_outside(root: Path) -> Path:
    src = root / "src"
    good_images(src, 2)
    outside = image(root / "outside" / "private.png")
    os.symlink(outside, src / "link_out.png")
    os.symlink(root / "outside", src / "dir_out")
    os.symlink(src / "good0.png", src / "link_in.png")  # inside: followed
    return src


# --------------------------------------------------------------------------------------------- item 5: terminal
def escape_sequences_in_names(root: Path) -> Path:
    src = root / "src"
    good_images(src, 1)
    (src / "\x1b]0;owned\x07title.png").write_bytes(b"not an image")
    (src / "\x1b[2Jclear.png").write_bytes(b"not an image either")
    return src


# --------------------------------------------------------------------------------------------- item 9: copies
def duplicate_files(root: Path) -> Path:
    src = root / "src"
    original = image(src / "logo.png")
    for n in range(60):
        (src / f"logo-copy{n:02}.png").write_bytes(original.read_bytes())
    good_images(src, 4)
    return src


INGEST_CASES: tuple[Case, ...] = (
    Case("surrogate-json-sidecar", "1", "lone surrogates in a .json caption sidecar", surrogate_json_sidecar,
         Expect(added=4, caption_contains="lone \ufffd surrogate")),
    Case("surrogate-cloud-metadata", "1", "lone surrogates in a PMC cloud metadata JSON", surrogate_cloud_metadata,
         Expect(added=5)),
    Case("surrogate-jsonl-caption", "1", "lone surrogates in jsonl captions and image names", surrogate_jsonl_caption,
         Expect(added=3, problems=(("pmc_oa.jsonl:3", "image"),), caption_contains="lone \ufffd surrogate")),
    Case("non-utf8-file-name", "1", "a file name that is not UTF-8", non_utf8_file_name,
         Expect(added=3, caption_contains="caption of a latin-1 name"), posix_only=True, needs=("non-utf8-names",)),
    Case("nested-sidecar", "2", "a sidecar of 100,000 nested brackets", nested_sidecar,
         Expect(added=4, problems=(("a_nested.json", "nested too deeply"),))),
    Case("integer-pmcid", "2", "a jsonl row with an integer pmcid", integer_pmcid_row, Expect(added=2)),
    Case("nested-jsonl-row", "2", "a deeply nested jsonl row", nested_jsonl_row,
         Expect(added=2, problems=(("pmc_oa.jsonl:2", "nested too deeply"),))),
    Case("roco-fifo-captions", "3", "a FIFO named captions.txt in a ROCO tree", roco_fifo_captions,
         Expect(added=2, problems=(("captions.txt", "FIFO"),)), posix_only=True),
    Case("special-files", "3", "FIFOs and a socket with image and caption names", special_files_in_folder,
         Expect(added=3, problems=(("pipe.png", "FIFO"),)), posix_only=True),
    Case("roco-licences-outside", "4", "licences.txt naming /abs/path.jpg and ../../x.jpg", roco_licences_outside,
         Expect(added=1, problems=(("captions.txt:1", "absolute path"), ("captions.txt:2", "climbs out")))),
    Case("symlink-outside", "4", "symbolic links leading out of the source", symlink_outside,
         Expect(added=3, problems=(("link_out.png", "outside the source"), ("dir_out", "outside the source"))),
         posix_only=True),
    Case("escape-sequences", "5", "file names holding ANSI/OSC escape sequences", escape_sequences_in_names,
         Expect(added=1, problems=(("\\x1b]0;owned\\x07title.png", ""), ("\\x1b[2Jclear.png", "")))),
    Case("duplicates", "9", "61 byte-identical copies of one image among 4 others", duplicate_files,
         Expect(added=65, new_contents=5)),
)


# =============================================================================================== libraries
# Items 6, 7 and 9: a library built from a clean 40-figure source, then damaged the way the issue found it. Each
# case lists the commands a user runs next (argv after `--library LIB`), the exit code each must give and a
# fragment its output must hold, and a check of the library afterwards.

LIBRARY_FIGURES = 40


def library_source(root: Path) -> Path:
    good_images(root / "src", LIBRARY_FIGURES)
    return root / "src"


def build_library(root: Path, factory) -> tuple[Path, Path]:
    """(library, source): the clean library every damage case starts from (`factory`: the fake model)."""
    from engine.library import open_or_create
    from engine.progress import run_to_end
    from engine.types import ModelSpec

    src = library_source(root)
    lib = root / "lib"
    with open_or_create(lib, ModelSpec(name="fake"), factory) as library:
        run_to_end(library.ingest(library.add_collection(src).id))
    return lib, src


def _sql(lib: Path, *statements: str, params=()) -> None:
    import sqlite3

    with sqlite3.connect(lib / "catalog.sqlite") as db:
        for statement in statements:
            db.execute(statement, params)
    db.close()


def half_created(lib: Path, src: Path) -> None:
    """What a kill in the first fraction of a second left (before this version): the tables, no model recorded."""
    from engine.catalog import open_engine

    for path in lib.iterdir():
        if path.is_file():
            path.unlink()
    open_engine(lib / "catalog.sqlite", create=True).dispose()


def zero_byte_catalog(lib: Path, src: Path) -> None:
    for path in lib.iterdir():
        if path.is_file():
            path.unlink()
    (lib / "catalog.sqlite").write_bytes(b"")


def garbled_index(lib: Path, src: Path) -> None:
    data = bytearray((lib / "index.hnsw").read_bytes())
    data[64:-64] = bytes((i * 167 + 13) % 256 for i in range(len(data) - 128))  # same size, other bytes
    (lib / "index.hnsw").write_bytes(bytes(data))


def nan_vector_row(lib: Path, src: Path) -> None:
    import struct

    _sql(lib, "UPDATE vectors SET data = ? WHERE rowid = 1", params=(struct.pack("<32f", *[float("nan")] * 32),))
    (lib / "index.hnsw").unlink()  # "once the index must be rebuilt"


def garbled_catalog_region(lib: Path, src: Path) -> None:
    import sqlite3

    with sqlite3.connect(lib / "catalog.sqlite") as db:
        leaves = [r[0] for r in db.execute(
            "SELECT pageno FROM dbstat WHERE name = 'figures' AND pagetype = 'leaf' ORDER BY pageno")]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(lib / "catalog.sqlite", "r+b") as handle:  # 8 KB: two leaf pages of the figures table
        for page in leaves[len(leaves) // 2 :][:2]:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)


def edited_stamp(lib: Path, src: Path) -> None:
    stamp = lib / "index.hnsw.stamp.json"
    payload = json.loads(stamp.read_text())
    payload["deleted"], payload["count"] = list(range(1, LIBRARY_FIGURES + 1)), 0
    stamp.write_text(json.dumps(payload))


def other_librarys_index(lib: Path, src: Path) -> None:
    import shutil

    from tests.fakes import FakeEncoder

    other, _ = build_library(lib.parent / "other", lambda *a: FakeEncoder())
    for name in ("index.hnsw", "index.hnsw.stamp.json"):
        shutil.copy(other / name, lib / name)


def non_numeric_dim(lib: Path, src: Path) -> None:
    _sql(lib, "UPDATE library_meta SET value = 'abc' WHERE key = 'dim'")


def lock_is_an_empty_folder(lib: Path, src: Path) -> None:
    (lib / "library.lock").unlink()
    (lib / "library.lock").mkdir()


def killed_remove_leftovers(lib: Path, src: Path) -> None:
    size = (lib / "index.hnsw").stat().st_size
    (lib / ".index.hnsw.4242.tmp").write_bytes(b"\0" * size)  # the full-size temp of a save that was killed
    media = lib / "media" / "7" / "pmc-packages" / "PMC1"  # a removed collection's extracted packages
    media.mkdir(parents=True)
    (media / "f1.jpg").write_bytes(b"x")


def _index_size(lib: Path) -> int:
    from engine.library import Library

    with Library.open(lib, read_only=True) as library:
        return len(library._index.current())


def _no_leftovers(lib: Path) -> None:
    assert not (lib / ".index.hnsw.4242.tmp").exists() and not (lib / "media" / "7").exists()


@dataclass(frozen=True)
class LibraryCase:
    name: str
    item: str
    what: str
    damage: Callable[[Path, Path], None]
    commands: tuple[tuple[tuple[str, ...], int, str], ...]  # (argv after --library LIB; SRC = the source), code, said
    figures_after: int = LIBRARY_FIGURES  # index size once the commands ran
    after: Callable[[Path], None] | None = None


QUERY = ("query", "red", "-k", "3")
INDEX = ("index", "SRC", "-q", "--model", "fake")
LIBRARY_CASES: tuple[LibraryCase, ...] = (
    LibraryCase("half-created", "6", "a catalog without a model (creation killed)", half_created,
                ((QUERY, 2, "never finished"), (INDEX, 0, "40 added"), (QUERY, 0, ""))),
    LibraryCase("zero-byte-catalog", "7", "a zero-byte catalog.sqlite", zero_byte_catalog,
                ((("info",), 2, "never finished"), (INDEX, 0, "40 added"))),
    LibraryCase("garbled-index", "7", "a same-size garbled index.hnsw", garbled_index,
                ((QUERY, 0, ""), (("info",), 0, "40 vectors"))),
    LibraryCase("nan-vector", "7", "a NaN row in vectors, index to rebuild", nan_vector_row,
                ((QUERY, 0, ""), (INDEX, 0, "40 unchanged or reused"), (("check",), 0, "sound"))),
    LibraryCase("garbled-catalog", "7", "an 8 KB garbled region of catalog.sqlite", garbled_catalog_region,
                ((QUERY, 2, "check --repair"), (("check",), 2, "DAMAGED"), (("check", "--repair"), 0, "repaired"),
                 (QUERY, 0, ""), (("check",), 0, "sound"))),
    LibraryCase("edited-stamp", "7", "the stamp's deleted list edited", edited_stamp,
                ((("info",), 0, "40 vectors"), (("query", "red", "-k", "40"), 0, ""))),
    LibraryCase("other-librarys-index", "7", "another library's index, same generation", other_librarys_index,
                ((("info",), 0, "40 vectors"),)),
    LibraryCase("non-numeric-dim", "7", "a non-numeric dim", non_numeric_dim,
                ((QUERY, 2, "invalid vector size"), (("check", "--repair"), 0, "repaired"), (QUERY, 0, ""))),
    LibraryCase("lock-is-a-folder", "7", "library.lock is a folder", lock_is_an_empty_folder,
                ((INDEX, 0, "40 unchanged or reused"),)),
    LibraryCase("killed-remove-leftovers", "9", "a full-size temp index and a removed collection's media",
                killed_remove_leftovers, ((INDEX, 0, "40 unchanged or reused"),), after=_no_leftovers),
)


def write_corpus(out_dir: Path) -> list[Path]:
    """Build every case under `out_dir`/<case name>/; returns the sources to index and the damaged libraries."""
    from tests.fakes import FakeEncoder

    written = []
    for case in INGEST_CASES:
        if case.posix_only and os.name != "posix":
            continue
        written.append(case.build(Path(out_dir) / case.name))
    for library_case in LIBRARY_CASES:
        lib, src = build_library(Path(out_dir) / library_case.name, lambda *a: FakeEncoder())
        library_case.damage(lib, src)
        written.append(lib)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.hostile.corpus OUT_DIR")
    for source in write_corpus(Path(sys.argv[1])):
        print(source)
