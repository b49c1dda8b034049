"""The training loop: one optimizer step in nanoGPT order, epochs, validation, checkpoints, resume.

Step order: lr from a pure function of the step → forward under autocast → backward of the (scaled) loss,
accumulated over `accum_steps` micro-batches (DDP syncs only on the last) → optional unscale + clip →
optimizer step → zero_grad(set_to_none) → clamp logit_scale to [0, ln 100] (the reference does this after
every step). Gradient accumulation sums micro-batch losses, so each micro-batch's CLIP negatives are its own
global micro-batch, not the whole accumulated batch.

Randomness that decides *what* is trained on (shuffling, crops, masks) comes from (seed, epoch, index), not
from the global RNGs, so it does not depend on the number of ranks or workers, and resume only has to restore
the step counter and the global RNGs (dropout).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from engine.errors import ConfigError
from engine.models.precision import autocast, needs_grad_scaler, training_autocast_dtype
from trainer.checkpoint import capture_rng_state, restore_rng_state
from trainer.config import RunConfig, to_dict
from trainer.data import collate_pairs
from trainer.distributed import (
    DistInfo,
    all_gather_object,
    barrier,
    convert_sync_batchnorm,
    reduce_mean,
    reduce_sum,
)
from trainer.losses import pmc_clip_loss
from trainer.optim import build_optimizer, lr_at, set_lr
from trainer.sampler import GlobalBatchSampler

logger = logging.getLogger(__name__)

LOGIT_SCALE_MAX = math.log(100.0)


@dataclass(frozen=True)
class StepProgress:
    """Sent to `on_progress` after every optimizer step (rank 0 only)."""

    epoch: int
    step: int  # optimizer steps done since the start of training
    batch: int  # optimizer steps done in this epoch
    batches: int  # optimizer steps per epoch
    samples: int  # samples seen in this epoch, all ranks together
    loss: float | None  # only on logging steps (reading it forces a device sync)
    lr: float


def set_text_dropout(model: nn.Module, p: float) -> None:
    """Set every dropout of the text tower (HF BERT reads the attention one from its module's `p`)."""
    for module in model.text_encoder.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    model.text_encoder.config.hidden_dropout_prob = p
    model.text_encoder.config.attention_probs_dropout_prob = p


class Trainer:
    """Owns the model (wrapped in DDP when distributed), optimizer, scaler and the step/epoch counters."""

    def __init__(
        self,
        cfg: RunConfig,
        model: nn.Module,
        train_set: Dataset,
        *,
        dist_info: DistInfo | None = None,
        collate_fn: Callable | None = None,
        on_progress: Callable[[StepProgress], None] | None = None,
        on_log: Callable[[dict], None] | None = None,
    ):
        self.cfg = cfg
        self.dist = dist_info or DistInfo()
        self.device = self.dist.device
        t = cfg.train
        model = model.to(self.device)
        if t.sync_bn and self.dist.is_distributed:
            model = convert_sync_batchnorm(model, self.device)
        if t.grad_checkpointing:
            model.set_grad_checkpointing(True)
        if t.text_dropout is not None:
            set_text_dropout(model, t.text_dropout)
        self.raw_model = model
        self.model: nn.Module = model
        if self.dist.is_distributed:
            # find_unused_parameters: positional_embedding, ln_final and the BERT pooler never get gradients
            # (pmc-clip.md §1.6), and with w_mlm = 0 neither does the fusion branch.
            device_ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
            self.model = DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)
        self.optimizer = build_optimizer(model, cfg.optim)
        self.device_type = torch.device(self.device).type
        self.autocast_dtype = training_autocast_dtype(t.precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=needs_grad_scaler(self.autocast_dtype))
        self.train_set = train_set
        self.collate_fn = collate_fn or collate_pairs
        self.sampler = GlobalBatchSampler(
            len(train_set), t.batch_size, num_replicas=self.dist.world_size, rank=self.dist.rank, seed=t.seed
        )
        self.steps_per_epoch = self.sampler.batches_per_epoch() // t.accum_steps
        if t.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, t.max_steps_per_epoch)
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"{len(train_set)} training pairs make no full step of {t.batch_size} × {self.dist.world_size} ranks "
                f"× {t.accum_steps} accumulation steps: lower train.batch_size or add data"
            )
        self.total_steps = self.steps_per_epoch * t.epochs
        self.step = 0
        self.epoch = 0  # completed epochs
        self.batch_in_epoch = 0  # optimizer steps done in the current epoch (non-zero only when resuming mid-epoch)
        self.on_progress = on_progress
        self.on_log = on_log

    def autocast(self):
        return autocast(self.device, self.autocast_dtype)

    # ------------------------------------------------------------------------------------------- one step

    def _loader(self, epoch: int, start_step: int) -> DataLoader:
        # Skipping whole global batches: what a resumed run has already trained on this epoch.
        self.sampler.set_epoch(epoch, start_batch=start_step * self.cfg.train.accum_steps)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        return DataLoader(
            self.train_set,
            batch_sampler=self.sampler.batches(),
            num_workers=self.cfg.data.num_workers,
            collate_fn=self.collate_fn,
            pin_memory=self.device_type == "cuda",
            # An explicit generator: creating worker iterators must not consume the global RNG (resume exactness).
            generator=torch.Generator().manual_seed(self.cfg.train.seed + epoch),
        )

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        dtype = next(self.raw_model.parameters()).dtype
        images = batch["image"].to(self.device, dtype=dtype, non_blocking=True)
        input_ids = batch["input_ids"].to(self.device, non_blocking=True)
        labels = batch["mlm_labels"].to(self.device, non_blocking=True)
        loss_cfg = self.cfg.loss
        with self.autocast():
            outputs = self.model(images, input_ids)
            return pmc_clip_loss(
                outputs,
                labels,
                w_clip=loss_cfg.w_clip,
                w_mlm=loss_cfg.w_mlm,
                gather_with_grad=loss_cfg.gather_with_grad,
                mlm_global_norm=loss_cfg.mlm_global_norm,
            )

    def train_step(self, micro_batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """One optimizer step over `accum_steps` micro-batches; returns the detached mean loss terms."""
        cfg = self.cfg
        set_lr(self.optimizer, self.current_lr())
        totals: dict[str, torch.Tensor] = {}
        n = len(micro_batches)
        for i, batch in enumerate(micro_batches):
            last = i == n - 1
            sync = contextlib.nullcontext() if last or not self.dist.is_distributed else self.model.no_sync()
            with sync:
                losses = self._forward_loss(batch)
                self.scaler.scale(losses["loss"] / n).backward()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0) + value.detach() / n
        if cfg.optim.grad_clip_norm:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.optim.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            self.raw_model.logit_scale.clamp_(0, LOGIT_SCALE_MAX)
        self.step += 1
        return totals

    def current_lr(self) -> float:
        o = self.cfg.optim
        return lr_at(
            self.step, base_lr=o.lr, warmup_steps=o.warmup_steps, total_steps=self.total_steps, schedule=o.schedule
        )

    # ------------------------------------------------------------------------------------------- one epoch

    def train_epoch(self, on_step: Callable[[Trainer], None] | None = None) -> dict[str, float]:
        """Train the rest of the current epoch; returns mean loss terms over the steps run (averaged over ranks).

        `on_step(trainer)` runs on every rank after each optimizer step (mid-epoch checkpoints).
        """
        epoch = self.epoch
        t = self.cfg.train
        self.model.train()
        first = self.batch_in_epoch
        batches = iter(self._loader(epoch, first))
        sums: dict[str, torch.Tensor] = {}
        global_batch = t.batch_size * self.dist.world_size * t.accum_steps
        started = time.perf_counter()
        substituted = 0  # unreadable images replaced by a neighbour: counted and reported, never fatal
        for batch_no in range(first, self.steps_per_epoch):
            micro = [next(batches) for _ in range(t.accum_steps)]
            substituted += sum(int(b["substituted"].sum()) for b in micro if "substituted" in b)
            lr = self.current_lr()
            totals = self.train_step(micro)
            self.batch_in_epoch = batch_no + 1
            if on_step is not None:
                on_step(self)
            for key, value in totals.items():
                sums[key] = sums.get(key, 0) + value
            loss_value = None
            if self.step % t.log_every_steps == 0 or batch_no == self.steps_per_epoch - 1:
                logged = {k: float(reduce_mean(v)) for k, v in totals.items()}
                loss_value = logged["loss"]
                elapsed = time.perf_counter() - started
                if self.dist.is_main and self.on_log is not None:
                    self.on_log(
                        {
                            "step": self.step,
                            "epoch": epoch + 1,
                            "lr": lr,
                            **logged,
                            "logit_scale": float(self.raw_model.logit_scale.detach().exp()),
                            "samples_per_s": (batch_no + 1 - first) * global_batch / max(elapsed, 1e-9),
                        }
                    )
            if self.dist.is_main and self.on_progress is not None:
                self.on_progress(
                    StepProgress(
                        epoch + 1,
                        self.step,
                        batch_no + 1,
                        self.steps_per_epoch,
                        (batch_no + 1) * global_batch,
                        loss_value,
                        lr,
                    )
                )
        self.epoch += 1
        self.batch_in_epoch = 0
        steps_run = max(self.steps_per_epoch - first, 1)
        metrics = {f"train_{k}": float(reduce_mean(v)) / steps_run for k, v in sums.items()}
        total_substituted = int(reduce_sum(torch.tensor(substituted, device=self.device)))
        if total_substituted:
            logger.warning(
                "epoch %d: %d unreadable images were replaced by the next readable pair", epoch + 1, total_substituted
            )
        metrics["substituted_images"] = total_substituted
        return metrics

    # ------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict:
        """Full resumable state. Collective: every rank must call it (RNG states are gathered to all)."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.dist.world_size,
            "model": self.raw_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "config": to_dict(self.cfg),
            "rng": all_gather_object(capture_rng_state()),
        }

    def load_state_dict(self, state: dict, *, restore_rng: bool = True) -> None:
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        if self.batch_in_epoch >= self.steps_per_epoch:
            raise ConfigError(
                f"the checkpoint stopped after step {self.batch_in_epoch} of an epoch that now has only "
                f"{self.steps_per_epoch}: resume with the batch size, world size and data it was saved with"
            )
        rng = state.get("rng") or []
        if restore_rng and len(rng) == self.dist.world_size:
            restore_rng_state(rng[self.dist.rank])
        elif restore_rng:
            # Another world size: data order is still exact (it does not depend on ranks), dropout noise is not.
            logger.warning(
                "checkpoint has RNG states for %d ranks, this run has %d: reseeding", len(rng), self.dist.world_size
            )
            torch.manual_seed(self.cfg.train.seed + 7919 * self.epoch + self.dist.rank)
        barrier()
