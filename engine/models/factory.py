"""`create_model` and `create_encoder`: from a registry name (+ optional local files) to a ready model.

Weights come from, in order: the `weights` argument (a full checkpoint, a folder of the three extracted files,
or a model folder), else a download through `engine.hub` (the extracted encoders, ~590 MB, rather
than the 2.4 GB training checkpoint). With `offline=True` nothing is downloaded and a missing file is an
OfflineError that names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import WeightsError
from engine.models.checkpoint import EXTRACTED_FILES, load_extracted, load_pmc_clip_weights
from engine.models.device import choose_device
from engine.models.encoder import BatchedEncoder, OpenClipEncoder, PMCClipEncoder
from engine.models.model_dir import is_model_dir, load_model_dir
from engine.models.pmc_clip import PMCClip
from engine.models.precision import cpu_has_native_bf16, text_tower_plan
from engine.models.registry import (
    DEFAULT_MODEL,
    KIND_LOCAL_DIR,
    KIND_OPEN_CLIP,
    LOCAL_DIR_PREFIX,
    ModelEntry,
    resolve,
)
from engine.models.tokenizer import load_tokenizer
from engine.models.transforms import PreprocessConfig, build_eval_transform

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Any], None]


@dataclass
class LoadedModel:
    """A model ready for inference, with everything needed to feed it."""

    entry: ModelEntry
    model: Any  # torch.nn.Module in eval mode (PMCClip or an open_clip model)
    tokenizer: Any
    preprocess: PreprocessConfig
    transform: Callable  # PIL image -> [3, H, W]
    dim: int
    context_length: int | None = None  # PMC-CLIP only

    @property
    def model_id(self) -> str:
        return self.entry.name


def _fetch_extracted(offline: bool, progress: ProgressCallback | None) -> dict[str, Path]:
    from engine.hub import PMC_CLIP_EXTRACTED, fetch

    return {f.filename: fetch(f, offline=offline, progress=progress) for f in PMC_CLIP_EXTRACTED}


def _fetch_tokenizer(offline: bool, progress: ProgressCallback | None) -> Path:
    from engine.hub import PUBMEDBERT_TOKENIZER, fetch

    paths = [fetch(f, offline=offline, progress=progress) for f in PUBMEDBERT_TOKENIZER]
    vocab = next(p for p in paths if p.name == "vocab.txt")
    return vocab.parent


def _tokenizer_next_to(weights: Path | None) -> Path | None:
    """A folder of weights that also carries the vocabulary needs no separate --tokenizer."""
    if weights is None or not weights.is_dir():
        return None
    for candidate in (weights, weights / "tokenizer"):
        if (candidate / "vocab.txt").is_file():
            return candidate
    return None


def _create_pmc_clip(entry: ModelEntry, weights, tokenizer, offline: bool, progress) -> LoadedModel:
    config = entry.pmc_clip_config
    assert config is not None
    model = PMCClip(config)
    weights_path = Path(weights).expanduser() if weights is not None else None
    if weights_path is not None:
        load_pmc_clip_weights(model, weights_path)
    else:
        files = _fetch_extracted(offline, progress)
        load_extracted(model, *(files[name] for name in EXTRACTED_FILES))
    tokenizer_dir = Path(tokenizer).expanduser() if tokenizer is not None else _tokenizer_next_to(weights_path)
    if tokenizer_dir is None:
        tokenizer_dir = _fetch_tokenizer(offline, progress)
    preprocess = entry.preprocess or PreprocessConfig(image_size=config.vision.image_size)
    return LoadedModel(
        entry=entry,
        model=model.eval(),
        tokenizer=load_tokenizer(tokenizer_dir),
        preprocess=preprocess,
        transform=build_eval_transform(preprocess),
        dim=config.embed_dim,
        context_length=config.text.context_length,
    )


def _create_local_dir(entry: ModelEntry, tokenizer, weights=None) -> LoadedModel:
    assert entry.path is not None
    model, model_tokenizer, preprocess = load_model_dir(entry.path, for_inference=True)
    if weights is not None:  # replaces the folder's own weights, strictly: a wrong shape is refused, never ignored
        load_pmc_clip_weights(model, Path(weights).expanduser())
    if tokenizer is not None:
        model_tokenizer = load_tokenizer(tokenizer)
    return LoadedModel(
        entry=entry,
        model=model,
        tokenizer=model_tokenizer,
        preprocess=preprocess,
        transform=build_eval_transform(preprocess),
        dim=model.config.embed_dim,
        context_length=model.config.text.context_length,
    )


def create_model(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    tokenizer: str | Path | None = None,
    *,
    offline: bool = False,
    progress: ProgressCallback | None = None,
) -> LoadedModel:
    """Build the named model in eval mode on the CPU, with its tokenizer and eval transform."""
    entry = resolve(name)
    if entry.kind == KIND_OPEN_CLIP:
        from engine.models.open_clip_models import create_open_clip

        parts = create_open_clip(entry, weights, offline=offline)
        return LoadedModel(
            entry=entry,
            model=parts.model,
            tokenizer=parts.tokenizer,
            preprocess=parts.preprocess,
            transform=parts.transform,
            dim=parts.dim,
        )
    if entry.kind == KIND_LOCAL_DIR:
        return _create_local_dir(entry, tokenizer, weights)
    if weights is not None and is_model_dir(weights):
        # A model folder passed as --weights for a PMC-CLIP name: its own config wins (it knows its heads etc.).
        return _create_local_dir(resolve(f"{LOCAL_DIR_PREFIX}{weights}"), tokenizer)
    return _create_pmc_clip(entry, weights, tokenizer, offline, progress)


def _use_cpu_bf16(requested: bool | None) -> bool:
    return cpu_has_native_bf16() if requested is None else requested


def _parameter_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def create_encoder(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    tokenizer: str | Path | None = None,
    device: str = "auto",
    offline: bool = False,
    progress: ProgressCallback | None = None,
    batch_size: int | None = None,
    *,
    cpu_bf16: bool | None = None,
    text_path: str | None = None,
) -> BatchedEncoder:
    """An `engine.types.Encoder` for the named model on the chosen device (the reason is kept on the encoder).

    `cpu_bf16`: run the image tower under bf16 autocast on the CPU; None = when the CPU has native bf16.
    `text_path`: the CPU text tower's path ("fp32", "bf16", "int8", "onnx"); None = this machine's rule
    (`engine.models.precision.text_tower_plan`).
    """
    if device not in ("auto", ""):
        choose_device(device)  # a device that is not there fails now, not after a long download
    loaded = create_model(name, weights, tokenizer, offline=offline, progress=progress)
    choice = choose_device(device, model_bytes=_parameter_bytes(loaded.model))
    on_gpu = not choice.device.startswith("cpu")
    common = {
        "model": loaded.model,
        "model_id": loaded.model_id,
        "dim": loaded.dim,
        "transform": loaded.transform,
        "device": choice.device,
        "device_reason": choice.reason,
        # GPUs run both towers under bf16/fp16 autocast. On the CPU the image tower uses channels_last (plus the
        # BN folding every encoder does): faster than contiguous fp32 at cosine ≥0.9999999. Where the CPU has
        # native bf16 instructions the image tower also runs under bf16 autocast (measured 1.2-2.4x faster again,
        # cosine ≥0.9999 to fp32 — the numerics the GPU path uses anyway). The text tower's CPU path is chosen
        # below (engine.models.precision.text_tower_plan; measured in bench/text_encode.py).
        "autocast_dtype": choice.autocast_dtype if on_gpu else None,
        "image_autocast_dtype": None if on_gpu or not _use_cpu_bf16(cpu_bf16) else "bf16",
        "channels_last": not on_gpu,
        "batch_size": batch_size,
    }
    if loaded.entry.kind == KIND_OPEN_CLIP:
        encoder: BatchedEncoder = OpenClipEncoder(tokenizer=loaded.tokenizer, **common)
    else:
        if loaded.context_length is None:
            raise WeightsError(f"{loaded.model_id}: no text context length in its config")
        # On the CPU the text tower follows the machine's plan (bf16 / ONNX Runtime fp32 / fp32, [CLS]-only last
        # layer); GPUs run the model's own call under autocast.
        plan = None if on_gpu else text_tower_plan(override=text_path)
        encoder = PMCClipEncoder(
            tokenizer=loaded.tokenizer, context_length=loaded.context_length, text_plan=plan, **common
        )
    logger.info("encoder %r on %s (%s): %s", encoder.model_id, encoder.device, encoder.precision, encoder.device_reason)
    return encoder
