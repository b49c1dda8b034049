"""Figures per second of `pmc-trainer synth` (drawing + PNG files + vocabulary), one process, one core.

    python -m bench.synth_throughput [--n 1000] [--image-size 96] [--runs 3]

Prints the median, min and max over `--runs` runs (each into a fresh temp dir, seed = run number), by wall clock
and by CPU time of the process, and the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from bench.synth_retrieval_probe import machine_info
from trainer.synth import SynthConfig, generate_synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine_info())
    wall, cpu = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            start, start_cpu = time.perf_counter(), time.process_time()
            generate_synthetic(tmp, SynthConfig(n=args.n, seed=run, image_size=args.image_size))
            wall.append(args.n / (time.perf_counter() - start))
            cpu.append(args.n / (time.process_time() - start_cpu))
        print(f"run {run + 1}: {wall[-1]:.0f} figures/s wall, {cpu[-1]:.0f} figures per CPU-second")
    for name, rates in (("wall", wall), ("CPU", cpu)):
        print(
            f"synth {args.n} figures at {args.image_size} px, {name}: median {statistics.median(rates):.0f} "
            f"figures/s (min {min(rates):.0f}, max {max(rates):.0f}, {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
