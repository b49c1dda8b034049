"""End-to-end text query latency on CPU: tokenise, encode the text, search (ANN + caption keywords), load metadata.

    python -m bench.query                          # 100k synthetic figures, real-size text tower, 2 threads, 3 runs
    python -m bench.query --count 20000 --library /tmp/q20k   # keep and reuse the library
    python -m bench.query --threads 1

Two encoders run in the same rounds: this machine's CPU text path (engine.models.precision.text_tower_plan:
bf16 / ONNX Runtime fp32 / fp32, [CLS]-only last layer) and the baseline, the model's own fp32 call
(transformers' BertModel). Both wrap the same real-size PMC-CLIP whose BERT has trained-BERT statistics
(bench/realistic_text.py). Each query is timed end to end through `Library.search` with the text-vector cache
and the library's recent pages cleared first, then broken down into its stages timed one by one (tokenise,
encode, search + metadata = ANN, match strength against the null-prompt background, BM25 keyword evidence,
loading the page's figures); a "repeated" query (the same query again, answered from the library's recent
pages) is timed end to end too. Every query asks for a full page whatever its verdict (min_score -1e9):
random-looking weights match nothing clearly.

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
import torch
from sqlalchemy import text

from bench.machine_info import describe
from bench.realistic_text import realistic_pmc_clip
from engine.catalog import open_engine, vector_to_blob
from engine.index import low_rank_vectors
from engine.library import CATALOG_FILE, Library, is_library
from engine.models import PMCClipEncoder
from engine.models.precision import text_tower_plan
from engine.models.transforms import PreprocessConfig, build_eval_transform
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


def make_encoders(model, tokenizer) -> dict[str, PMCClipEncoder]:
    common = {
        "tokenizer": tokenizer, "context_length": 77, "model": model, "model_id": "bench-pmc-clip", "dim": 768,
        "transform": build_eval_transform(PreprocessConfig()), "device": "cpu", "device_reason": "benchmark",
    }
    plan = text_tower_plan()
    return {f"CPU path {plan.label}": PMCClipEncoder(text_plan=plan, **common),
            "baseline fp32 BertModel": PMCClipEncoder(text_plan=None, **common)}


STAGES = ("end-to-end", "repeated (cached)", "tokenise", "encode", "search + metadata")
EVERYTHING = -1e9  # min_score: a full page whatever the verdict


def time_query(library, encoder, q: str) -> dict[str, float]:
    """ms per stage for one query (cache cleared first), and the repeated query end to end."""
    out = {}
    encoder.text_cache.clear()
    library._recent_pages.invalidate()  # the first ask is a new query; the second is answered from recent pages
    t0 = time.perf_counter()
    page = library.search(SearchQuery((QueryTerm(q),), limit=10, min_score=EVERYTHING))
    t1 = time.perf_counter()
    library.search(SearchQuery((QueryTerm(q),), limit=10, min_score=EVERYTHING))
    t2 = time.perf_counter()
    assert len(page.results) == 10
    out["end-to-end"], out["repeated (cached)"] = (t1 - t0) * 1e3, (t2 - t1) * 1e3
    t3 = time.perf_counter()
    with torch.inference_mode():
        vector = encoder._finish(encoder._text_features([q]))[0]
    t4 = time.perf_counter()
    request = RankRequest(vector=vector, null_vectors=library._null_vectors(), keywords=KeywordQuery.from_text(q),
                          limit=10, min_score=EVERYTHING)
    library._searcher.search(request)
    t5 = time.perf_counter()
    out["tokenise"] = _tokenise_ms(encoder, q)
    out["encode"] = (t4 - t3) * 1e3 - out["tokenise"]  # _text_features tokenises too
    out["search + metadata"] = (t5 - t4) * 1e3
    return out


def _tokenise_ms(encoder, q: str) -> float:
    started = time.perf_counter()
    encoder.tokenize([q])
    return (time.perf_counter() - started) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--library", type=Path, help="build here (or reuse a library built here before)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(describe())
    model, tokenizer = realistic_pmc_clip()
    encoders = make_encoders(model, tokenizer)
    first = next(iter(encoders.values()))
    folder = args.library or Path(tempfile.mkdtemp(prefix="bench-query-")) / "lib"
    if not is_library(folder):
        started = time.perf_counter()
        build(folder, first, args.count)
        print(f"catalog: {args.count} figures written in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    library = Library.open(folder)
    print(f"open (index load or build from stored vectors): {time.perf_counter() - started:.1f} s")
    results = {name: {stage: [] for stage in STAGES} for name in encoders}
    with library:
        index = library._index.current()
        print(f"library: {library.info().figures} figures, 768-d, index ef={index.ef} "
              f"reduced_dim={index.reduced_dim}; {args.threads} torch threads")
        for encoder in encoders.values():
            library.encoder = encoder
            for q in QUERIES[:3]:  # warm-up
                time_query(library, encoder, q)
        for run in range(args.runs):
            for name, encoder in encoders.items():  # interleaved: load hits both alike
                library.encoder = encoder
                per_stage = {stage: [] for stage in STAGES}
                for q in QUERIES * 2:
                    for stage, ms in time_query(library, encoder, q).items():
                        per_stage[stage].append(ms)
                for stage in STAGES:
                    results[name][stage].append(percentile(per_stage[stage], 50))
                results[name]["p99"] = results[name].get("p99", []) + [percentile(per_stage["end-to-end"], 99)]
                print(f"run {run + 1} {name}: end-to-end p50 {results[name]['end-to-end'][-1]:.1f} ms")
    print(f"\n{len(QUERIES) * 2} queries per run and encoder, k=10, hybrid (ANN by match strength + BM25 "
          f"evidence), {args.runs} runs; median over runs of each run's p50 (min, max)")
    for name, stages in results.items():
        print(name)
        for stage in (*STAGES, "p99"):
            values = stages[stage]
            label = "end-to-end p99" if stage == "p99" else f"{stage} p50"
            print(f"  {label:<26} {statistics.median(values):8.2f} ms (min {min(values):.2f}, max {max(values):.2f})")
    names = list(results)
    ratio = statistics.median(results[names[1]]["end-to-end"]) / statistics.median(results[names[0]]["end-to-end"])
    print(f"speed-up end to end, {names[0]} over {names[1]}: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
