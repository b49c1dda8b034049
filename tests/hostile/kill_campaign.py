"""kill -9 at random points of library creation, a 1,000-figure ingest, a remove and index saves; then recovery.

    python -m tests.hostile.kill_campaign [--trials 20] [--figures 1000] [--seed 15] [--workdir DIR]

prints, per phase: trials, kills, passed, committed figures lost, duplicated. A worker subprocess does the work with
the fake model and says READY when its phase begins; the driver kills it (SIGKILL) after a random delay drawn from
the first 85 % of that phase's measured duration (a worker that finishes first is run again with a new delay, up
to 4 times), then opens the library in-process and checks:
- it opens (a killed creation leaves either no library or a complete one; `open_or_create` finishes the job);
- catalog and index agree (same ids), every stored vector is referenced, no temp file is left;
- nothing committed is lost or duplicated: the figures present after the kill keep their ids through a re-run,
  and the re-run ends with exactly the source's figures; a killed remove is all or nothing.
The slow test runs the full campaign; the default suite runs one small trial per phase.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PHASES = ("create", "ingest", "remove", "save")
_REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------- the worker
def _factory(spec, device, offline, progress):
    from tests.fakes import FakeEncoder

    return FakeEncoder(dim=64)


def worker(mode: str, lib: Path, src: Path) -> None:
    from engine.library import Library, open_or_create
    from engine.progress import run_to_end
    from engine.types import ModelSpec

    def ready() -> None:
        print("READY", flush=True)

    if mode == "create":
        ready()
        open_or_create(lib, ModelSpec(name="fake"), _factory).close()
    elif mode == "ingest":
        library = open_or_create(lib, ModelSpec(name="fake"), _factory)
        collection = library.add_collection(src)
        ready()
        run_to_end(library.ingest(collection.id, batch_size=16))
        library.close()
    elif mode == "remove":
        library = Library.open(lib)
        ready()
        library.remove_collection(library.collections()[0].id)
        library.close()
    elif mode == "save":
        library = Library.open(lib)
        ready()
        for _ in range(200):  # kill lands inside one of these saves (temp file, fsync, replace, stamp)
            library._index._saved_generation = None
            library._index.save()
        library.close()
    print("DONE", flush=True)


# --------------------------------------------------------------------------------------------- the driver
@dataclass
class Trial:
    phase: str
    delay: float
    finished: bool  # the worker completed before the kill
    problems: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems and not self.lost and not self.duplicated


def _start(mode: str, lib: Path, src: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(_REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hostile.kill_campaign", "worker", mode, str(lib), str(src)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=_REPO, env=env,
    )


def _run_and_kill(mode: str, lib: Path, src: Path, delay: float | None) -> tuple[bool, float]:
    """Run a worker; kill it `delay` s after READY (None: let it finish). Returns (finished, seconds after READY)."""
    process = _start(mode, lib, src)
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "READY":
        process.kill()
        raise RuntimeError(f"worker {mode} did not start: {line!r}")
    started = time.monotonic()
    if delay is None:
        process.stdout.read()
        process.wait(timeout=600)
        return True, time.monotonic() - started
    try:
        process.wait(timeout=delay)
        finished = True
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        finished = False
    return finished, time.monotonic() - started


def _leftovers(folder: Path) -> list[str]:
    patterns = ("*.tmp", ".*.tmp", ".*.creating*", "*.partial", ".*.partial", ".*.salvage*")
    return sorted({str(p.relative_to(folder)) for pattern in patterns for p in folder.rglob(pattern)})


def _state(lib: Path) -> tuple[dict[str, int], list[str]]:
    """(key -> id of every figure, problems) after opening the library for writing (which clears leftovers)."""
    from sqlalchemy import func, select

    from engine.catalog import Figure, Vector
    from engine.library import Library
    from tests.engine.library.helpers import index_consistent_with_catalog

    problems = []
    with Library.open(lib) as library, library._sessions() as session:
        figures = {key: figure_id for key, figure_id in session.execute(select(Figure.key, Figure.id))}
        if not index_consistent_with_catalog(library):
            problems.append("index and catalog disagree")
        stored = session.scalar(select(func.count()).select_from(Vector))
        used = session.scalar(select(func.count(func.distinct(Figure.content_sha256))))
        if stored != used:
            problems.append(f"{stored} stored vectors for {used} distinct contents")
    left = _leftovers(lib)
    if left:
        problems.append(f"left behind: {left[:3]}")
    return figures, problems


def _rerun(lib: Path, src: Path) -> None:
    from engine.library import open_or_create
    from engine.progress import run_to_end
    from engine.types import ModelSpec

    with open_or_create(lib, ModelSpec(name="fake"), _factory) as library:
        collection = library.add_collection(src)
        run_to_end(library.ingest(collection.id, batch_size=64))


def _check_create(trial: Trial, lib: Path, src: Path, expected: int) -> None:
    from engine.library import Library, is_library, open_or_create
    from engine.types import ModelSpec

    if is_library(lib):
        try:
            Library.open(lib, read_only=True).close()
        except Exception as e:  # noqa: BLE001 - an unfinished library is fine if the next run finishes it
            if "never finished" not in str(e):
                trial.problems.append(f"after a killed creation: {e}")
    open_or_create(lib, ModelSpec(name="fake"), _factory).close()  # finished or created again, never stuck
    _, problems = _state(lib)
    trial.problems += problems


def _check_ingest(trial: Trial, lib: Path, src: Path, expected: int) -> None:
    from engine.library import is_library

    if not is_library(lib):
        trial.problems.append("the library vanished")
        return
    committed, problems = _state(lib)
    trial.problems += problems
    _rerun(lib, src)
    final, problems = _state(lib)
    trial.problems += problems
    trial.lost = sum(1 for key, figure_id in committed.items() if final.get(key) != figure_id)
    trial.duplicated = max(0, len(final) - expected) + (len(final.values()) - len(set(final.values())))
    if len(final) != expected:
        trial.problems.append(f"{len(final)} figures after the re-run, expected {expected}")


def _check_remove(trial: Trial, lib: Path, src: Path, expected: int) -> None:
    figures, problems = _state(lib)
    trial.problems += problems
    big = [k for k in figures if not k.startswith("small-")]
    if len(big) not in (0, expected):
        trial.problems.append(f"a killed remove left {len(big)} of {expected} figures")
        trial.lost = expected - len(big)
    if not big and any((lib / "media").glob("1")):
        trial.problems.append("the removed collection's media stayed")


def _check_save(trial: Trial, lib: Path, src: Path, expected: int) -> None:
    figures, problems = _state(lib)
    trial.problems += problems
    trial.lost = max(0, expected - len(figures))


CHECKS = {"create": _check_create, "ingest": _check_ingest, "remove": _check_remove, "save": _check_save}


def _template(workdir: Path, src: Path, small: Path) -> Path:
    """A library holding the big source (collection 1) and a small one (collection 2), index saved."""
    from engine.library import open_or_create
    from engine.progress import run_to_end
    from engine.types import ModelSpec

    template = workdir / "template"
    with open_or_create(template, ModelSpec(name="fake"), _factory) as library:
        for source in (src, small):
            run_to_end(library.ingest(library.add_collection(source).id, batch_size=64))
    return template


def write_source(folder: Path, count: int, prefix: str = "") -> Path:
    from tests.fakes import solid_image

    colours = ("red", "green", "blue", "yellow", "cyan", "magenta", "white", "black")
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        solid_image(colours[n % 8], speckle=n % 900 + 1, size=32 + n // 900).save(folder / f"{prefix}{n:05}.png")
    return folder


def run_campaign(workdir: Path, trials: int, figures: int, seed: int, phases=PHASES) -> list[Trial]:
    rng = random.Random(seed)
    src = write_source(workdir / "src", figures)
    small = write_source(workdir / "small", 20, prefix="small-")
    template = _template(workdir, src, small)
    results: list[Trial] = []
    for phase in phases:
        duration = _calibrate(phase, workdir, template, src)
        for n in range(trials):
            lib = workdir / f"{phase}-{n}"
            for _attempt in range(4):  # a worker that beat its kill is run again with a new delay: count kills
                shutil.rmtree(lib, ignore_errors=True)
                _fresh_library(phase, lib, template)
                delay = rng.uniform(0.0, 0.85 * duration)
                finished, _ = _run_and_kill(phase, lib, src, delay)
                if not finished:
                    break
            trial = Trial(phase, delay, finished)
            expected = figures if phase != "save" else figures + 20
            try:
                CHECKS[phase](trial, lib, src, expected)
            except Exception as e:  # noqa: BLE001 - a library that cannot even be checked is a failed trial
                trial.problems.append(f"{type(e).__name__}: {e}")
            results.append(trial)
            shutil.rmtree(lib, ignore_errors=True)
    return results


def _fresh_library(phase: str, lib: Path, template: Path) -> Path:
    if phase in ("remove", "save"):
        shutil.copytree(template, lib)
    return lib


def _calibrate(phase: str, workdir: Path, template: Path, src: Path) -> float:
    """How long the phase takes when nobody kills it (kill delays are drawn up to this)."""
    lib = _fresh_library(phase, workdir / f"{phase}-calibration", template)
    _, seconds = _run_and_kill(phase, lib, src, None)
    shutil.rmtree(lib, ignore_errors=True)
    return seconds


def summary(results: list[Trial]) -> list[str]:
    lines = [f"{'phase':8} {'trials':>6} {'killed':>6} {'passed':>6} {'lost':>5} {'dup':>4}"]
    for phase in dict.fromkeys(r.phase for r in results):
        rows = [r for r in results if r.phase == phase]
        lines.append(
            f"{phase:8} {len(rows):6d} {sum(not r.finished for r in rows):6d} {sum(r.passed for r in rows):6d} "
            f"{sum(r.lost for r in rows):5d} {sum(r.duplicated for r in rows):4d}"
        )
    for r in results:
        if not r.passed:
            lines.append(f"  FAILED {r.phase} killed after {r.delay:.3f} s: {r.problems} lost={r.lost}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--figures", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kill-campaign-"))
    started = time.monotonic()
    results = run_campaign(workdir, args.trials, args.figures, args.seed)
    print(f"kill -9 campaign: {args.trials} trials per phase, {args.figures} figures, seed {args.seed}, "
          f"{time.monotonic() - started:.0f} s")
    for line in summary(results):
        print(line)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "worker":
        worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        sys.exit(main())
