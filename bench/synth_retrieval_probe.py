"""Is retrieval on `pmc-trainer synth` data learnable, and not trivial? A small contrastive probe says how much.

    python -m bench.synth_retrieval_probe [--n 3000] [--epochs 12] [--image-size 64] [--seed 0]

Generates a synthetic set in a temp dir, loads it through trainer.data (eval transform, no masking), trains a
tiny CNN image encoder and a bag-of-words text encoder with a symmetric InfoNCE loss on one CPU thread, and prints
validation retrieval (trainer.metrics) against chance, after epoch 0 (untrained) and after training, plus the
machine it ran on. Not PMC-CLIP: a probe of the data, so the trainer's own smoke runs have a yardstick.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.models.tokenizer import load_tokenizer
from trainer.data import CaptionDataset, collate_pairs, read_rows
from trainer.metrics import retrieval_metrics
from trainer.synth import SynthConfig, generate_synthetic


class ImageProbe(nn.Module):
    def __init__(self, dim: int = 64):
        super().__init__()
        layers, channels = [], 3
        for width in (24, 48, 64, 96):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(channels, dim)

    def forward(self, x):
        return nn.functional.normalize(self.head(self.features(x)), dim=-1)


class TextProbe(nn.Module):
    """Mean of token embeddings (word order ignored) → linear."""

    def __init__(self, vocab_size: int, dim: int = 64):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, 96, mode="mean", padding_idx=0)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(96, dim))

    def forward(self, ids):
        return nn.functional.normalize(self.head(self.embed(ids)), dim=-1)


def machine_info() -> str:
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln), cpu)
    return (
        f"machine: {cpu}, {os.cpu_count()} CPUs, python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, torch threads {torch.get_num_threads()}"
    )


def load(dataset: CaptionDataset) -> dict[str, torch.Tensor]:
    return collate_pairs([dataset[i] for i in range(len(dataset))])


def evaluate(image_model, text_model, valid) -> dict[str, float]:
    image_model.eval(), text_model.eval()
    with torch.no_grad():
        metrics = retrieval_metrics(image_model(valid["image"]), text_model(valid["input_ids"]))
    image_model.train(), text_model.train()
    return metrics


def show(label: str, m: dict[str, float]) -> None:
    print(
        f"{label:>10}: i2t R@1/5/10 {m['image_to_text_R@1']:.3f}/{m['image_to_text_R@5']:.3f}/"
        f"{m['image_to_text_R@10']:.3f}  t2i R@1/5/10 {m['text_to_image_R@1']:.3f}/{m['text_to_image_R@5']:.3f}/"
        f"{m['text_to_image_R@10']:.3f}  median rank i2t {m['image_to_text_median_rank']:.0f}  "
        f"(chance R@1/5/10 {m['chance_R@1']:.3f}/{m['chance_R@5']:.3f}/{m['chance_R@10']:.3f}, "
        f"N={m['num_samples']:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    print(machine_info())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        generate_synthetic(out, SynthConfig(n=args.n, seed=args.seed, image_size=args.image_size))
        print(f"synth: {args.n} pairs in {time.perf_counter() - start:.1f} s")
        tokenizer = load_tokenizer(out / "tokenizer")
        sets = {}
        for split in ("train", "valid"):
            rows = read_rows(out / f"{split}.jsonl").rows
            sets[split] = load(
                CaptionDataset(rows, out / "images", tokenizer, train=False, image_size=args.image_size, mask_ratio=0)
            )
    train, valid = sets["train"], sets["valid"]
    image_model, text_model = ImageProbe(), TextProbe(len(tokenizer))
    logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
    params = list(image_model.parameters()) + list(text_model.parameters()) + [logit_scale]
    optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    show("untrained", evaluate(image_model, text_model, valid))
    n, batch = len(train["image"]), 128
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(n)
        for b in range(n // batch):
            idx = order[b * batch : (b + 1) * batch]
            img, txt = image_model(train["image"][idx]), text_model(train["input_ids"][idx])
            logits = logit_scale.exp().clamp(max=100) * img @ txt.T
            target = torch.arange(len(idx))
            loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f} ({time.perf_counter() - start:.0f} s)")
    show("trained", evaluate(image_model, text_model, valid))


if __name__ == "__main__":
    main()
