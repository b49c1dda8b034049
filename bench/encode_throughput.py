"""Encoder throughput on this machine: PMC-CLIP image tower vs a bare open_clip RN50, CPU paths, text latency.

    python -m bench.encode_throughput --runs 3 --batch 16

Measures, all in one run (random weights, real sizes; the numbers do not depend on the weights' values):
- fp32 GEMM rates (2048² matmul and a 1×1 conv via oneDNN, timed in the same rounds as the towers); the faster
  one is the CPU's practical fp32 roofline;
- FLOPs per 224² image of each tower (torch's FlopCounterMode, 2 FLOPs per multiply-add);
- images/s of our ModifiedResNet-50 (32-head attention pool, 768-d) and of open_clip's RN50 image tower, same
  input batch, warm (one untimed pass first), timed in interleaved rounds, median/min/max over --runs;
- the faster-CPU-path candidates (channels_last fp32, bf16 autocast, and the encoder's CPU path: channels_last +
  BatchNorm folded into the convs): images/s and cosine vs our fp32 output
  (BN statistics calibrated on structured images first, so features differ per image);
- text encoding latency for one query through the full-size BERT + projection (tokenisation included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from bench.machine_info import cpu_model
from engine.models.inference import fold_batchnorm_
from engine.models.modified_resnet import ModifiedResNet
from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.precision import cpu_has_native_bf16
from engine.models.tokenizer import build_vocab, load_tokenizer, tokenize

MATMUL = "matmul"
CONV_GEMM = "conv gemm"
FAST = "PMC-CLIP tower, encoder CPU path fp32"  # channels_last, BatchNorm folded into the convs
FAST_BF16 = "PMC-CLIP tower, encoder CPU path bf16"  # the same under bf16 autocast (CPUs with native bf16)


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: allocator, oneDNN primitive caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):8.2f}  min {min(values):8.2f}  max {max(values):8.2f}"


def matmul_fn(size: int = 2048) -> tuple[Callable[[], object], float]:
    """A 2048² fp32 matmul and its GFLOP, timed in the same rounds as the towers so it sees the same load."""
    a, b = torch.randn(size, size), torch.randn(size, size)

    def multiply():
        with torch.inference_mode():
            for _ in range(4):
                a @ b

    return multiply, 4 * 2 * size**3 / 1e9


def conv_gemm_fn(batch: int = 16, channels: int = 1024, side: int = 14) -> tuple[Callable[[], object], float]:
    """A 1×1 convolution in channels_last is one big GEMM run by oneDNN — the library that runs the towers' convs.
    On some CPUs (AMD with MKL) torch's fp32 matmul is much slower than oneDNN, so take the faster of the two as
    the practical fp32 ceiling."""
    conv = torch.nn.Conv2d(channels, channels, 1, bias=False).eval().to(memory_format=torch.channels_last)
    x = torch.randn(batch, channels, side, side).contiguous(memory_format=torch.channels_last)

    def run():
        with torch.inference_mode():
            conv(x)

    return run, 2 * batch * side * side * channels * channels / 1e9


def gflop_per_image(tower: torch.nn.Module, image_size: int = 224) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        tower(torch.randn(1, 3, image_size, image_size))
    return counter.get_total_flops() / 1e9


def interleaved_images_per_second(
    candidates: dict[str, tuple[Callable[[], object], float]], runs: int
) -> dict[str, list[float]]:
    """Work units per second (images, or GFLOP for the matmul) of each candidate, timed once per round, round
    after round, so load from other processes hits all of them alike."""
    for fn, _ in candidates.values():
        fn()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, (fn, count) in candidates.items():
            start = time.perf_counter()
            fn()
            rates[name].append(count / (time.perf_counter() - start))
    return rates


def forward_fn(tower: torch.nn.Module, batch: torch.Tensor, bf16: bool = False) -> Callable[[], torch.Tensor]:
    def forward():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return tower(batch)

    return forward


def calibrate_batchnorm_(tower: torch.nn.Module, images: torch.Tensor) -> None:
    """Random weights with default BN statistics give near-identical features for every image (pairwise cosine
    ≈1), which would make any cosine comparison meaningless. Setting BN statistics from data (as training
    would) gives features that differ per image, like a trained tower's."""
    for module in tower.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
            module.reset_running_stats()
    tower.train()
    with torch.no_grad():
        for chunk in images.split(8):
            tower(chunk)
    tower.eval()


def smooth_images(count: int, seed: int, grain: int = 16) -> torch.Tensor:
    """Images with spatial structure (upsampled noise), not i.i.d. pixel noise."""
    noise = torch.randn(count, 3, grain, grain, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(noise, size=224, mode="bicubic", align_corners=False)


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    cos = F.cosine_similarity(a.float(), b.float(), dim=-1)
    return float(cos.mean()), float(cos.min())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--text-runs", type=int, default=10)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import os

    import open_clip

    print(
        f"machine: {cpu_model()}; nproc {os.cpu_count()}; torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads); numpy {np.__version__}; open_clip {open_clip.__version__}; native CPU bf16 "
        f"(avx512_bf16/amx): {cpu_has_native_bf16()}"
    )
    print(f"load average before the run (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"setup: CPU, batch {args.batch}, 224x224, warm (1 untimed pass), {args.runs} timed runs, random weights")

    torch.manual_seed(0)
    config = PMCClipConfig()

    def our_tower() -> ModifiedResNet:
        return ModifiedResNet(config.vision.layers, config.embed_dim, config.vision.heads, 224, config.vision.width)

    ours = our_tower()
    calibrate_batchnorm_(ours, smooth_images(16, seed=2))
    reference = open_clip.create_model("RN50", pretrained=None).visual.eval()
    ours_gflop, ref_gflop = gflop_per_image(ours), gflop_per_image(reference)
    print(f"GFLOP per image: PMC-CLIP tower {ours_gflop:.2f}, open_clip RN50 tower {ref_gflop:.2f}")

    ours_cl = our_tower()
    ours_cl.load_state_dict(ours.state_dict())
    ours_cl = ours_cl.eval().to(memory_format=torch.channels_last)
    ours_fast = our_tower()
    ours_fast.load_state_dict(ours.state_dict())
    fold_batchnorm_(ours_fast.eval())
    ours_fast = ours_fast.to(memory_format=torch.channels_last)
    batch = smooth_images(args.batch, seed=1)
    batch_cl = batch.contiguous(memory_format=torch.channels_last)
    rates = interleaved_images_per_second(
        {
            MATMUL: matmul_fn(),
            CONV_GEMM: conv_gemm_fn(),
            "open_clip RN50 tower, fp32 (baseline)": (forward_fn(reference, batch), args.batch),
            "PMC-CLIP tower, fp32": (forward_fn(ours, batch), args.batch),
            "PMC-CLIP tower, fp32 channels_last": (forward_fn(ours_cl, batch_cl), args.batch),
            "PMC-CLIP tower, bf16 autocast": (forward_fn(ours, batch, bf16=True), args.batch),
            FAST: (forward_fn(ours_fast, batch_cl), args.batch),
            FAST_BF16: (forward_fn(ours_fast, batch_cl, bf16=True), args.batch),
        },
        args.runs,
    )
    matmul_rates, conv_rates = rates.pop(MATMUL), rates.pop(CONV_GEMM)
    print(f"fp32 matmul 2048^2, GFLOP/s                {_summary(matmul_rates)}")
    print(f"fp32 1x1-conv GEMM (oneDNN), GFLOP/s       {_summary(conv_rates)}")
    ceiling = max(statistics.median(matmul_rates), statistics.median(conv_rates))
    for name, values in rates.items():
        print(f"images/s {name:38s} {_summary(values)}")
    baseline = statistics.median(rates["open_clip RN50 tower, fp32 (baseline)"])
    for name in list(rates)[1:]:
        print(f"ratio {name:38s} / open_clip RN50: {statistics.median(rates[name]) / baseline:.2f}x")

    with torch.inference_mode():
        want = ours(batch)
        normed = F.normalize(want, dim=-1)
        pairwise = (normed @ normed.T)[~torch.eye(len(batch), dtype=torch.bool)]
        print(
            f"fp32 features, cosine between different images: mean {float(pairwise.mean()):.3f} "
            f"(far from 1, so the agreement figures below mean something)"
        )
        cl_cos = mean_cosine(ours_cl(batch_cl), want)
        fast_cos = mean_cosine(ours_fast(batch_cl), want)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast_bf16_cos = mean_cosine(ours_fast(batch_cl), want)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16_cos = mean_cosine(ours(batch), want)
    print(
        f"cosine vs fp32: channels_last mean {cl_cos[0]:.7f} min {cl_cos[1]:.7f}; "
        f"bf16 autocast mean {bf16_cos[0]:.7f} min {bf16_cos[1]:.7f}; "
        f"encoder CPU path fp32 mean {fast_cos[0]:.7f} min {fast_cos[1]:.7f}; "
        f"encoder CPU path bf16 mean {fast_bf16_cos[0]:.7f} min {fast_bf16_cos[1]:.7f}"
    )
    best = statistics.median(rates[FAST])
    roofline = ceiling / ours_gflop
    print(
        f"fp32 roofline for our tower: {roofline:.1f} images/s (best fp32 GEMM rate / GFLOP per image); our CPU path "
        f"(fp32, channels_last, folded BN) reaches {best:.1f} = {best / roofline:.0%} of it"
    )

    model = PMCClip(PMCClipConfig(mlm=False, fusion_layers=0)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        words = [f"word{i}" for i in range(2000)]
        tokenizer = load_tokenizer(build_vocab([" ".join(words)], tmp))
    query = "chest x-ray showing bilateral pulmonary infiltrates"

    def one_query(bf16: bool) -> Callable[[], torch.Tensor]:
        def encode():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model.encode_text(tokenize(tokenizer, [query]), normalize=True)

        return encode

    queries = [" ".join(words[i : i + 3 + i % 9]) for i in range(0, 640, 40)]  # 16 texts of 3..11 words
    with torch.inference_mode():
        want_text = model.encode_text(tokenize(tokenizer, queries))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got_text = model.encode_text(tokenize(tokenizer, queries))
    text_cos = mean_cosine(got_text, want_text)
    normed_text = F.normalize(want_text, dim=-1)
    text_pairwise = (normed_text @ normed_text.T)[~torch.eye(len(queries), dtype=torch.bool)]
    print(
        f"text features: cosine between different texts mean {float(text_pairwise.mean()):.3f}; bf16 autocast "
        f"vs fp32 cosine mean {text_cos[0]:.7f} min {text_cos[1]:.7f}"
    )
    for label, bf16 in (("fp32", False), ("bf16 autocast", True)):
        latencies = [t * 1000 for t in _timed(one_query(bf16), args.text_runs)]
        print(
            f"text encode, one query (77 tokens, tokenising included), full-size BERT, {label} (ms): "
            f"{_summary(latencies)}"
        )
    print(f"load average after the run (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
