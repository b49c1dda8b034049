"""A checkpoint-shaped PMC-CLIP text tower whose weights have the statistics of a trained BERT, and varied texts.

Judging a reduced precision by cosine to fp32 needs features that differ between texts as a trained model's do.
Random BERT-base at transformers' init (std 0.02) does not: its [CLS] state is nearly the [CLS] embedding plus a
small text-dependent part, so every text's feature is within cosine ~0.996 of every other's and any rounding
looks harmless. Here the real config (BERT-base, 12 layers, 768 wide, vocab 30522, 77 positions) is initialised
by transformers and each weight matrix is then redrawn at the scale a trained BERT-base has (query/key ≈0.06,
value/output/feed-forward ≈0.04, word embeddings ≈0.05, biases ≈0.02, LayerNorm gains spread 0.7–1.1), which
makes attention selective and the [CLS] state depend on the text: pairwise cosine between different texts'
features has a median near 0.85 instead of 0.996 (printed by bench/text_encode.py). The text projection is drawn
as PMC-CLIP initialises it. Both variants are offered ("trained-scale" and "hf-init") so a figure can be checked
on each. No real weights are involved (the real 800 MB checkpoint is never used by benchmarks or tests).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import torch

from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.tokenizer import build_vocab, load_tokenizer

VARIANTS = ("trained-scale", "hf-init")

_MODALITY = ["axial ct", "coronal mri", "t2-weighted mri", "chest x-ray", "ultrasound", "pet-ct", "angiogram",
             "histology", "immunohistochemistry", "fluorescence micrograph", "electron micrograph", "western blot",
             "kaplan-meier curve", "bar chart", "flow cytometry plot", "schematic diagram", "ecg", "fundus photograph"]
_ANATOMY = ["of the chest", "of the brain", "of the liver", "of the left kidney", "of the knee", "of the lumbar spine",
            "of the heart", "of mouse retina", "of tumour tissue", "of the pancreas", "of human skin", "of the colon"]
_FINDING = ["", "showing a pneumothorax", "with a ring-enhancing lesion", "with pleural effusion",
            "stained with h&e at 40x", "with arrows marking the metastases", "before and after treatment",
            "in the control and knock-out groups", "with scale bar 50 um", "showing cd8 t cells in green"]
_CAPTION = ("figure 3. representative images of the cohort: (a) baseline scan, (b) follow-up after six months of "
            "therapy, (c) quantification of lesion volume across all patients; error bars show standard deviation "
            "and asterisks mark p < 0.05 by two-sided t-test against the untreated control group")


def varied_texts(count: int = 64) -> list[str]:
    """Short queries, phrases with findings, single words and long captions cut at 77 tokens."""
    combos = itertools.product(_MODALITY, _ANATOMY, _FINDING)
    texts = [" ".join(p for p in combo if p) for combo in itertools.islice(combos, 0, None, 37)]
    texts = texts[: count - 6] + ["mri", "ct", "gel", _CAPTION, _CAPTION[:120], "x-ray " * 60]
    return texts[:count]


def realistic_pmc_clip(variant: str = "trained-scale", seed: int = 0) -> tuple[PMCClip, object]:
    """(PMC-CLIP with the real text tower size, tokenizer for `varied_texts`); the image tower is the real one."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    vocab_dir = Path(tempfile.mkdtemp(prefix="bench-vocab-"))
    build_vocab(varied_texts(256) + _MODALITY + _ANATOMY + _FINDING, vocab_dir)
    tokenizer = load_tokenizer(vocab_dir)
    torch.manual_seed(seed)
    model = PMCClip(PMCClipConfig(mlm=False)).eval()  # vocab 30522: the tokenizer uses the first few hundred ids
    if variant == "trained-scale":
        _trained_scale_(model.text_encoder, seed)
    return model, tokenizer


def _trained_scale_(bert, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed + 1)

    def draw(tensor: torch.Tensor, std: float) -> None:
        tensor.normal_(0.0, std, generator=generator)

    with torch.no_grad():
        draw(bert.embeddings.word_embeddings.weight, 0.05)
        for layer in bert.encoder.layer:
            attention = layer.attention
            for linear in (attention.self.query, attention.self.key):
                draw(linear.weight, 0.06)
            for linear in (attention.self.value, attention.output.dense, layer.intermediate.dense, layer.output.dense):
                draw(linear.weight, 0.04)
                draw(linear.bias, 0.02)
            for norm in (attention.output.LayerNorm, layer.output.LayerNorm):
                norm.weight.copy_(torch.empty(norm.weight.shape).uniform_(0.7, 1.1, generator=generator))


def pairwise_cosine_median(features: np.ndarray) -> float:
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    sims = unit @ unit.T
    return float(np.median(sims[~np.eye(len(sims), dtype=bool)]))
