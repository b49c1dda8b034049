"""Training checkpoints: atomic `latest.pt` plus `epoch_N.pt`, holding everything needed to resume exactly.

Contents: model (unwrapped, no `module.` prefix), optimizer, grad scaler, step/epoch, the resolved config and the
RNG states of torch / CUDA / numpy / python for every rank. Everything is stored as tensors, numbers, strings,
lists and dicts, so our own checkpoints load with `torch.load(weights_only=True)` — no unpickling of objects.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import WeightsError
from engine.fileio import atomic_write

logger = logging.getLogger(__name__)

FORMAT = "pmc-figure-search/train-checkpoint"
VERSION = 1
LATEST = "latest.pt"


def epoch_filename(epoch: int) -> str:
    return f"epoch_{epoch}.pt"


# --------------------------------------------------------------------------------------------------- RNG state


def capture_rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------------------------------- files


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through `engine.fileio.atomic_write`: a crash never leaves half a checkpoint."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def save_training_checkpoint(run_dir: str | Path, state: dict[str, Any], *, epoch: int, keep_epoch_file: bool) -> Path:
    """Save `latest.pt` (always) and `epoch_{epoch}.pt` (when asked); returns the latest path."""
    run_dir = Path(run_dir)
    payload = {"format": FORMAT, "version": VERSION, **state}
    latest = atomic_torch_save(payload, run_dir / LATEST)
    if keep_epoch_file:
        atomic_torch_save(payload, run_dir / epoch_filename(epoch))
    logger.info("saved checkpoint %s (epoch %d, step %s)", latest, epoch, state.get("step"))
    return latest


def resolve_resume_path(resume: str, run_dir: str | Path) -> Path:
    """`latest` -> RUN_DIR/latest.pt; a folder -> its latest.pt; otherwise the file itself."""
    path = Path(run_dir) / LATEST if resume == "latest" else Path(resume)
    if path.is_dir():
        path = path / LATEST
    if not path.is_file():
        raise WeightsError(f"no checkpoint to resume from at {path}")
    return path


def load_training_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated file, a foreign pickle that weights_only refuses, …
        raise WeightsError(f"{path} is not a readable training checkpoint of this trainer: {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a training checkpoint of this trainer (use --init-checkpoint for weights)")
    if payload.get("version", 0) > VERSION:
        raise WeightsError(f"{path} was written by a newer trainer (format version {payload['version']})")
    return payload
