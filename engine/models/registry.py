"""Which models a user can ask for by name, and what each name means.

As in open_clip, architecture configs (`configs/<ARCH>.json`) are separate from weight entries
(`configs/pretrained.json`); a weight entry names its architecture, the changes its weights need (e.g. the
notebook variant's 8 attention-pool heads) and the preprocessing it was trained with. Besides the fixed entries a
name can be `open_clip:ARCH/TAG` (any open_clip architecture + pretrained tag), `hf-hub:ORG/REPO` (an open_clip
model on the hub) or `local-dir:PATH` (a folder written by `engine.models.model_dir.save_model_dir`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine import paths
from engine.errors import ConfigError, ModelNotFoundError
from engine.models.pmc_clip import PMCClipConfig
from engine.models.transforms import PreprocessConfig

logger = logging.getLogger(__name__)

CONFIG_DIR = paths.resource_path("model-configs")
DEFAULT_MODEL = "pmc-clip"
OPEN_CLIP_PREFIX = "open_clip:"
HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"

KIND_PMC_CLIP = "pmc-clip"
KIND_OPEN_CLIP = "open_clip"
KIND_LOCAL_DIR = "local-dir"


@dataclass(frozen=True)
class ModelEntry:
    """A resolved model name. Only the fields of its `kind` are set."""

    name: str
    kind: str  # KIND_PMC_CLIP | KIND_OPEN_CLIP | KIND_LOCAL_DIR
    description: str = ""
    pmc_clip_config: PMCClipConfig | None = None
    preprocess: PreprocessConfig | None = None  # None: the model brings its own (open_clip, local-dir)
    weights_source: str | None = None  # how to fetch weights when none are given ("pmc_oa_extracted")
    open_clip_name: str | None = None  # "RN50" or "hf-hub:org/repo"
    open_clip_pretrained: str | None = None  # "openai"; None for hf-hub models (the hub repo is the weights)
    path: Path | None = None  # local-dir models


def _without_comments(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


def _deep_merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def _architecture(name: str) -> dict:
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"architecture config {name!r} not found in {CONFIG_DIR}")
    return _without_comments(json.loads(path.read_text(encoding="utf-8")))


@cache
def _weight_entries() -> dict[str, dict]:
    raw = json.loads((CONFIG_DIR / "pretrained.json").read_text(encoding="utf-8"))
    return {name: entry for name, entry in raw.items() if not name.startswith("_")}


def architecture_config(name: str, overrides: dict | None = None) -> PMCClipConfig:
    """A PMC-CLIP architecture config from `configs/<name>.json`, with optional nested overrides."""
    return PMCClipConfig.from_dict(_deep_merge(_architecture(name), overrides or {}))


def list_models() -> list[str]:
    """Names accepted by `resolve` literally; `open_clip:ARCH/TAG`, `hf-hub:…` and `local-dir:PATH` also work."""
    return list(_weight_entries())


def describe_models() -> dict[str, str]:
    return {name: entry.get("description", "") for name, entry in _weight_entries().items()}


def _entry_from_json(name: str, raw: dict) -> ModelEntry:
    preprocess = PreprocessConfig.from_dict(raw["preprocess"]) if "preprocess" in raw else None
    if raw["kind"] == KIND_PMC_CLIP:
        return ModelEntry(
            name=name,
            kind=KIND_PMC_CLIP,
            description=raw.get("description", ""),
            pmc_clip_config=architecture_config(raw["architecture"], raw.get("overrides")),
            preprocess=preprocess,
            weights_source=raw.get("weights_source"),
        )
    if raw["kind"] == KIND_OPEN_CLIP:
        return ModelEntry(
            name=name,
            kind=KIND_OPEN_CLIP,
            description=raw.get("description", ""),
            preprocess=preprocess,
            open_clip_name=raw["open_clip_name"],
            open_clip_pretrained=raw.get("open_clip_pretrained"),
        )
    raise ConfigError(f"model entry {name!r} has unknown kind {raw['kind']!r}")


def resolve(name: str) -> ModelEntry:
    """The entry for a model name, or ModelNotFoundError listing what exists."""
    name = name.strip()
    entries = _weight_entries()
    if name in entries:
        return _entry_from_json(name, entries[name])
    if name.startswith(LOCAL_DIR_PREFIX) and name[len(LOCAL_DIR_PREFIX) :].strip():
        path = Path(name[len(LOCAL_DIR_PREFIX) :].strip()).expanduser()
        return ModelEntry(name=f"{LOCAL_DIR_PREFIX}{path.resolve()}", kind=KIND_LOCAL_DIR, path=path)
    if name.startswith(HF_HUB_PREFIX) and len(name) > len(HF_HUB_PREFIX):
        return ModelEntry(name=name, kind=KIND_OPEN_CLIP, open_clip_name=name)
    if name.startswith(OPEN_CLIP_PREFIX):
        arch, _, tag = name[len(OPEN_CLIP_PREFIX) :].partition("/")
        if arch:
            return ModelEntry(name=name, kind=KIND_OPEN_CLIP, open_clip_name=arch, open_clip_pretrained=tag or None)
    choices = ", ".join(list_models())
    raise ModelNotFoundError(
        f"unknown model {name!r}; choose one of: {choices}, or open_clip:ARCH/TAG (e.g. open_clip:RN50/openai), "
        f"hf-hub:ORG/REPO, local-dir:PATH"
    )
