"""Issue 15, must-do 8: the readers and the query parser fuzzed with hypothesis.

Each target gets generated hostile input; the property is always the same: a reader yields only FigureRecord or
SourceProblem (never raises, never points outside its source), a parser raises only its documented error. The
default suite runs a bounded number of examples per target (a few seconds each); set PMC_FUZZ_EXAMPLES (e.g.
20000) for a long run: `PMC_FUZZ_EXAMPLES=20000 pytest tests/hostile/test_fuzz.py`.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ArchiveError, ArticleParseError, UserInputError
from engine.ingest import normalised, parse_jats
from engine.ingest.archives import ArchiveLimits, safe_extract
from engine.ingest.datasets import iter_pmc_oa, iter_roco
from engine.ingest.folders import read_sidecar
from engine.types import FigureRecord, SourceProblem

EXAMPLES = int(os.environ.get("PMC_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize="PMC_FUZZ_EXAMPLES" not in os.environ)

# Text that breaks things: surrogates, NUL, controls, bidi overrides, JSON/XML/FTS syntax, path tricks.
NASTY = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x1b[2J", "\u202e", "..", "../", "/", "\\", "%00", "\"", "'", "<", "&", "]]>",
     "NEAR(", "*", ":", "^", "-", "AND", "OR", "\n", "\r\n", "\u2028", "PMC", "ROCO_", ".jpg", "{", "["]
)
TEXT = st.lists(st.one_of(st.text(max_size=8), NASTY), max_size=12).map("".join)


def _consumed(items) -> list:
    out = list(normalised(items))  # through the boundary, as the library reads them
    assert all(isinstance(i, FigureRecord | SourceProblem) for i in out)
    for item in out:
        if isinstance(item, SourceProblem):
            (item.path + item.message).encode("utf-8")  # storable in the catalog
        else:
            item.key.encode("utf-8")
            (item.caption or "").encode("utf-8")
    return out


def _inside(records, root: Path) -> None:
    real_root = Path(os.path.realpath(root))
    for record in records:
        if isinstance(record, FigureRecord):
            real = Path(os.path.realpath(record.image_path))
            assert real_root in real.parents, f"{record.image_path} is outside {root}"


# --------------------------------------------------------------------------------------------- JATS
JATS_TAGS = ["article", "front", "article-meta", "article-id", "title-group", "article-title", "fig", "fig-group",
             "caption", "title", "p", "label", "graphic", "media", "body", "sec", "permissions", "license",
             "pub-date", "year", "journal-meta", "journal-title", "alternatives", "xref", "bold"]


@st.composite
def jats_like(draw, depth=0):
    tag = draw(st.sampled_from(JATS_TAGS))
    value = TEXT.map(lambda t: t.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;"))
    attrs = draw(st.dictionaries(st.sampled_from(["id", "pub-id-type", "xlink:href", "href", "pub-type"]), value,
                                 max_size=2))
    attr_text = "".join(f' {k}="{v}"' for k, v in attrs.items())
    children = draw(st.lists(jats_like(depth=depth + 1), max_size=3)) if depth < 3 else []
    text = draw(TEXT).replace("<", "&lt;").replace("&", "&amp;")
    return f"<{tag}{attr_text}>{text}{''.join(children)}</{tag}>"


@FUZZ
@given(st.one_of(
    st.binary(max_size=2000),
    jats_like().map(lambda x: ('<article xmlns:xlink="http://www.w3.org/1999/xlink">' + x + "</article>").encode(
        "utf-8", "surrogatepass")),
    jats_like().map(lambda x: x.encode("utf-8", "surrogatepass")),
))
def test_fuzz_jats_reader(data):
    try:
        meta, figures = parse_jats(data, "fuzz.nxml")
    except ArticleParseError:
        return
    assert all(f.fig_id is None or isinstance(f.fig_id, str) for f in figures)
    assert meta.year is None or 0 < meta.year < 10000


# --------------------------------------------------------------------------------------------- archives
MEMBER_TYPES = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE]


@st.composite
def tar_bytes(draw):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for _ in range(draw(st.integers(0, 6))):
            name = draw(st.one_of(st.sampled_from(["a.nxml", "PMC1/a.jpg", "../x.jpg", "/abs.jpg", "a/../../b",
                                                   "C:\\x.jpg", "./PMC1/b.nxml", "", "x" * 300]), TEXT))
            info = tarfile.TarInfo(name.replace("\x00", "") or "empty")
            info.type = draw(st.sampled_from(MEMBER_TYPES))
            info.linkname = draw(st.sampled_from(["/etc/passwd", "../../x", "a.nxml"]))
            data = draw(st.binary(max_size=64)) if info.type == tarfile.REGTYPE else b""
            info.size = len(data)
            try:
                tar.addfile(info, io.BytesIO(data))
            except (ValueError, UnicodeError):  # a name tarfile itself cannot write
                continue
    raw = buffer.getvalue()
    cut = draw(st.integers(0, len(raw)))
    return raw if draw(st.booleans()) else raw[:cut] + draw(st.binary(max_size=32))


@FUZZ
@given(tar_bytes())
def test_fuzz_archive_reader(raw):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "PMC1.tar"
        archive.write_bytes(raw)
        dest = root / "out" / "PMC1"
        try:
            extracted = safe_extract(archive, dest, limits=ArchiveLimits(max_members=20, max_member_bytes=1 << 16))
        except ArchiveError:
            assert not (root / "x.jpg").exists() and not Path("/abs.jpg").exists()
            return
        real_dest = Path(os.path.realpath(dest))
        for path in extracted:
            assert real_dest in Path(os.path.realpath(path)).parents
            assert path.is_file() and not path.is_symlink()
        outside = [p for p in root.rglob("*") if real_dest not in p.resolve().parents and p.resolve() != real_dest
                   and p != archive and p not in (root / "out",)]
        assert outside == []


# --------------------------------------------------------------------------------------------- PMC-OA jsonl
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)),
    max_leaves=10,
)
ROW = st.one_of(
    st.fixed_dictionaries({"image": st.one_of(TEXT, st.sampled_from(["ok.jpg", "../secret.jpg", "/etc/hosts"]),
                                              JSON_VALUES)},
                          optional={"caption": JSON_VALUES, "pmcid": JSON_VALUES}).map(
        lambda row: json.dumps(row, ensure_ascii=True).encode()),
    st.binary(max_size=200),
    st.integers(1, 3000).map(lambda depth: b'{"image": "ok.jpg", "caption": ' + b"[" * depth + b"]" * depth + b"}"),
)


@FUZZ
@given(st.lists(ROW, max_size=8))
def test_fuzz_jsonl_reader(rows):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        root.mkdir()
        (root / "ok.jpg").write_bytes(b"\xff\xd8 not really")
        (Path(tmp) / "secret.jpg").write_bytes(b"secret")
        (root / "pmc_oa.jsonl").write_bytes(b"\n".join(rows) + b"\n")
        out = _consumed(iter_pmc_oa(root / "pmc_oa.jsonl"))
        _inside(out, root)


# --------------------------------------------------------------------------------------------- ROCO
LINE = st.one_of(TEXT, st.tuples(st.sampled_from(["ROCO_00001", "ROCO_00002", "../x", "/abs"]), TEXT).map("\t".join))


@FUZZ
@given(st.lists(LINE, max_size=6), st.lists(st.tuples(LINE, TEXT, TEXT), max_size=4), st.lists(LINE, max_size=3))
def test_fuzz_roco_reader(captions, licences, links):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "roco"
        folder = root / "data" / "train" / "radiology"
        (folder / "images").mkdir(parents=True)
        (folder / "images" / "ROCO_00001.jpg").write_bytes(b"x")
        (Path(tmp) / "secret.jpg").write_bytes(b"secret")
        rows = "\n".join(",".join(r) for r in licences)
        for name, text in (("captions.txt", "\n".join(captions)), ("licences.txt", "ROCO_ID,PMC_ID,CC\n" + rows),
                           ("dlinks.txt", "\n".join(links))):
            (folder / name).write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates: invalid UTF-8
        out = _consumed(iter_roco(root))
        _inside(out, root)


# --------------------------------------------------------------------------------------------- sidecars
@FUZZ
@given(st.one_of(st.binary(max_size=500), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                 st.integers(1, 5000).map(lambda d: b"[" * d + b"]" * d)),
       st.sampled_from([".txt", ".json"]))
def test_fuzz_sidecar_reader(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "fig.png"
        image.write_bytes(b"png")
        sidecar = Path(tmp) / f"fig{suffix}"
        sidecar.write_bytes(data)
        caption, label, problem = read_sidecar(image, {"fig.png": image, sidecar.name: sidecar})
        assert caption is None or isinstance(caption, str)
        assert label is None or isinstance(label, str)
        assert problem is None or str(sidecar) in problem.path


# --------------------------------------------------------------------------------------------- the query parser
@pytest.fixture(scope="module")
def small_library(tmp_path_factory):
    from tests.engine.library.helpers import drain, new_library, write_images

    root = tmp_path_factory.mktemp("fuzz-library")
    write_images(root / "src", {f"{c}.png": c for c in ("red", "green", "blue")})
    (root / "src" / "red.txt").write_text("Axial CT of a lung nodule near the effusion")
    library = new_library(root / "lib")
    drain(library.ingest(library.add_collection(root / "src").id))
    yield library
    library.close()


@FUZZ
@given(text=TEXT, plus=st.lists(TEXT, max_size=2), weight=st.floats(allow_nan=True, allow_infinity=True),
       limit=st.integers(-5, 20_000), offset=st.one_of(st.integers(-5, 5), st.integers(2**62, 2**64)),
       year=st.one_of(st.none(), st.integers(-(2**70), 2**70)), hybrid=st.booleans())
def test_fuzz_query_parser(small_library, text, plus, weight, limit, offset, year, hybrid):
    from engine.types import QueryTerm, SearchFilters, SearchQuery

    terms = (QueryTerm(text=text), *(QueryTerm(text=p, weight=weight) for p in plus))
    query = SearchQuery(terms=terms, filters=SearchFilters(year_min=year), limit=limit, offset=offset, hybrid=hybrid)
    try:
        page = small_library.search(query)
    except UserInputError:
        return
    assert len(page.results) <= max(limit, 0)
    assert all(r.why.similarity == r.why.similarity for r in page.results)  # never NaN
