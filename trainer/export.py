"""Turn a training run (or one of its checkpoints) into the engine's model folder, loadable as `local-dir:PATH`."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.errors import WeightsError
from engine.models.pmc_clip import PMCClip
from engine.models.transforms import PreprocessConfig
from trainer.checkpoint import LATEST, load_training_checkpoint
from trainer.config import config_from_dict

logger = logging.getLogger(__name__)


def export_run(run_dir: str | Path, out_dir: str | Path, checkpoint: str = LATEST) -> Path:
    """Write `out_dir` from RUN_DIR/`checkpoint` and the run's tokenizer; returns `out_dir`."""
    from engine.models.model_dir import save_model_dir

    run_dir = Path(run_dir)
    ckpt_path = Path(checkpoint) if Path(checkpoint).is_absolute() else run_dir / checkpoint
    payload = load_training_checkpoint(ckpt_path)
    cfg = config_from_dict(payload["config"])
    tokenizer_dir = run_dir / "tokenizer"
    if not (tokenizer_dir / "vocab.txt").is_file():
        tokenizer_dir = Path(cfg.data.tokenizer)
    if not (tokenizer_dir / "vocab.txt").is_file():
        raise WeightsError(f"no tokenizer vocabulary for {run_dir}: expected {run_dir / 'tokenizer' / 'vocab.txt'}")
    model = PMCClip(cfg.model)
    model.load_state_dict(payload["model"])
    preprocess = PreprocessConfig(image_size=cfg.model.vision.image_size)
    out = save_model_dir(model.eval(), tokenizer_dir, out_dir, preprocess)
    logger.info("exported %s (epoch %s) to %s", ckpt_path, payload.get("epoch"), out)
    return Path(out)
