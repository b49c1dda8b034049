"""A whole pretraining run: config → run folder, model, data, epochs with validation and checkpoints.

Only rank 0 writes (config, metrics, checkpoints); every rank trains. `stop_after_epoch` ends the run early
as an interruption would (tests use it to check that `--resume latest` continues exactly).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import ConfigError
from engine.models.pmc_clip import PMCClip
from engine.models.tokenizer import load_tokenizer
from trainer.checkpoint import load_training_checkpoint, resolve_resume_path, save_training_checkpoint
from trainer.config import RunConfig, save_config, to_dict
from trainer.distributed import DistInfo, barrier, cleanup, init_distributed
from trainer.evaluation import validate
from trainer.monitor import RunMonitor
from trainer.train import StepProgress, Trainer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    epochs: int
    steps: int
    history: tuple[dict, ...]  # one dict per epoch trained in this call
    latest_checkpoint: Path | None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_vocab_size(cfg: RunConfig, vocab_size: int) -> RunConfig:
    """`model.text.vocab_size: 0` means "the tokenizer's"; any other value must match it."""
    declared = cfg.model.text.vocab_size
    if declared == 0:
        text = dataclasses.replace(cfg.model.text, vocab_size=vocab_size)
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, text=text))
    if declared != vocab_size:
        raise ConfigError(f"model.text.vocab_size is {declared} but the tokenizer has {vocab_size} entries")
    return cfg


def fetch_text_init(cfg: RunConfig, dist_info: DistInfo) -> Path | None:
    """The folder of the Hugging Face BERT that `model.text.init` names (config, weights, vocab), or None.

    Rank 0 downloads first; the other ranks then find it verified in the shared cache (or download it themselves
    on nodes that do not share one). Progress goes to the log: the hub reports it as values, never prints.
    """
    if not cfg.model.text.init:
        return None
    from engine.models.hf_bert import HfBertSource, fetch_hf_bert

    source = HfBertSource.parse(cfg.model.text.init)
    folder = None
    if dist_info.is_main:
        folder = fetch_hf_bert(source, progress=_DownloadLog())
    barrier()
    return folder or fetch_hf_bert(source)


class _DownloadLog:
    """Download progress as log lines: one when a file starts, one when it is complete."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.finished: set[str] = set()

    def __call__(self, p) -> None:
        if p.filename not in self.started:
            self.started.add(p.filename)
            logger.info("downloading %s (%s bytes)", p.filename, p.total_bytes if p.total_bytes else "?")
        if p.total_bytes and p.done_bytes >= p.total_bytes and p.filename not in self.finished:
            self.finished.add(p.filename)
            logger.info("downloaded %s (%.1f MB)", p.filename, p.done_bytes / 1e6)


def build_model(cfg: RunConfig, init_checkpoint: str | None = None, text_init: Path | None = None) -> PMCClip:
    """PMC-CLIP with random weights; then the text tower from `text_init` (a HF BERT folder, the reference's start)
    and/or everything from `init_checkpoint` (a finished PMC-CLIP, which overwrites the text tower too)."""
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank, whatever DDP broadcasts
    model = PMCClip(cfg.model)
    if text_init is not None and not init_checkpoint:
        from engine.models.hf_bert import load_hf_bert

        load_hf_bert(model.text_encoder, text_init, cfg.model.text)
    if init_checkpoint:
        from engine.models.checkpoint import load_pmc_clip_weights

        report = load_pmc_clip_weights(model, init_checkpoint)
        logger.info("initialised from %s: %s", init_checkpoint, report)
    return model


def build_datasets(cfg: RunConfig, tokenizer):
    from trainer.data import CaptionDataset, read_rows, resolve_image_root, subset_rows
    from trainer.evaluate.protocols import reference_pool

    d = cfg.data
    if not d.train:
        raise ConfigError("data.train is not set: give a PMC-OA .jsonl or .csv of image/caption pairs")
    image_root = resolve_image_root(d.image_root) if d.image_root else Path(d.train).parent
    common = dict(
        image_size=cfg.model.vision.image_size,
        seed=cfg.train.seed,
        context_length=cfg.model.text.context_length,
    )
    train_rows = read_rows(d.train, image_key=d.image_key, caption_key=d.caption_key).rows
    train_set = CaptionDataset(
        train_rows, image_root, tokenizer, train=True, crop_scale=d.crop_scale, mask_ratio=d.mask_ratio, **common
    )
    valid_set = None
    if d.valid:
        rows = read_rows(d.valid, image_key=d.image_key, caption_key=d.caption_key).rows
        pool = None
        if d.valid_sampling == "reference":
            pool = reference_pool(len(rows), pool_cap=d.valid_max_rows, seed=cfg.train.seed)
            rows = [rows[int(i)] for i in pool.indices]
        else:
            rows = subset_rows(rows, d.valid_max_rows, seed=cfg.train.seed)
        valid_set = CaptionDataset(rows, image_root, tokenizer, train=False, **common)
        # The reference shuffles a drawn pool each epoch (SubsetRandomSampler) and reads a whole file in order.
        valid_set.reference_shuffle = bool(pool is not None and pool.sampled)
    return train_set, valid_set


def _check_resume_config(saved: dict, cfg: RunConfig) -> None:
    if saved.get("model") != to_dict(cfg.model):
        raise ConfigError("the checkpoint was trained with another model config than this run's; refusing to resume")
    current = to_dict(cfg)
    for section in ("data", "optim", "loss", "train"):
        for key, value in (saved.get(section) or {}).items():
            if current[section].get(key) != value:
                logger.warning(
                    "resuming with %s.%s = %r (checkpoint had %r)", section, key, current[section][key], value
                )


def run_training(
    cfg: RunConfig,
    *,
    resume: str | None = None,
    init_checkpoint: str | None = None,
    on_progress: Callable[[StepProgress], None] | None = None,
    stop_after_epoch: int | None = None,
    datasets: tuple | None = None,
    dist_info: DistInfo | None = None,
) -> RunResult:
    """Train `cfg` (torchrun-aware). `datasets=(train, valid)` replaces reading cfg.data (tests, benchmarks)."""
    owns_group = dist_info is None
    dist_info = dist_info or init_distributed(cfg.train.device)
    try:
        return _run(cfg, dist_info, resume, init_checkpoint, on_progress, stop_after_epoch, datasets)
    finally:
        if owns_group:
            cleanup()


def check_data_paths(cfg: RunConfig) -> None:
    """Fail on a missing row file before anything slow (downloads, model) starts."""
    d = cfg.data
    if not d.train:
        raise ConfigError("data.train is not set: give a PMC-OA .jsonl or .csv of image/caption pairs")
    for key in ("train", "valid"):
        value = getattr(d, key)
        if value and not Path(value).is_file():
            raise ConfigError(f"data.{key}: file not found: {value}")


def _text_start_and_vocabulary(cfg, dist_info, resume):
    """(cfg, the text tower's start folder or None, the vocabulary folder, the tokenizer or None)."""
    # The text tower's start is only needed for a fresh run; a resumed one has it in its checkpoint.
    text_init = fetch_text_init(cfg, dist_info) if not resume else None
    # The vocabulary: data.tokenizer, else the one of the BERT the text tower starts from (PubMedBERT's).
    tokenizer_dir = cfg.data.tokenizer or (str(text_init) if text_init is not None else "")
    cfg, tokenizer = _with_tokenizer(cfg, tokenizer_dir)
    return cfg, text_init, tokenizer_dir, tokenizer


def _with_tokenizer(cfg, tokenizer_dir: str):
    """(cfg with the vocabulary size of its tokenizer, the tokenizer or None when the data brings token ids)."""
    tokenizer = load_tokenizer(tokenizer_dir) if tokenizer_dir else None
    if tokenizer is not None:
        return resolve_vocab_size(cfg, len(tokenizer)), tokenizer
    if cfg.model.text.vocab_size == 0:
        raise ConfigError("data.tokenizer is not set: give the folder with the vocab.txt to train with")
    return cfg, None


def _keeps_epoch_file(cfg, epoch: int) -> bool:
    every = cfg.train.save_every_epochs
    return (every > 0 and epoch % every == 0) or epoch == cfg.train.epochs


def _prepare_run_dir(cfg, run_dir: Path, tokenizer_dir: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    if tokenizer_dir and not (run_dir / "tokenizer" / "vocab.txt").exists():
        # The run folder carries its vocabulary, so `export RUN_DIR` needs nothing else.
        (run_dir / "tokenizer").mkdir(exist_ok=True)
        shutil.copy2(Path(tokenizer_dir) / "vocab.txt", run_dir / "tokenizer" / "vocab.txt")


def _log_start(cfg, model, trainer, pairs: int, dist_info) -> None:
    params = sum(p.numel() for p in model.parameters())
    logger.info(
        "training %s: %.1fM parameters, %d pairs, %d steps/epoch × %d epochs, %d rank(s) on %s",
        cfg.run_dir,
        params / 1e6,
        pairs,
        trainer.steps_per_epoch,
        cfg.train.epochs,
        dist_info.world_size,
        dist_info.device,
    )


def _run(cfg, dist_info, resume, init_checkpoint, on_progress, stop_after_epoch, datasets) -> RunResult:
    if datasets is None:
        check_data_paths(cfg)
    cfg, text_init, tokenizer_dir, tokenizer = _text_start_and_vocabulary(cfg, dist_info, resume)
    # Data first: a wrong path should fail before a run folder or a 200M-parameter model is made.
    train_set, valid_set = datasets if datasets is not None else build_datasets(cfg, tokenizer)
    run_dir = cfg.run_dir
    if dist_info.is_main:
        _prepare_run_dir(cfg, run_dir, tokenizer_dir)
    barrier()

    payload = None
    if resume:
        payload = load_training_checkpoint(resolve_resume_path(resume, run_dir))
        _check_resume_config(payload.get("config", {}), cfg)
    model = build_model(cfg, None if payload else init_checkpoint, text_init)
    seed_everything(cfg.train.seed + dist_info.rank)

    monitor = RunMonitor(run_dir, enabled=dist_info.is_main)
    trainer = Trainer(cfg, model, train_set, dist_info=dist_info, on_progress=on_progress, on_log=monitor.log_step)
    if payload is not None:
        trainer.load_state_dict(payload)
        logger.info("resumed at epoch %d, step %d", trainer.epoch, trainer.step)
        del payload
    if dist_info.is_main:
        _log_start(cfg, model, trainer, len(train_set), dist_info)

    try:
        history, latest = _train_epochs(cfg, trainer, valid_set, monitor, dist_info, stop_after_epoch)
    finally:
        monitor.close()
    return RunResult(run_dir, trainer.epoch, trainer.step, tuple(history), latest)


def _mid_epoch_saver(cfg: RunConfig, dist_info):
    """The per-step callback that saves `latest.pt` every `train.save_every_steps` steps inside an epoch."""
    every_steps = cfg.train.save_every_steps

    def save_mid_epoch(t: Trainer) -> None:
        if every_steps > 0 and t.step % every_steps == 0 and t.batch_in_epoch < t.steps_per_epoch:
            state = t.state_dict()  # collective: all ranks
            if dist_info.is_main:
                save_training_checkpoint(cfg.run_dir, state, epoch=t.epoch, keep_epoch_file=False)
            barrier()

    return save_mid_epoch


def _train_epochs(cfg: RunConfig, trainer: Trainer, valid_set, monitor, dist_info, stop_after_epoch):
    """Train (and validate, log, checkpoint) epoch by epoch; (history rows, the last checkpoint written)."""
    history, latest = [], None
    save_mid_epoch = _mid_epoch_saver(cfg, dist_info)
    while trainer.epoch < cfg.train.epochs:
        row = {"epoch": trainer.epoch + 1, **trainer.train_epoch(on_step=save_mid_epoch)}
        if valid_set is not None and dist_info.is_main:  # the reference validates on the master rank only
            row.update(_validate(cfg, trainer, valid_set, dist_info))
        row["step"] = trainer.step
        row["lr"] = trainer.current_lr()
        history.append(row)
        state = trainer.state_dict()  # collective: all ranks
        if dist_info.is_main:
            monitor.log_epoch(row)
            logger.info("epoch %d: %s", row["epoch"], _format_row(row))
            keep = _keeps_epoch_file(cfg, trainer.epoch)
            latest = save_training_checkpoint(cfg.run_dir, state, epoch=trainer.epoch, keep_epoch_file=keep)
        del state
        barrier()
        if stop_after_epoch is not None and trainer.epoch >= stop_after_epoch:
            break
    return history, latest


def _validate(cfg: RunConfig, trainer: Trainer, valid_set, dist_info) -> dict:
    with trainer.autocast():
        return validate(
            trainer.raw_model,
            valid_set,
            batch_size=cfg.train.batch_size,
            device=dist_info.device,
            num_workers=cfg.data.num_workers,
            order=_validation_order(cfg, valid_set, trainer.epoch),
        )


def _validation_order(cfg: RunConfig, valid_set, epoch: int):
    """Which pool rows are scored this epoch, in order: the reference's whole batches (shuffled per epoch when the
    pool was drawn), or None = all rows in order."""
    if cfg.data.valid_sampling != "reference":
        return None
    from trainer.evaluate.protocols import reference_visit_order

    shuffle = getattr(valid_set, "reference_shuffle", False)
    return reference_visit_order(len(valid_set), cfg.train.batch_size, seed=cfg.train.seed + epoch, shuffle=shuffle)


_LOGGED = (
    "train_loss",
    "train_clip",
    "train_mlm",
    "val_loss",
    "val_image_to_text_R@1",
    "val_image_to_text_R@10",
    "val_text_to_image_R@1",
    "val_text_to_image_R@10",
    "val_chance_R@10",
    "lr",
)


def _format_row(row: dict) -> str:
    """The headline numbers for the log line; epochs.csv and TensorBoard have all of them."""
    return ", ".join(f"{k}={row[k]:.4g}" for k in _LOGGED if k in row)
