"""A model config from a file is checked before a single tensor is allocated.

`config.json` of a model folder comes from whoever made the folder. `"embed_dim": "128"` used to end in a
TypeError deep inside torch, `10**9` in an attempt to allocate terabytes. Every number here must be an int in a
sane range, and the whole model must stay under a parameter budget; otherwise WeightsError names the field.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass

from engine.errors import WeightsError

MAX_PARAMETERS = 4_000_000_000  # 16 GB in fp32: far above PMC-CLIP (~230M), far below an accidental 10**9 dim

# field name -> (low, high); fields of nested configs are checked by their own names
_INT_RANGES = {
    "embed_dim": (1, 16_384),
    "width": (8, 1024),
    "image_size": (32, 4096),
    "heads": (1, 256),
    "vocab_size": (8, 1_000_000),
    "hidden_size": (8, 16_384),
    "num_hidden_layers": (1, 96),
    "num_attention_heads": (1, 256),
    "intermediate_size": (8, 65_536),
    "max_position_embeddings": (8, 65_536),
    "type_vocab_size": (1, 16),
    "pad_token_id": (0, 999_999),
    "cls_token_id": (0, 999_999),
    "context_length": (1, 65_536),
    "fusion_layers": (0, 96),
    "fusion_heads": (1, 256),
}


def _check_value(where: str, name: str, value) -> None:
    if name in _INT_RANGES:
        low, high = _INT_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise WeightsError(f"{where}: {name} must be a whole number, not {value!r}")
        if not low <= value <= high:
            raise WeightsError(f"{where}: {name} must be between {low} and {high}, not {value}")
    elif name == "layers":
        if not isinstance(value, tuple | list) or len(value) != 4 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 64 for v in value
        ):
            raise WeightsError(f"{where}: layers must be four whole numbers between 1 and 64, not {value!r}")
    elif name in ("mlm", "use_attention_mask") and not isinstance(value, bool):
        raise WeightsError(f"{where}: {name} must be true or false, not {value!r}")


def _walk(where: str, config) -> None:
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            _walk(where, value)
        else:
            _check_value(where, f.name, value)


def estimated_parameters(config) -> int:
    text, vision = config.text, config.vision
    hidden = text.hidden_size
    bert = (text.vocab_size + text.max_position_embeddings) * hidden + text.num_hidden_layers * (
        4 * hidden * hidden + 2 * hidden * text.intermediate_size
    )
    mlm = hidden * text.vocab_size if config.mlm else 0
    fusion = config.fusion_layers * 12 * hidden * hidden
    # ModifiedResNet: ~1.6M parameters per block at width 64, growing with the square of the width
    resnet = int(1.6e6 * (vision.width / 64) ** 2 * sum(vision.layers)) + (vision.width * 32) ** 2 * 4
    return bert + mlm + fusion + resnet + hidden * config.embed_dim


def check_model_config(config, where: str) -> None:
    """WeightsError unless every field is in range and the model fits MAX_PARAMETERS."""
    _walk(where, config)
    text = config.text
    if text.hidden_size % text.num_attention_heads:
        raise WeightsError(f"{where}: hidden_size {text.hidden_size} is not a multiple of num_attention_heads")
    if text.context_length > text.max_position_embeddings:
        raise WeightsError(f"{where}: context_length is longer than max_position_embeddings")
    if text.pooling not in ("cls", "pooler"):
        raise WeightsError(f"{where}: pooling must be 'cls' or 'pooler', not {text.pooling!r}")
    if config.vision.image_size % 32:
        raise WeightsError(f"{where}: image_size must be a multiple of 32, not {config.vision.image_size}")
    total = estimated_parameters(config)
    if total > MAX_PARAMETERS:
        raise WeightsError(f"{where}: describes a model of about {total:.3g} parameters; refusing to build it")


def check_preprocess(preprocess, where: str) -> None:
    if isinstance(preprocess.image_size, bool) or not isinstance(preprocess.image_size, int):
        raise WeightsError(f"{where}: preprocess image_size must be a whole number, not {preprocess.image_size!r}")
    if not 16 <= preprocess.image_size <= 4096:
        raise WeightsError(f"{where}: preprocess image_size must be between 16 and 4096")
    for name in ("mean", "std"):
        values = getattr(preprocess, name)
        if len(values) != 3 or not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise WeightsError(f"{where}: preprocess {name} must be three finite numbers, not {values!r}")
    if any(v <= 0 for v in preprocess.std):
        raise WeightsError(f"{where}: preprocess std must be positive")
