"""One text query through PMC-CLIP's real-size text tower (BERT-base, 77 tokens, no mask): each speed lever with
its latency, speed-up over the same-run baseline and cosine to fp32.

    python -m bench.text_encode                                  # this CPU's paths, 1 and 2 threads
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 python -m bench.text_encode
        # the same with torch's libraries held to AVX2 (what an AVX2-only CPU runs; ONNX Runtime's MLAS cannot be
        # held back this way, so its row still uses AVX-512 here)

Baseline: `PMCClip.encode_text` in fp32 (transformers' BertModel, the faithful call) on 1 thread. Levers, each
timed warm, one query at a time, in interleaved rounds (so machine load hits them alike), median/min/max of
--runs rounds of --queries queries:
  threads 2; compact tower fp32 (fused QKV) full / [CLS]-only last layer; bf16 weights (oneDNN); int8 dynamic
  quantisation (per-channel weights); torch.compile of the fp32 compact tower; ONNX Runtime fp32; the vector
  cache (a repeated query). Cosine to the fp32 reference is computed on `varied_texts()` (64 texts), on the [CLS]
  state's projection (the feature), for weights with trained-BERT statistics (bench/realistic_text.py);
  --variant hf-init uses transformers' own init instead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.machine_info import describe
from bench.realistic_text import VARIANTS, pairwise_cosine_median, realistic_pmc_clip, varied_texts
from engine.models.encoder import TextVectorCache
from engine.models.precision import onnxruntime_available, text_tower_plan
from engine.models.text_tower import CompactTextTower
from engine.models.tokenizer import tokenize


def _features(fn: Callable[[torch.Tensor], torch.Tensor], ids: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([fn(ids[i : i + 16]) for i in range(0, len(ids), 16)]).float().numpy()


def _cosine(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    c = (F.normalize(torch.from_numpy(a), dim=-1) * F.normalize(torch.from_numpy(b), dim=-1)).sum(-1)
    return float(c.min()), float(c.median())


def _candidates(model, use_compile: bool, thread_counts: list[int]) -> dict[str, tuple[Callable, int]]:
    """name -> (ids [1, 77] -> features, threads)."""
    out: dict[str, tuple[Callable, int]] = {
        f"reference fp32 (BertModel), {t} thr": (model.encode_text, t) for t in [1, *thread_counts[1:]]
    }
    fp32_full = CompactTextTower.from_pmc_clip(model, linear="fp32", cls_only=False)
    fp32 = CompactTextTower.from_pmc_clip(model, linear="fp32")
    bf16 = CompactTextTower.from_pmc_clip(model, linear="bf16")
    int8 = CompactTextTower.from_pmc_clip(model, linear="int8")
    for threads in thread_counts:
        out[f"compact fp32, all rows, {threads} thr"] = (fp32_full, threads)
        out[f"compact fp32, [CLS]-only last layer, {threads} thr"] = (fp32, threads)
        out[f"compact bf16 weights, [CLS]-only, {threads} thr"] = (bf16, threads)
        out[f"compact int8 dynamic, [CLS]-only, {threads} thr"] = (int8, threads)
    if onnxruntime_available():
        from engine.models.text_onnx import OnnxTextTower

        folder = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
        for threads in thread_counts:
            out[f"onnxruntime fp32, [CLS]-only, {threads} thr"] = (
                OnnxTextTower(fp32, folder, context_length=77, threads=threads), threads)
    if use_compile:
        started = time.perf_counter()
        compiled = torch.compile(fp32)
        with torch.inference_mode():
            compiled(torch.zeros((1, 77), dtype=torch.long))
        print(f"torch.compile (inductor) of the fp32 compact tower: {time.perf_counter() - started:.0f} s to compile")
        for threads in thread_counts:
            out[f"torch.compile fp32 [CLS]-only, {threads} thr"] = (compiled, threads)
    return out


def _time_rounds(candidates, ids: torch.Tensor, runs: int, queries: int) -> dict[str, list[float]]:
    """Per candidate, the median ms of `queries` single-query calls, once per round, rounds interleaved."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.inference_mode():
        for fn, threads in candidates.values():  # warm-up (oneDNN primitive caches, ORT arena)
            torch.set_num_threads(threads)
            fn(ids[:1])
            fn(ids[1:2])
        for _ in range(runs):
            for name, (fn, threads) in candidates.items():
                torch.set_num_threads(threads)
                samples = []
                for q in range(queries):
                    row = ids[q % len(ids)][None]
                    started = time.perf_counter()
                    fn(row)
                    samples.append((time.perf_counter() - started) * 1e3)
                times[name].append(statistics.median(samples))
    return times


def _cache_ms(model, tokenizer, texts: list[str], runs: int) -> list[float]:
    """A repeated query: tokenising skipped too, the vector comes from the encoder's cache."""
    cache = TextVectorCache()
    tower = CompactTextTower.from_pmc_clip(model, linear="fp32")
    with torch.inference_mode():
        cache.put(texts[0], tower(tokenize(tokenizer, texts[:1], 77)).numpy()[0])
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(100):
            cache.get(texts[0])
        out.append((time.perf_counter() - started) * 10.0)  # ms per lookup
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=8, help="single queries per candidate per round")
    parser.add_argument("--variant", choices=VARIANTS, default="trained-scale")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes to compile)")
    parser.add_argument("--threads", default="1,2", help="thread counts to time each lever at (the baseline: 1)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    print(describe())
    print(f"this machine's plan: {text_tower_plan()}")
    model, tokenizer = realistic_pmc_clip(args.variant)
    texts = varied_texts()
    ids = tokenize(tokenizer, texts, 77)
    torch.set_num_threads(2)
    reference = _features(model.encode_text, ids)
    with torch.inference_mode():
        cls_state = model.text_encoder(input_ids=ids[:32]).last_hidden_state[:, 0].numpy()
    print(f"weights: {args.variant}; {len(texts)} texts; pairwise cosine median between texts: feature "
          f"{pairwise_cosine_median(reference):.3f}, [CLS] state {pairwise_cosine_median(cls_state):.3f}")
    candidates = _candidates(model, args.compile, [int(t) for t in args.threads.split(",")])
    times = _time_rounds(candidates, ids, args.runs, args.queries)
    baseline = statistics.median(next(iter(times.values())))
    print(f"\n{'lever':<48} {'median ms':>9} {'min':>7} {'max':>7} {'speed-up':>8}  cosine to fp32 (min / median)")
    for name, (fn, _threads) in candidates.items():
        torch.set_num_threads(2)
        low, mid = _cosine(_features(fn, ids), reference)
        t = times[name]
        print(f"{name:<48} {statistics.median(t):9.1f} {min(t):7.1f} {max(t):7.1f} "
              f"{baseline / statistics.median(t):7.2f}x  {low:.5f} / {mid:.5f}")
    cached = _cache_ms(model, tokenizer, texts, args.runs)
    print(f"{'repeated query (vector cache hit)':<48} {statistics.median(cached):9.4f} {min(cached):7.4f} "
          f"{max(cached):7.4f} {baseline / statistics.median(cached):7.0f}x  1.00000 / 1.00000")
    print(f"baseline = the first row; {args.runs} rounds x {args.queries} queries; batch 1, 77 tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
