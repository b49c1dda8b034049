"""Load: 10,000 queries while an ingest runs; query latency (p50/p99) and process memory (RSS) growth.

    python -m bench.load                              # demo model, 2,000 figures, 10,000 queries, 2,000 per cycle
    python -m bench.load --queries 2000 --runs 1      # quick look

Issue 15's question: does a library stay responsive and flat in memory when it is searched hard while it grows?
Per run, on a fresh copy of a library of `--figures` figures (the bundled demo model, a real PMC-CLIP-shaped model
with small towers, so text queries run the real tokenizer + BERT):
  1. baseline: `--queries` queries with nothing else running (p50/p99);
  2. load: the same queries from `--threads` threads while a writer keeps working for the whole phase: it indexes
     `--ingest` new figures, removes that collection, and starts again (every cycle encodes them anew).
Queries cycle through 30 texts, half with filters or paging, plus one find-similar in ten. RSS is read from
/proc/self/status after a 300-query warm-up and at the end of the load phase; growth = end / warm - 1 (the issue
asks for <= 5 %). Figures: median of the runs with min and max, and the load/baseline p99 ratio.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw

from bench.machine_info import describe
from engine.library import Library, open_or_create
from engine.progress import run_to_end
from engine.types import ModelSpec, QueryTerm, SearchFilters, SearchQuery

DEMO_MODEL = "local-dir:" + str(Path(__file__).resolve().parents[1] / "resources" / "demo-model")
_WORDS = ("ct", "mri", "x-ray", "histology", "chest", "brain", "knee", "liver", "tumour", "lesion", "effusion",
          "fracture", "stained", "slide", "microscopy", "chart", "diagram", "axial", "coronal", "contrast")
TEXTS = [" ".join(random.Random(n).sample(_WORDS, 3)) for n in range(30)]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_source(folder: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for n in range(count):
        image = Image.new("RGB", (96, 96), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(80), rng.randrange(80)
            draw.ellipse((x, y, x + rng.randrange(8, 30), y + rng.randrange(8, 30)),
                         fill=tuple(rng.randrange(256) for _ in range(3)))
        image.save(folder / f"s{seed}-{n:05}.png")
        (folder / f"s{seed}-{n:05}.txt").write_text(f"Figure {n}: " + " ".join(rng.sample(_WORDS, 5)))
    return folder


def _query(n: int, total_figures: int) -> SearchQuery:
    text = TEXTS[n % len(TEXTS)]
    if n % 10 == 9:
        return SearchQuery(terms=(QueryTerm(figure_id=1 + n % max(1, total_figures)),), limit=10, hybrid=False)
    if n % 2:
        return SearchQuery(terms=(QueryTerm(text=text),), filters=SearchFilters(collection_ids=(1,)), limit=10,
                           offset=n % 3 * 10)
    return SearchQuery(terms=(QueryTerm(text=text),), limit=10)


def run_queries(library, count: int, threads: int, figures: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(start: int) -> None:
        mine = []
        try:
            for n in range(start, count, threads):
                began = time.perf_counter()
                library.search(_query(n, figures))
                mine.append((time.perf_counter() - began) * 1000)
        except BaseException as e:  # surfaced below: a failed query fails the benchmark
            errors.append(e)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return latencies


class _Writer(threading.Thread):
    """Ingests `source` and removes it again, over and over, until stopped: a writer busy for the whole phase."""

    def __init__(self, library, source: Path, expected: int):
        super().__init__(name="bench-writer")
        self.library, self.source, self.expected = library, source, expected
        self.ingested, self.cycles = 0, 0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                collection = self.library.add_collection(self.source)
                report = run_to_end(self.library.ingest(collection.id, batch_size=32, cancel=self._stop_event.is_set))
                self.ingested += report.added + report.reused
                if not report.cancelled and report.added + report.reused != self.expected:
                    raise RuntimeError(f"a cycle indexed {report}, expected {self.expected} figures")
                self.library.remove_collection(collection.id)
                self.cycles += 1
        except BaseException as e:  # surfaced by stop()
            self.error = e

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        if self.error is not None:
            raise self.error


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(template: Path, extra: Path, args, workdir: Path) -> dict:
    folder = workdir / "lib"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(template, folder)
    with open_or_create(folder, ModelSpec(), device="cpu") as library:
        figures = library.info().figures
        run_queries(library, 300, args.threads, figures)  # warm-up: caches, allocator, lazy imports
        baseline = run_queries(library, args.queries, args.threads, figures)
        rss_warm = rss_mb()
        writer = _Writer(library, extra, args.ingest)
        started = time.perf_counter()
        writer.start()
        loaded = run_queries(library, args.queries, args.threads, figures)
        query_seconds = time.perf_counter() - started
        writer.stop()
        rss_end = rss_mb()
    return {
        "base_p50": _p(baseline, 0.5), "base_p99": _p(baseline, 0.99),
        "p50": _p(loaded, 0.5), "p99": _p(loaded, 0.99), "max": max(loaded),
        "qps": len(loaded) / query_seconds, "ingested": writer.ingested, "cycles": writer.cycles,
        "rss_warm": rss_warm, "rss_end": rss_end, "growth": rss_end / rss_warm - 1.0,
    }


def _line(name: str, values: list[float], unit: str) -> str:
    return f"{name:<24} median {statistics.median(values):8.2f} {unit} (min {min(values):.2f}, max {max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--figures", type=int, default=2_000, help="figures in the library before the run")
    parser.add_argument("--ingest", type=int, default=2_000, help="figures per ingest cycle while the queries run")
    parser.add_argument("--threads", type=int, default=2, help="query threads")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(describe())
    print(f"model: demo ({DEMO_MODEL}), {args.queries} queries from {args.threads} threads, k=10, "
          f"{args.figures} figures; meanwhile ingest+remove cycles of {args.ingest} figures; {args.runs} runs")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp)
        base = make_source(work / "base", args.figures, seed=1)
        extra = make_source(work / "extra", args.ingest, seed=2)
        template = work / "template"
        started = time.perf_counter()
        with open_or_create(template, ModelSpec(name=DEMO_MODEL), device="cpu") as library:
            run_to_end(library.ingest(library.add_collection(base).id, batch_size=32))
        Library.open(template).close()
        print(f"template library: {args.figures} figures in {time.perf_counter() - started:.0f} s")
        runs = []
        for n in range(args.runs):
            result = one_run(template, extra, args, work)
            runs.append(result)
            print(f"run {n + 1}: p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms (baseline p99 "
                  f"{result['base_p99']:.1f}), {result['qps']:.0f} q/s, {result['ingested']} figures indexed "
                  f"meanwhile ({result['cycles']} ingest+remove cycles), RSS {result['rss_warm']:.0f} -> "
                  f"{result['rss_end']:.0f} MB ({100 * result['growth']:+.1f} %)")
    pick = {key: [r[key] for r in runs] for key in runs[0]}
    print(_line("baseline p50", pick["base_p50"], "ms"))
    print(_line("baseline p99", pick["base_p99"], "ms"))
    print(_line("under ingest p50", pick["p50"], "ms"))
    print(_line("under ingest p99", pick["p99"], "ms"))
    print(_line("p99 ratio load/baseline", [r["p99"] / r["base_p99"] for r in runs], "x"))
    print(_line("queries/s under ingest", pick["qps"], "q/s"))
    print(_line("figures indexed meanwhile", pick["ingested"], "figures"))
    print(_line("RSS growth", [100 * g for g in pick["growth"]], "%"))
    print(f"peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"growth limit 5 %: {'met' if max(pick['growth']) <= 0.05 else 'EXCEEDED'}")
    return 0 if max(pick["growth"]) <= 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
