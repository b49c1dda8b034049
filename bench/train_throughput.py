"""Training throughput on this machine: our PMC-CLIP step vs open_clip's own training step, and DDP scaling.

    python -m bench.train_throughput --runs 3 --steps 8 --batch 32

Measured in one run, on the same CPU, same random batch (images 64², captions of 48 token ids), fp32, warm
(2 untimed steps first), samples/s as median/min/max over --runs, rounds interleaved so load noise hits both:
- ours, CLIP only: a tiny PMCClip (ModifiedResNet layers [1,1,1,1] width 16 → 128-d, BERT 2×128 with MLP 512,
  no MLM branch) through `trainer.train.Trainer.train_step` (lr schedule, loss, backward, AdamW, clamp),
  with BERT's dropout off (`train.text_dropout=0`), as open_clip's text tower has none;
- open_clip: `open_clip.create_model` of the same-size ModifiedResNet and a same-width/depth text transformer
  (its built-in one: 2 layers, width 128, 4 heads, MLP ratio 4), its `ClipLoss`, AdamW with the same groups,
  the same step (forward, loss, backward, step, zero_grad, clamp);
- for information: ours CLIP-only with the reference's BERT dropout 0.1 (CPU dropout masks cost ~6 % of a
  step here), and ours CLIP + MLM (0.5/0.5, 1-layer fusion + MLM head, dropout 0.1): the full PMC-CLIP objective;
- DDP scaling: 2 gloo processes × 1 thread, per-rank batch --batch, vs 1 process × 1 thread, same per-rank
  batch — global samples/s (median of --runs rounds of --steps steps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.machine_info import cpu_model
from engine.models.pmc_clip import PMCClip, PMCClipConfig
from trainer.config import build_config, preset_model_config, to_dict
from trainer.distributed import DistInfo
from trainer.train import Trainer

VOCAB, CONTEXT, IMAGE = 512, 48, 64


def model_config(mlm: bool) -> PMCClipConfig:
    """The tiny preset as users train it, with a fixed vocabulary (the preset takes it from its tokenizer)."""
    return preset_model_config("tiny", text={"vocab_size": VOCAB}, mlm=mlm)


def make_batch(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (batch, CONTEXT), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    labels = torch.where(torch.rand(batch, CONTEXT, generator=g) < 0.15, ids, torch.zeros_like(ids))
    return {"image": torch.randn(batch, 3, IMAGE, IMAGE, generator=g), "input_ids": ids, "mlm_labels": labels}


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # never used: the benchmark feeds batches to train_step directly
        raise IndexError


def our_step_fn(batch: dict, mlm: bool, dist_info: DistInfo | None = None, text_dropout: float | None = None):
    overrides = [
        f"train.text_dropout={'null' if text_dropout is None else text_dropout}",
        "train.precision=fp32",
        "train.device=cpu",
        f"train.batch_size={len(batch['image'])}",
        "train.epochs=1000",
        "optim.warmup_steps=10",
    ]
    if not mlm:
        overrides += ["loss.w_clip=1.0", "loss.w_mlm=0.0"]
    cfg = build_config({"model": to_dict(model_config(mlm))}, overrides)
    torch.manual_seed(0)
    trainer = Trainer(cfg, PMCClip(cfg.model), _Pairs(10**6), dist_info=dist_info)
    return lambda: trainer.train_step([batch])


def open_clip_step_fn(batch: dict):
    import open_clip
    from open_clip.loss import ClipLoss

    from trainer.optim import param_groups

    arch = {
        "embed_dim": 128,
        "vision_cfg": {"image_size": IMAGE, "layers": [1, 1, 1, 1], "width": 16, "patch_size": None},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": VOCAB, "width": 128, "heads": 4, "layers": 2},
    }
    folder = Path(tempfile.mkdtemp())
    (folder / "bench-tiny-rn.json").write_text(json.dumps(arch))
    open_clip.add_model_config(folder / "bench-tiny-rn.json")
    torch.manual_seed(0)
    model = open_clip.create_model("bench-tiny-rn", device="cpu")
    model.train()
    optimizer = torch.optim.AdamW(param_groups(model, 0.1), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = ClipLoss()
    images, texts = batch["image"], batch["input_ids"]

    def step():
        image_features, text_features, logit_scale = model(images, texts)[:3]
        loss = loss_fn(image_features, text_features, logit_scale)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))

    return step


def samples_per_s(step, batch: int, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):7.2f}  min {min(values):7.2f}  max {max(values):7.2f}"


def compare_with_open_clip(batch: int, steps: int, runs: int) -> None:
    data = make_batch(batch)
    fns = {
        "ours CLIP-only": our_step_fn(data, mlm=False, text_dropout=0.0),
        "open_clip": open_clip_step_fn(data),
        "ours CLIP, BERT dropout 0.1": our_step_fn(data, mlm=False),
        "ours CLIP+MLM": our_step_fn(data, mlm=True),
    }
    for fn in fns.values():
        for _ in range(2):
            fn()
    results: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            results[name].append(samples_per_s(fn, batch, steps))
    print(f"\ntraining samples/s, batch {batch}, {steps} steps per run, {runs} runs, fp32, warm:")
    for name, values in results.items():
        print(f"  {name:28s} {_summary(values)}")
    ratios = [a / b for a, b in zip(results["ours CLIP-only"], results["open_clip"], strict=True)]
    print(f"  ours CLIP-only / open_clip (per round): {_summary(ratios).replace('  ', ' ')}  (goal >= 1.0)")


def _ddp_worker(rank: int, world: int, port: int, batch: int, steps: int, runs: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn = our_step_fn(make_batch(batch, seed=rank), mlm=True, dist_info=DistInfo(rank, world, rank, "cpu"))
        fn()
        fn()
        rates = []
        for _ in range(runs):
            dist.barrier()
            rates.append(samples_per_s(fn, batch * world, steps))
        if rank == 0:
            Path(out).write_text(json.dumps(rates))
    finally:
        dist.destroy_process_group()


def ddp_scaling(batch: int, steps: int, runs: int) -> None:
    import torch.multiprocessing as mp

    torch.set_num_threads(1)
    fn = our_step_fn(make_batch(batch), mlm=True)
    fn()
    fn()
    single = [samples_per_s(fn, batch, steps) for _ in range(runs)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = Path(tempfile.mkdtemp()) / "rates.json"
    mp.spawn(_ddp_worker, args=(2, port, batch, steps, runs, str(out)), nprocs=2, join=True)
    double = json.loads(out.read_text())
    print(f"\nDDP scaling, CLIP+MLM, {batch} per rank, 1 thread per process, gloo on CPU:")
    print(f"  1 process   {_summary(single)} samples/s")
    print(f"  2 processes {_summary(double)} samples/s (global)")
    print(f"  speed-up    {statistics.median(double) / statistics.median(single):.2f}x (ideal 2.0x on 2 free cores)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the comparison (default: all)")
    parser.add_argument("--skip-ddp", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import open_clip

    print(f"machine: {platform.machine()} {cpu_model()}, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, open_clip {open_clip.__version__}, "
        f"threads {torch.get_num_threads()}"
    )
    compare_with_open_clip(args.batch, args.steps, args.runs)
    if not args.skip_ddp:
        ddp_scaling(args.batch, args.steps, args.runs)


if __name__ == "__main__":
    main()
