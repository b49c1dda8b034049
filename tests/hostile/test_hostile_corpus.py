"""Issue 15, items 1-5: every hostile source of the corpus gives its specific outcome through `pmc-search index`.

Each case: exit code as expected, the figures that must survive indexed (one bad item never stops the rest),
each problem reported naming the file and the reason, nothing printed raw that could drive a terminal.
"""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

from tests.app.test_cli_library import FakeModelCli, restore_logging  # noqa: F401 - fixture
from tests.hostile.corpus import INGEST_CASES, LIBRARY_CASES, Case, LibraryCase, _index_size, build_library

_ESCAPE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _non_utf8_names_allowed(tmp_path) -> bool:
    try:
        probe = os.fsencode(tmp_path) + b"/probe-\xff"
        with open(probe, "wb"):
            pass
        os.unlink(probe)
        return True
    except (OSError, UnicodeError):
        return False


@pytest.fixture
def no_hang():
    """A regression that blocks on a FIFO fails the test after 60 s instead of hanging the suite."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def timeout(*_):
        raise TimeoutError("indexing hung (a FIFO was opened?)")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _figures_added(out: str) -> int:
    """Figures indexed: new contents plus copies of contents already stored."""
    return sum(int(a) + int(r) for a, r in re.findall(r": (\d+) added, (\d+) unchanged or reused", out))


@pytest.mark.parametrize("case", INGEST_CASES, ids=lambda c: f"item{c.item}-{c.name}")
def test_hostile_source(case: Case, tmp_path, capsys, no_hang):
    if case.posix_only and os.name != "posix":
        pytest.skip("needs POSIX FIFOs, sockets or symlinks")
    if "non-utf8-names" in case.needs and not _non_utf8_names_allowed(tmp_path):
        pytest.skip("this file system refuses non-UTF-8 names")
    source = case.build(tmp_path / "case")
    run = FakeModelCli()
    lib = str(tmp_path / "lib")
    code = run(["--library", lib, "index", os.fsdecode(source), "--model", "fake", "-q"])
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert code == case.expect.exit_code, printed
    assert _figures_added(captured.out) == case.expect.added, printed
    problem_lines = [line for line in printed.splitlines() if "problem:" in line or "skipped" in line]
    for name, reason in case.expect.problems:
        assert any(name in line and reason in line for line in problem_lines), (name, reason, printed)
    assert not _ESCAPE_CHARS.search(printed), "a control character reached the terminal"
    assert "Traceback" not in printed
    if case.expect.new_contents is not None:
        assert re.search(rf": {case.expect.new_contents} added,", captured.out), captured.out
    if case.expect.caption_contains:
        assert run(["--library", lib, "query", case.expect.caption_contains, "-k", "50", "--json"]) == 0
        out = capsys.readouterr().out
        assert case.expect.caption_contains in out, out


@pytest.mark.parametrize("case", LIBRARY_CASES, ids=lambda c: f"item{c.item}-{c.name}")
def test_damaged_library(case: LibraryCase, tmp_path, capsys):
    run = FakeModelCli()
    lib, src = build_library(tmp_path, run.factory)
    case.damage(lib, src)
    for argv, expected, said in case.commands:
        full = ["--library", str(lib), *(str(src) if a == "SRC" else a for a in argv)]
        code = run(full)
        captured = capsys.readouterr()
        printed = captured.out + captured.err
        assert code == expected, (argv, printed)
        assert said in printed, (argv, said, printed)
        assert "Traceback" not in printed
    assert _index_size(lib) == case.figures_after
    if case.after is not None:
        case.after(lib)


def test_corpus_script_writes_every_case(tmp_path):
    """The generator runs standalone: `python -m tests.hostile.corpus OUT_DIR`."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "tests.hostile.corpus", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected = sum(1 for c in INGEST_CASES if not c.posix_only or os.name == "posix") + len(LIBRARY_CASES)
    assert len(result.stdout.split()) >= expected
