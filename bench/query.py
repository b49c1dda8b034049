"""End-to-end text query latency on CPU: encode the text, search (ANN + caption keywords), load metadata.

    python -m bench.query                          # 100k synthetic figures, BERT-base text tower, 3 runs
    python -m bench.query --count 20000 --size small --library /tmp/q20k   # keep and reuse the library

The library is filled with synthetic 768-d vectors of low intrinsic dimension (see benchmarks.md), one
caption per figure and one article per five figures, written straight into the catalog. A caption is 12
words, each a domain word (44 of them, so each is in about 8% of captions) with probability 0.3, else one of
20,000 filler words; opening it builds
the hnswlib index from the stored vectors (timed and printed). Each run issues the same 30 different queries,
k = 10, hybrid ranking on; figures are the median over runs of each run's p50/p99, with min and max.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

from bench.machine_info import describe
from bench.random_encoder import RandomPMCClipEncoder
from engine.catalog import open_engine, vector_to_blob
from engine.index import low_rank_vectors
from engine.library import CATALOG_FILE, Library, is_library
from engine.search import KeywordQuery, RankRequest
from engine.types import ModelSpec, QueryTerm, SearchQuery

_VOCAB_TEXT = (
    "axial coronal sagittal ct mri x-ray ultrasound histology stained slide tumour lesion effusion fracture "
    "chest brain knee liver kidney heart lung bone vessel cell nucleus membrane protein gel blot chart plot "
    "diagram patient control treatment arrow marker contrast enhanced weighted image panel scale bar"
)
_VOCAB = _VOCAB_TEXT.split()
QUERIES = [
    "axial ct of the chest",
    "mri of the brain with contrast",
    "knee x-ray fracture",
    "histology slide stained tumour",
    "ultrasound of the liver",
    "western blot protein",
    "bar chart of treatment and control",
    "diagram of the cell membrane",
    "lung lesion",
    "kidney vessel",
]


def _caption(rng: np.random.Generator) -> str:
    words = [str(rng.choice(_VOCAB)) if rng.random() < 0.3 else f"w{int(rng.integers(20_000))}" for _ in range(12)]
    return " ".join(words)


def build(path: Path, encoder, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vectors = low_rank_vectors(count, encoder.dim, seed=seed)
    Library.create(path, ModelSpec("bench"), model_id=encoder.model_id, dim=encoder.dim).close()
    engine = open_engine(path / CATALOG_FILE)  # bulk insert: the benchmark measures queries, not ingestion
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO collections (id, name, kind, source, scan_mark) "
                    "VALUES (1, 'synthetic', 'folder', '/synthetic', 1)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO articles (id, pmcid, title, journal, year) "
                    "VALUES (:id, :pmcid, :title, :journal, :year)"
                ),
                [
                    {
                        "id": a,
                        "pmcid": f"PMC{1000000 + a}",
                        "title": _caption(rng),
                        "journal": f"Journal {a % 50}",
                        "year": int(2000 + a % 25),
                    }
                    for a in range(1, count // 5 + 2)
                ],
            )
            for start in range(0, count, 10_000):
                stop = min(count, start + 10_000)
                conn.execute(
                    text("INSERT INTO vectors (content_sha256, data) VALUES (:sha, :data)"),
                    [{"sha": f"{i:064x}", "data": vector_to_blob(vectors[i])} for i in range(start, stop)],
                )
                conn.execute(
                    text(
                        "INSERT INTO figures (id, collection_id, article_id, key, image_path, file_size, mtime_ns, "
                        "content_sha256, caption, status, scan_mark) VALUES "
                        "(:id, 1, :article, :key, :path, 1, 1, :sha, :caption, 'ok', 1)"
                    ),
                    [
                        {
                            "id": i + 1,
                            "article": i // 5 + 1,
                            "key": f"f{i}",
                            "path": f"/synthetic/f{i}.jpg",
                            "sha": f"{i:064x}",
                            "caption": _caption(rng),
                        }
                        for i in range(start, stop)
                    ],
                )
            # A new generation: the saved (empty) index is stale, so opening the library builds it.
            conn.execute(text("UPDATE library_meta SET value = value + 1 WHERE key = 'generation'"))
    finally:
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", choices=["small", "rn50"], default="rn50", help="text tower: rn50 = BERT-base")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--library", type=Path, help="build here (or reuse a library built here before)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe())
    encoder = RandomPMCClipEncoder(args.size)
    folder = args.library or Path(tempfile.mkdtemp(prefix="bench-query-")) / "lib"
    if not is_library(folder):
        started = time.perf_counter()
        build(folder, encoder, args.count)
        print(f"catalog: {args.count} figures written in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    library = Library.open(folder)
    print(f"open (index load or build from stored vectors): {time.perf_counter() - started:.1f} s")
    with library:
        library.attach_encoder(encoder)
        index = library._index.current()
        print(
            f"library: {library.info().figures} figures, {encoder.dim}-d, index ef={index.ef}, model {encoder.model_id}"
        )
        queries = QUERIES * 3
        # min_score: every query ranks a full page, whatever its verdict (random weights match nothing clearly).
        for q in QUERIES[:3]:  # warm-up (also encodes the null prompts once)
            library.search(SearchQuery((QueryTerm(q),), limit=10, min_score=-1e9))
        nulls = library._null_vectors()
        totals, encodes, searches = [], [], []
        for run in range(args.runs):
            total_ms, encode_ms, search_ms = [], [], []
            for q in queries:
                t0 = time.perf_counter()
                page = library.search(SearchQuery((QueryTerm(q),), limit=10, min_score=-1e9))
                t1 = time.perf_counter()
                vector = encoder.encode_texts([q])[0]
                t2 = time.perf_counter()
                library._searcher.search(
                    RankRequest(vector=vector, null_vectors=nulls, keywords=KeywordQuery.from_text(q), limit=10,
                                min_score=-1e9)
                )
                t3 = time.perf_counter()
                assert len(page.results) == 10
                total_ms.append((t1 - t0) * 1e3)
                encode_ms.append((t2 - t1) * 1e3)
                search_ms.append((t3 - t2) * 1e3)
            totals.append((percentile(total_ms, 50), percentile(total_ms, 99)))
            encodes.append(percentile(encode_ms, 50))
            searches.append((percentile(search_ms, 50), percentile(search_ms, 99)))
            print(
                f"run {run + 1}: end-to-end p50 {totals[-1][0]:.1f} ms p99 {totals[-1][1]:.1f} ms; "
                f"text encode p50 {encodes[-1]:.1f} ms; search+metadata p50 {searches[-1][0]:.1f} ms "
                f"p99 {searches[-1][1]:.1f} ms"
            )

    def line(name: str, values: list[float]) -> str:
        return f"{name:<28} median {statistics.median(values):7.1f} ms (min {min(values):.1f}, max {max(values):.1f})"

    print(f"{len(queries)} queries per run, k=10, hybrid (ANN by match strength + BM25 evidence), {args.runs} runs")
    print(line("end-to-end p50", [t[0] for t in totals]))
    print(line("end-to-end p99", [t[1] for t in totals]))
    print(line("text encode p50", encodes))
    print(line("search + metadata p50", [s[0] for s in searches]))
    print(line("search + metadata p99", [s[1] for s in searches]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
