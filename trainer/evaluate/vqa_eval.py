"""`eval vqa`: answer classification over image + question features on VQA-RAD (MEVF split) and SLAKE (English).

The paper plugs PMC-CLIP into a VQA framework whose head it does not publish (pmc-clip.md §5.3), so this is OUR
protocol, documented so it can be reproduced and compared across models — not a reproduction of the paper's:

- Answers are normalised (lower case, surrounding punctuation and the articles a/an/the removed, whitespace
  collapsed) and the classes are every distinct normalised answer of the training questions (SLAKE: train +
  validate). A test answer outside that vocabulary can never be predicted and counts as wrong, as in MEVF.
- Features: the model's L2-normalised image embedding i and question embedding q (the question text as is).
  Head: [i, q, i⊙q, |i−q|] → Linear(4d, 1024) → GELU → Dropout 0.2 → Linear(1024, n_answers), cross-entropy.
- `frozen` (default): the towers are frozen and their features cached (encoding sharded across ranks); the head is
  trained with AdamW (lr 1e-3, weight decay 1e-4, batch 64, 60 epochs, cosine schedule).
  `fine_tune`: the towers train too (lr 1e-5; head 1e-3; 15 epochs; fp16 AMP + GradScaler on GPUs), on rank 0.
- Model selection: SLAKE picks the epoch with the best validate accuracy; VQA-RAD has no validation split, so its
  last epoch is scored (choosing on test would flatter it).
- Metrics on test: accuracy over OPEN questions, CLOSED questions and all (answer_type, stripped, upper-cased).

Differences from the paper's (unpublished) setup we know of: MEVF/M3AE-style heads use region features, BAN or
transformer fusion and MEVF's answer normalisation (number words → digits, `x ray` → `xray`); ours is a global-
feature MLP, so absolute numbers are expected to be lower and are meant for comparing backbones under one head.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.errors import UserInputError
from engine.imaging import open_image
from trainer.datasets import vqa
from trainer.distributed import DistInfo, broadcast_object
from trainer.evaluate.encode import ModelSpec, Progress, encode_sharded, images_decoded_whole

logger = logging.getLogger(__name__)

DATASETS = ("vqa-rad", "slake")
MODES = ("frozen", "fine_tune")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class VqaSettings:
    mode: str = "frozen"
    epochs: int | None = None  # None: 60 frozen, 15 fine_tune
    batch_size: int = 64
    head_lr: float = 1e-3
    tower_lr: float = 1e-5
    weight_decay: float = 1e-4
    hidden: int = 1024
    dropout: float = 0.2
    seed: int = 0

    @property
    def n_epochs(self) -> int:
        return self.epochs if self.epochs is not None else (60 if self.mode == "frozen" else 15)


def normalise_answer(answer: str) -> str:
    text = _ARTICLES.sub(" ", str(answer).lower())
    return " ".join(text.strip(" \t\n.,;:!?\"'").split())


@dataclass
class VqaSplits:
    train: list[vqa.VqaItem]
    val: list[vqa.VqaItem]  # empty for VQA-RAD
    test: list[vqa.VqaItem]


def load_splits(dataset: str, folder: Path) -> VqaSplits:
    if dataset == "vqa-rad":
        return VqaSplits(vqa.read_vqa_rad(folder, "train"), [], vqa.read_vqa_rad(folder, "test"))
    if dataset == "slake":
        return VqaSplits(
            vqa.read_slake(folder, "train"), vqa.read_slake(folder, "validate"), vqa.read_slake(folder, "test")
        )
    raise UserInputError(f"--dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")


class AnswerHead(nn.Module):
    def __init__(self, dim: int, n_answers: int, hidden: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(4 * dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_answers)
        )

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        i = nn.functional.normalize(image.float(), dim=-1)
        q = nn.functional.normalize(question.float(), dim=-1)
        return self.mlp(torch.cat([i, q, i * q, (i - q).abs()], dim=-1))


def accuracy(items: list[vqa.VqaItem], predicted: list[str]) -> dict[str, float]:
    """{'open', 'closed', 'overall'} accuracy (fractions) and the question counts."""
    right = [normalise_answer(item.answer) == p for item, p in zip(items, predicted, strict=True)]
    out: dict[str, float] = {"overall": float(np.mean(right)) if right else float("nan"), "n_overall": len(right)}
    for kind in vqa.ANSWER_TYPES:
        picked = [r for r, item in zip(right, items, strict=True) if item.answer_type == kind]
        out[kind.lower()] = float(np.mean(picked)) if picked else float("nan")
        out[f"n_{kind.lower()}"] = len(picked)
    return out


def evaluate_vqa(
    spec: ModelSpec,
    dataset: str,
    folder: Path,
    *,
    settings: VqaSettings = VqaSettings(),
    encoder=None,
    dist_info: DistInfo | None = None,
    progress: Progress = None,
) -> dict:
    if settings.mode not in MODES:
        raise UserInputError(f"--mode must be one of {', '.join(MODES)}, not {settings.mode!r}")
    dist_info = dist_info or DistInfo()
    splits = load_splits(dataset, folder)
    answers = sorted({normalise_answer(i.answer) for i in splits.train + splits.val})
    index = {a: k for k, a in enumerate(answers)}
    test_answers = Counter(normalise_answer(i.answer) in index for i in splits.test)
    if settings.mode == "frozen":
        predicted = _frozen(spec, splits, answers, index, settings, encoder, dist_info, progress)
    else:
        predicted = broadcast_object(
            _fine_tuned(spec, splits, answers, index, settings, dist_info) if dist_info.is_main else None
        )
    return {
        "dataset": dataset,
        "mode": settings.mode,
        "n_answers": len(answers),
        "test_answers_in_vocabulary": test_answers[True] / max(len(splits.test), 1),
        "n_train": len(splits.train),
        "settings": asdict(settings) | {"epochs": settings.n_epochs},
        **accuracy(splits.test, predicted),
    }


# ------------------------------------------------------------------------------------------------ frozen features


def _features(encoder, items: list[vqa.VqaItem], dist_info, progress) -> tuple[np.ndarray, np.ndarray]:
    paths = sorted({item.image for item in items})
    where = {p: k for k, p in enumerate(paths)}
    images = encode_sharded(images_decoded_whole(encoder), paths, dist_info=dist_info, progress=progress)
    questions = encode_sharded(encoder.encode_texts, [i.question for i in items], dist_info=dist_info)
    return images[[where[i.image] for i in items]], questions


def _frozen(spec, splits: VqaSplits, answers, index, settings: VqaSettings, encoder, dist_info, progress) -> list[str]:
    if encoder is None:
        from trainer.evaluate.encode import create_eval_encoder

        encoder = create_eval_encoder(spec, dist_info)
    feats = {
        name: _features(encoder, items, dist_info, progress)
        for name, items in (("train", splits.train), ("val", splits.val), ("test", splits.test))
        if items
    }
    torch.manual_seed(settings.seed)
    dim = feats["train"][0].shape[1]
    head = AnswerHead(dim, len(answers), settings.hidden, settings.dropout)
    labels = torch.tensor([index[normalise_answer(i.answer)] for i in splits.train])
    x_img, x_q = (torch.from_numpy(a) for a in feats["train"])
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.head_lr, weight_decay=settings.weight_decay)
    steps_per_epoch = math.ceil(len(labels) / settings.batch_size)
    total, step, best = settings.n_epochs * steps_per_epoch, 0, None
    g = torch.Generator().manual_seed(settings.seed)
    for epoch in range(settings.n_epochs):
        head.train()
        order = torch.randperm(len(labels), generator=g)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            _set_lr(optimizer, [settings.head_lr], step, total)
            loss = nn.functional.cross_entropy(head(x_img[batch], x_q[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
        if "val" in feats:
            val_acc = accuracy(splits.val, _predict(head, feats["val"], answers))["overall"]
            if best is None or val_acc > best[0]:
                best = (val_acc, epoch, {k: v.clone() for k, v in head.state_dict().items()})
    if best is not None:
        head.load_state_dict(best[2])
    return _predict(head, feats["test"], answers)


@torch.no_grad()
def _predict(head: AnswerHead, features: tuple[np.ndarray, np.ndarray], answers: list[str]) -> list[str]:
    head.eval()
    logits = head(torch.from_numpy(features[0]), torch.from_numpy(features[1]))
    return [answers[k] for k in logits.argmax(dim=-1).tolist()]


def _set_lr(optimizer, bases: list[float], step: int, total: int) -> None:
    factor = 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
    for group, base in zip(optimizer.param_groups, bases, strict=True):
        group["lr"] = base * factor


# ----------------------------------------------------------------------------------------------- fine-tuning


class _VqaDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[vqa.VqaItem], labels: list[int], transform):
        self.items, self.labels, self.transform = items, labels, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int):
        item = self.items[k]
        return self.transform(open_image(item.image)), item.question, self.labels[k]


def _fine_tuned(spec, splits: VqaSplits, answers, index, settings: VqaSettings, dist_info) -> list[str]:
    from trainer.evaluate.towers import Amp, load_towers, train_device

    torch.manual_seed(settings.seed)
    towers = load_towers(spec)
    device = train_device(spec.device, dist_info)
    head = AnswerHead(towers.dim, len(answers), settings.hidden, settings.dropout)
    model = nn.ModuleDict({"tower": towers.model, "head": head}).to(device)
    optimizer = torch.optim.AdamW(
        [{"params": towers.model.parameters(), "lr": settings.tower_lr}, {"params": head.parameters()}],
        lr=settings.head_lr,
        weight_decay=settings.weight_decay,
    )

    def loader(items, shuffle):
        labels = [index.get(normalise_answer(i.answer), -100) for i in items]
        return torch.utils.data.DataLoader(
            _VqaDataset(items, labels, towers.transform),
            batch_size=settings.batch_size,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(settings.seed),
        )

    train = loader(splits.train, True)
    total, step, best, amp = settings.n_epochs * len(train), 0, None, Amp(device)
    for epoch in range(settings.n_epochs):
        towers.model.train()
        head.train()
        for pixels, questions, labels in train:
            _set_lr(optimizer, [settings.tower_lr, settings.head_lr], step, total)
            with amp.autocast():
                logits = head(towers.image(pixels.to(device)), towers.text(list(questions), device))
            amp.step(nn.functional.cross_entropy(logits.float(), labels.to(device)), optimizer)
            step += 1
        if splits.val:
            val_acc = accuracy(
                splits.val, _predict_tuned(towers, head, loader(splits.val, False), answers, device, amp)
            )
            if best is None or val_acc["overall"] > best[0]:
                best = (val_acc["overall"], epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    if best is not None:
        model.load_state_dict(best[2])
    return _predict_tuned(towers, head, loader(splits.test, False), answers, device, amp)


@torch.no_grad()
def _predict_tuned(towers, head, loader, answers, device, amp) -> list[str]:
    towers.model.eval()
    head.eval()
    out = []
    for pixels, questions, _ in loader:
        with amp.autocast():
            logits = head(towers.image(pixels.to(device)), towers.text(list(questions), device))
        out.extend(answers[k] for k in logits.argmax(dim=-1).tolist())
    return out
