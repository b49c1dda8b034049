"""Our model folder format: what the trainer exports and `local-dir:PATH` loads.

    <dir>/config.json         {"format": "pmc-figure-search-model", "version": 1, "architecture": "pmc-clip",
                               "model_config": PMCClipConfig.to_dict(), "preprocess": PreprocessConfig.to_dict(),
                               "context_length": 77}
    <dir>/model.safetensors   the PMCClip state dict (official key names, no `module.` prefix)
    <dir>/tokenizer/vocab.txt the BERT vocabulary (+ tokenizer config files if the source had them)

safetensors, not a pickle, so a model folder from someone else cannot run code when loaded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from safetensors.torch import save_file

from engine.errors import ConfigError, WeightsError
from engine.models.checkpoint import load_full_state_dict
from engine.models.config_checks import check_model_config, check_preprocess
from engine.models.pmc_clip import PMCClip, PMCClipConfig
from engine.models.safe_load import load_weights_file
from engine.models.tokenizer import load_tokenizer
from engine.models.transforms import PreprocessConfig

logger = logging.getLogger(__name__)

FORMAT_NAME = "pmc-figure-search-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"
# Files a BERT tokenizer folder may hold besides vocab.txt; copied when present, never required.
_TOKENIZER_EXTRAS = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")


def is_model_dir(path: str | Path) -> bool:
    config = Path(path) / CONFIG_FILE
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError, RecursionError):
        return False


def save_model_dir(
    model: PMCClip, tokenizer_dir: str | Path, out_dir: str | Path, preprocess: PreprocessConfig | None = None
) -> Path:
    """Write `model` as a model folder at `out_dir`, atomically: readers see the old folder or the complete new one.

    An existing `out_dir` is replaced. `tokenizer_dir` must hold the `vocab.txt` the model was trained with.
    """
    out_dir = Path(out_dir).expanduser()
    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "vocab.txt").is_file():
        raise WeightsError(f"no vocab.txt in {tokenizer_dir}: a model folder needs its tokenizer vocabulary")
    preprocess = preprocess or PreprocessConfig(image_size=model.config.vision.image_size)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        # safetensors refuses views that share storage; contiguous copies on the CPU are always accepted.
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": FORMAT_NAME})
        (staging / TOKENIZER_DIR).mkdir()
        for name in ("vocab.txt", *_TOKENIZER_EXTRAS):
            if (tokenizer_dir / name).is_file():
                shutil.copyfile(tokenizer_dir / name, staging / TOKENIZER_DIR / name)
        config = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "architecture": "pmc-clip",
            "model_config": model.config.to_dict(),
            "preprocess": preprocess.to_dict(),
            "context_length": model.config.text.context_length,
        }
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("saved model folder %s", out_dir)
    return out_dir


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move `staging` to `out_dir`; an old folder is moved aside first and removed only after the swap."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _state_dict(loaded, weights: Path) -> dict:
    if not isinstance(loaded, dict):
        raise WeightsError(f"{weights} does not hold a state dict")
    return loaded


def read_model_dir_config(path: str | Path) -> dict:
    path = Path(path).expanduser()
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise WeightsError(f"{path} is not a model folder: {CONFIG_FILE} is missing")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:
        raise WeightsError(f"{config_path} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise WeightsError(f"{config_path} is not a JSON object")
    if config.get("format") != FORMAT_NAME:
        raise WeightsError(f"{config_path} is not a {FORMAT_NAME} config (format={config.get('format')!r})")
    if config.get("version") != FORMAT_VERSION:
        raise WeightsError(f"{config_path} has format version {config.get('version')}; this build reads 1")
    if config.get("architecture") != "pmc-clip":
        raise ConfigError(f"{config_path}: unsupported architecture {config.get('architecture')!r}")
    return config


def load_model_dir(path: str | Path, *, for_inference: bool = False):
    """(PMCClip in eval mode, tokenizer, PreprocessConfig) from a model folder; every key must match.

    `for_inference=True` builds the model without the fusion/MLM branch (only the training loss uses it) and
    drops those tensors on purpose — about a quarter of PMC-CLIP's parameters.
    """
    path = Path(path).expanduser()
    config = read_model_dir_config(path)
    try:
        model_config = PMCClipConfig.from_dict(config["model_config"])
        preprocess = PreprocessConfig.from_dict(config.get("preprocess", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise WeightsError(f"{path / CONFIG_FILE} has an invalid model or preprocess config: {e}") from e
    check_model_config(model_config, str(path / CONFIG_FILE))  # before anything is allocated
    check_preprocess(preprocess, str(path / CONFIG_FILE))
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsError(f"{path} is missing {WEIGHTS_FILE}")
    if for_inference:
        model_config = replace(model_config, mlm=False, fusion_layers=0)
    model = PMCClip(model_config)
    # Through the safe loader: a pickle renamed .safetensors is a WeightsError naming the file, not a raw error.
    load_full_state_dict(model, _state_dict(load_weights_file(weights), weights), str(weights))
    tokenizer = load_tokenizer(path / TOKENIZER_DIR)
    return model.eval(), tokenizer, preprocess
