"""Building a library from imported vectors (`pmc-search index SOURCE --vectors DIR`): time and peak memory.

    python -m bench.vector_import --count 1000000          # ≈ GBs of shards in a temp folder; minutes
    python -m bench.vector_import --count 100000 --baseline

Writes `--count` synthetic 768-d vectors of low intrinsic dimension (benchmarks.md) as embed-corpus shards (one
article per five figures, a caption each), then times `Library.import_vectors` into a new library: catalog rows
through the ingest writers, modality labels, and the index (reduced mode from 100k vectors), then the save.
Peak memory is the process's ru_maxrss, also as a multiple of the raw float32 vectors. `--baseline` also times,
in the same run, a raw SQL bulk insert of the same rows (bench/query.py's builder: no ORM, no index, no labels)
as the floor the import is compared to. Each phase runs once per --runs (a new library each time).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine_info import describe
from bench.random_encoder import NullEncoder
from engine.index import low_rank_vectors
from engine.index.synthetic import iter_low_rank_blocks
from engine.library import Library
from engine.library.corpus_shards import ShardManifest, ShardWriter, rank_folder
from engine.library.ingest import EncodedFigure
from engine.progress import run_to_end
from engine.types import ArticleMeta, FigureRecord, ModelSpec

WORDS = (
    "axial", "ct", "mri", "chest", "brain", "liver", "histology", "stained", "lesion", "tumour", "gel", "blot",
    "chart", "diagram", "panel",
)


def write_shards(out: Path, source: Path, encoder, count: int, part: int = 50_000) -> None:
    manifest = ShardManifest(model_id=encoder.model_id, dim=encoder.dim, preprocess="unspecified",
                             source=str(source.resolve()), kind="folder", rank=0, world_size=1)
    writer = ShardWriter(rank_folder(out, 0, 1), manifest)
    rng = np.random.default_rng(0)
    done = 0
    for block in iter_low_rank_blocks(count, encoder.dim, block=part):
        figures = []
        for i in range(done, done + len(block)):
            caption = " ".join(rng.choice(WORDS, 8))
            article = ArticleMeta(pmcid=f"PMC{1_000_000 + i // 5}", title=f"article {i // 5}",
                                  journal=f"Journal {i // 5 % 50}", year=2000 + i // 5 % 25)
            record = FigureRecord(key=f"f{i:07d}.jpg", image_path=source / f"f{i:07d}.jpg", caption=caption,
                                  article=article)
            figures.append(EncodedFigure(record, 1000 + i, 1_700_000_000_000_000_000 + i, f"{i:064x}"))
        done += len(block)
        writer.add_part(figures, block, done, [])
    writer.finish()


def import_once(shards: Path, source: Path, encoder, where: Path) -> dict[str, float]:
    started = time.perf_counter()
    library = Library.create(where, ModelSpec("bench"), model_id=encoder.model_id, dim=encoder.dim)
    library.attach_encoder(encoder)
    collection = library.add_collection(source, kind="folder")
    report = run_to_end(library.import_vectors(collection.id, shards))
    imported = time.perf_counter() - started
    index = library._index.current()
    query = low_rank_vectors(1, encoder.dim, seed=7)[0]
    found, _ = index.search(query[None, :], k=10)
    library.close()
    assert report.added == len(index) and found.shape == (1, 10)
    return {"seconds": imported, "figures": report.added, "reduced_dim": index.reduced_dim or 0, "ef": index.ef}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also time a raw SQL bulk insert of the same rows")
    args = parser.parse_args(argv)
    print(describe())
    encoder = NullEncoder(dim=768)
    raw = args.count * 768 * 4
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp = Path(tmp)
        source = tmp / "source"
        source.mkdir()
        started = time.perf_counter()
        write_shards(tmp / "shards", source, encoder, args.count)
        print(f"shards: {args.count:,} vectors written in {time.perf_counter() - started:.1f} s")
        results = [import_once(tmp / "shards", source, encoder, tmp / f"lib{run}") for run in range(args.runs)]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        seconds = [r["seconds"] for r in results]
        print(f"import {args.count:,} vectors (catalog rows + modality labels + index ef={results[0]['ef']} "
              f"reduced_dim={results[0]['reduced_dim']} + save): median {statistics.median(seconds):.1f} s "
              f"(min {min(seconds):.1f}, max {max(seconds):.1f}), {args.count / statistics.median(seconds):,.0f} "
              f"figures/s")
        print(f"peak memory (ru_maxrss, whole process): {peak / 2**20:,.0f} MiB = {peak / raw:.2f}x the raw float32 "
              f"vectors ({raw / 2**20:,.0f} MiB)")
        if args.baseline:
            from bench.query import build

            times = []
            for run in range(args.runs):
                started = time.perf_counter()
                build(tmp / f"raw{run}", encoder, args.count)
                times.append(time.perf_counter() - started)
            ratio = statistics.median(seconds) / statistics.median(times)
            print(f"baseline raw SQL bulk insert (no ORM, no labels, no index): median "
                  f"{statistics.median(times):.1f} s; import takes {ratio:.2f}x that")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
