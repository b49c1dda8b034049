"""`eval medmnist`: zero-shot, linear probe and full fine-tuning on any MedMNIST 2D subset; ACC and AUC on test.

The paper reports PneumoniaMNIST, BreastMNIST and DermaMNIST against fully supervised baselines without saying how
PMC-CLIP was adapted (pmc-clip.md §5.2), so all three protocols are offered and named in the results:

- `zero_shot`: each class is a text: the mean of the normalised embeddings of `TEMPLATES` filled with the subset's
  modality and MedMNIST's label name; scores = softmax(100 · cosine) over classes (multi-label: a softmax per label
  over "no <label>" / "<label>"). No training.
- `linear_probe`: L2-normalised frozen image features → scikit-learn's multinomial `LogisticRegression` (L-BFGS,
  1,000 iterations), C chosen from `PROBE_CS` by validation AUC (then ACC); multi-label: one per label.
- `fine_tune`: the whole image tower + a linear head, AdamW (tower lr 1e-5, head lr 1e-3, weight decay 0.05),
  cosine schedule, batch 64, 10 epochs, cross-entropy (multi-label: BCE), fp16 AMP + GradScaler on GPUs, no
  augmentation (MedMNIST's baselines use none); the epoch with the best validation AUC is scored on test.
  It runs on rank 0 only (the data sets are small); encoding for the other two protocols is sharded.
Images are the npz arrays as PIL images (grey → "L", colour → "RGB"), through the model's own eval transform
(which resizes 28 px up to the model's input size, bicubic, and converts to RGB).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from engine.errors import UserInputError
from trainer.datasets.medmnist import MedMnistData
from trainer.distributed import DistInfo, broadcast_object
from trainer.evaluate.encode import ModelSpec, Progress, encode_sharded
from trainer.evaluate.medmnist_metrics import medmnist_metrics

logger = logging.getLogger(__name__)

METHODS = ("zero_shot", "linear_probe", "fine_tune")
TEMPLATES = ("{modality} showing {label}.", "a {modality} of {label}.", "{label}.", "an image of {label}.")
MODALITY = {
    "pathmnist": "histopathology image",
    "chestmnist": "chest x-ray",
    "dermamnist": "dermatoscopic image",
    "octmnist": "retinal OCT image",
    "pneumoniamnist": "chest x-ray",
    "retinamnist": "fundus photograph",
    "breastmnist": "breast ultrasound image",
    "bloodmnist": "microscopic image of a blood cell",
    "tissuemnist": "kidney cortex microscopy image",
    "organamnist": "abdominal CT image",
    "organcmnist": "abdominal CT image",
    "organsmnist": "abdominal CT image",
}
ZERO_SHOT_SCALE = 100.0
PROBE_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 10
    batch_size: int = 64
    tower_lr: float = 1e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.05
    num_workers: int = 2
    seed: int = 0


def as_images(images: np.ndarray) -> list[Image.Image]:
    mode = "L" if images.ndim == 3 else "RGB"
    return [Image.fromarray(a, mode) for a in images]


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_prompts(data: MedMnistData) -> list[list[str]]:
    """Per class (multi-label: per label, negative then positive), the prompt texts."""
    modality = MODALITY.get(data.flag, "medical image")
    if data.task.startswith("multi-label"):
        out = []
        for label in data.label_names:
            out.append([t.format(modality=modality, label=f"no {label}") for t in TEMPLATES])
            out.append([t.format(modality=modality, label=label) for t in TEMPLATES])
        return out
    return [[t.format(modality=modality, label=label) for t in TEMPLATES] for label in data.label_names]


def zero_shot_scores(encoder, data: MedMnistData, image_features: np.ndarray) -> np.ndarray:
    prompts = class_prompts(data)
    flat = [p for group in prompts for p in group]
    text = _normalise(np.asarray(encoder.encode_texts(flat), dtype=np.float32))
    per_class = _normalise(text.reshape(len(prompts), len(TEMPLATES), -1).mean(axis=1))
    logits = ZERO_SHOT_SCALE * _normalise(image_features) @ per_class.T
    if data.task.startswith("multi-label"):
        return softmax(logits.reshape(len(logits), -1, 2))[..., 1]
    return softmax(logits)


def linear_probe_scores(features: dict[str, np.ndarray], data: MedMnistData) -> tuple[np.ndarray, dict]:
    """Test scores of the probe whose C did best on val, and what was chosen."""
    best = None
    for c in PROBE_CS:
        predict = _fit_probe(features["train"], data.splits["train"].labels, c, data.task, data.n_classes)
        m = medmnist_metrics(data.task, data.splits["val"].labels, predict(features["val"]))
        key = (np.nan_to_num(m["auc"], nan=-1.0), m["acc"])
        if best is None or key > best[0]:
            best = (key, c, predict, m)
    _, c, predict, val_metrics = best
    return predict(features["test"]), {"C": c, "val": val_metrics}


def _fit_probe(x: np.ndarray, y: np.ndarray, c: float, task: str, n_classes: int):
    """A function from features to class probabilities, fitted on (x, y)."""
    from trainer.evaluate.medmnist_metrics import sklearn

    LogisticRegression = sklearn().linear_model.LogisticRegression  # noqa: N806 - the class, under its own name

    x = _normalise(x)
    if task.startswith("multi-label"):
        models = [LogisticRegression(C=c, max_iter=1000).fit(x, y[:, i]) for i in range(y.shape[1])]
        return lambda z: np.stack([m.predict_proba(_normalise(z))[:, 1] for m in models], axis=1)
    model = LogisticRegression(C=c, max_iter=1000).fit(x, y[:, 0])

    def proba(z):
        out = np.zeros((len(z), n_classes))
        out[:, model.classes_] = model.predict_proba(_normalise(z))  # a class absent from train keeps 0
        return out

    return proba


def evaluate_medmnist(
    spec: ModelSpec,
    data: MedMnistData,
    *,
    methods: tuple[str, ...] = METHODS,
    encoder=None,
    settings: FineTuneSettings = FineTuneSettings(),
    dist_info: DistInfo | None = None,
    progress: Progress = None,
) -> dict:
    """{'subset', 'size', 'task', 'zero_shot': {'acc', 'auc'}, 'linear_probe': {…}, 'fine_tune': {…}} on test."""
    dist_info = dist_info or DistInfo()
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise UserInputError(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
    result: dict = {"subset": data.flag, "size": data.size, "task": data.task, "n_test": len(data.splits["test"])}
    if data.count_notes:
        result["notes"] = list(data.count_notes)
    frozen = [m for m in methods if m in ("zero_shot", "linear_probe")]
    if frozen:
        if encoder is None:
            from trainer.evaluate.encode import create_eval_encoder

            encoder = create_eval_encoder(spec, dist_info)
        splits = ("test",) if frozen == ["zero_shot"] else ("train", "val", "test")
        features = {
            s: encode_sharded(
                encoder.encode_images, as_images(data.splits[s].images), dist_info=dist_info, progress=progress
            )
            for s in splits
        }
        test_labels = data.splits["test"].labels
        if "zero_shot" in methods:
            result["zero_shot"] = medmnist_metrics(
                data.task, test_labels, zero_shot_scores(encoder, data, features["test"])
            )
        if "linear_probe" in methods:
            scores, chosen = linear_probe_scores(features, data)
            result["linear_probe"] = {**medmnist_metrics(data.task, test_labels, scores), **chosen}
    if "fine_tune" in methods:
        tuned = fine_tune(spec, data, settings, dist_info) if dist_info.is_main else None
        result["fine_tune"] = broadcast_object(tuned)
    return result


# ------------------------------------------------------------------------------------------------ fine-tuning


class _ArrayDataset(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform
        self.mode = "L" if images.ndim == 3 else "RGB"

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i], self.mode)), torch.as_tensor(self.labels[i])


def fine_tune(spec: ModelSpec, data: MedMnistData, settings: FineTuneSettings, dist_info: DistInfo) -> dict:
    from trainer.evaluate.towers import Amp, load_towers, train_device

    torch.manual_seed(settings.seed)
    towers = load_towers(spec)
    device = train_device(spec.device, dist_info)
    multi_label = data.task.startswith("multi-label")
    head = torch.nn.Linear(towers.dim, data.n_classes)
    model = torch.nn.ModuleDict({"tower": towers.model, "head": head}).to(device)
    optimizer = torch.optim.AdamW(
        [
            {"params": towers.model.parameters(), "lr": settings.tower_lr},
            {"params": head.parameters(), "lr": settings.head_lr},
        ],
        weight_decay=settings.weight_decay,
    )
    loaders = {
        split: torch.utils.data.DataLoader(
            _ArrayDataset(part.images, part.labels, towers.transform),
            batch_size=settings.batch_size,
            shuffle=split == "train",
            num_workers=settings.num_workers,
            generator=torch.Generator().manual_seed(settings.seed),
        )
        for split, part in data.splits.items()
    }
    total = settings.epochs * len(loaders["train"])
    base = [g["lr"] for g in optimizer.param_groups]
    amp, step, best = Amp(device), 0, None
    for epoch in range(settings.epochs):
        towers.model.train()
        for pixels, labels in loaders["train"]:
            for group, lr in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = 0.5 * (1 + math.cos(math.pi * step / total)) * lr
            with amp.autocast():
                logits = head(towers.image(pixels.to(device)).float())
                loss = _loss(logits, labels.to(device), multi_label)
            amp.step(loss, optimizer)
            step += 1
        val = medmnist_metrics(
            data.task, data.splits["val"].labels, _scores(towers, head, loaders["val"], device, multi_label, amp)
        )
        key = (np.nan_to_num(val["auc"], nan=-1.0), val["acc"])
        logger.info("fine-tune %s epoch %d: val %s", data.flag, epoch + 1, val)
        if best is None or key > best[0]:
            best = (key, epoch + 1, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, val)
    _, best_epoch, state, val = best
    model.load_state_dict(state)
    test = medmnist_metrics(
        data.task, data.splits["test"].labels, _scores(towers, head, loaders["test"], device, multi_label, amp)
    )
    return {**test, "best_epoch": best_epoch, "val": val, "settings": asdict(settings)}


def _loss(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool) -> torch.Tensor:
    if multi_label:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
    return torch.nn.functional.cross_entropy(logits, labels[:, 0].long())


@torch.no_grad()
def _scores(towers, head, loader, device, multi_label: bool, amp) -> np.ndarray:
    towers.model.eval()
    out = []
    for pixels, _ in loader:
        with amp.autocast():
            logits = head(towers.image(pixels.to(device)).float()).float()
        out.append((torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)).cpu().numpy())
    return np.concatenate(out)
