"""ANN benchmark: hnswlib (engine.index.VectorIndex) against exact numpy search on synthetic embeddings.

    python -m bench.ann --sizes 10000,100000            # a few minutes on 2 cores
    nice -n 10 python -m bench.ann --sizes 1000000      # ≈5 min build + ≈7 GB RAM
    python -m bench.ann --sizes 1000000 --reduced-dims 48 --efs 64,96,128,160,192 --exact-queries 20
        # the library's reduced mode at 1M (48-d graph + exact re-rank): build in ≈1/3 of the time
    python -m bench.ann --sizes 100000 --reduced-dims 0,48     # full-dimensional and reduced in the same run

For each size it prints: build time; single-query latency p50/p99 of exact search and of HNSW at several ef
(median of --runs runs, with min–max); recall@k against exact search on the same vectors; the ef that
`tune_ef` picks for recall 0.95 and the recall that ef gives on fresh queries; and the index's resident memory
(VmRSS growth while it was built from streamed blocks, and ru_maxrss) against the raw float32 size.

Data: X = Z @ W + noise (latent 24, noise 0.5, rows L2-normalised), see shared/design/benchmarks.md —
i.i.d. Gaussian vectors would make every neighbour equidistant and the recall meaningless.
"""

from __future__ import annotations

import os

# Exact search gets one BLAS thread, like the HNSW queries it is compared with. On a shared 2-core machine a
# multi-threaded OpenBLAS spins against other processes: a 10k x 768 single query measured 18 ms with 2 threads
# against 2.1 ms with 1. Must be set before numpy is imported; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import hnswlib  # noqa: E402
import numpy as np  # noqa: E402

from bench.machine_info import describe  # noqa: E402
from engine.index import VectorIndex, exact_top_k, recall_at_k  # noqa: E402
from engine.index.reduced import FIT_SAMPLE  # noqa: E402
from engine.index.synthetic import iter_low_rank_blocks, low_rank_vectors  # noqa: E402


def machine_info(threads: int) -> str:
    version = getattr(hnswlib, "__version__", "0.8 (no __version__)")
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    return (f"{describe()}\nhnswlib={version} build_threads={threads} query_threads=1 blas_threads={blas}")


def vm_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def summarise(per_run: list[tuple[float, float]]) -> str:
    p50 = [r[0] for r in per_run]
    p99 = [r[1] for r in per_run]
    return (f"p50 {statistics.median(p50):7.3f} ms ({min(p50):.3f}–{max(p50):.3f})  "
            f"p99 {statistics.median(p99):7.3f} ms ({min(p99):.3f}–{max(p99):.3f})")


def time_single_queries(search, queries: np.ndarray, runs: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(runs):
        samples = []
        for q in queries:
            start = time.perf_counter()
            search(q[None, :])
            samples.append(time.perf_counter() - start)
        out.append(percentiles_ms(samples))
    return out


def bench_size(n: int, reduced_dim: int, args: argparse.Namespace) -> None:
    mode = f"reduced to {reduced_dim} dims + exact re-rank" if reduced_dim else "full dimension"
    print(f"\n=== n={n:,} dim={args.dim} ({mode}) latent={args.latent} noise={args.noise} M={args.M} "
          f"ef_construction={args.ef_construction} k={args.k} queries={args.queries} runs={args.runs}")
    rss_before = vm_rss_bytes()
    index = VectorIndex(args.dim, capacity=n, M=args.M, ef_construction=args.ef_construction,
                        reduced_dim=reduced_dim or None)
    start = time.perf_counter()
    next_id = 0
    for block in iter_low_rank_blocks(n, args.dim, latent=args.latent, noise=args.noise, seed=args.seed):
        if reduced_dim and next_id == 0:
            index.fit_projection(block[:FIT_SAMPLE])  # as the library does: on its first stored vectors
        index.add(np.arange(next_id, next_id + len(block)), block)
        next_id += len(block)
        del block
    build_s = time.perf_counter() - start
    rss_index = vm_rss_bytes() - rss_before
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    raw = n * args.dim * 4
    print(f"build: {build_s:.1f} s ({n / build_s:,.0f} vectors/s)")
    print(f"memory: index VmRSS growth {rss_index / 2**20:,.0f} MiB = {rss_index / raw:.2f}x raw float32 "
          f"({raw / 2**20:,.0f} MiB); process ru_maxrss so far {maxrss / 2**20:,.0f} MiB")

    vectors = low_rank_vectors(n, args.dim, latent=args.latent, noise=args.noise, seed=args.seed)
    ids = np.arange(n)
    queries = low_rank_vectors(args.queries, args.dim, latent=args.latent, noise=args.noise, seed=args.seed + 1)
    truth, _ = exact_top_k(queries, vectors, ids, args.k)

    exact_queries = queries[: args.exact_queries]
    exact = time_single_queries(lambda q: exact_top_k(q, vectors, ids, args.k), exact_queries, args.runs)
    exact_p50 = statistics.median(r[0] for r in exact)
    print(f"exact numpy (single query, {len(exact_queries)} queries): {summarise(exact)}")
    for ef in args.efs:
        index.ef = ef
        found, _ = index.search(queries, k=args.k)
        recall = recall_at_k(found, truth)
        ann = time_single_queries(lambda q: index.search(q, k=args.k), queries, args.runs)
        speedup = exact_p50 / statistics.median(r[0] for r in ann)
        print(f"hnsw ef={ef:4d}: recall@{args.k} {recall:.3f}  {summarise(ann)}  speed-up vs exact p50 {speedup:,.0f}x")
    start = time.perf_counter()
    tuned = index.tune_ef(target_recall=0.95, sample=200, k=args.k)
    tune_s = time.perf_counter() - start
    start = time.perf_counter()
    tuned_ref = index.tune_ef(target_recall=0.95, sample=200, k=args.k, reference=(ids, vectors))
    tune_ref_s = time.perf_counter() - start
    found, _ = index.search(queries, k=args.k)
    print(f"tune_ef(0.95): ef={tuned} in {tune_s:.1f} s reading vectors back from hnswlib; ef={tuned_ref} in "
          f"{tune_ref_s:.1f} s with reference=(ids, vectors); recall@{args.k} on fresh queries at ef={tuned_ref} "
          f"{recall_at_k(found, truth):.3f}")
    print(f"process ru_maxrss at end {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB "
          f"(includes the {raw / 2**20:,.0f} MiB float32 copy for exact search)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--latent", type=int, default=24)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--efs", default="16,32,64,128,256")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30, help="single queries timed for the exact baseline")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reduced-dims", default="0", help="comma-separated: 0 = full-dimensional graph, "
                        "d = graph over a d-dim projection + exact re-rank (the library's mode from 100k vectors)")
    args = parser.parse_args(argv)
    args.efs = [int(x) for x in args.efs.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    # hnswlib builds with every core; HNSW queries and exact search (BLAS) use one thread each.
    print(machine_info(os.cpu_count() or 1))
    print(f"command: {' '.join(sys.argv)}")
    for n in sizes:
        for reduced_dim in (int(x) for x in args.reduced_dims.split(",")):
            bench_size(n, reduced_dim, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
