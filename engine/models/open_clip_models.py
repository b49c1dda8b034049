"""open_clip models (BiomedCLIP, any `ARCH/TAG`) built with open_clip's own factory, transform and tokenizer.

Weights go to `<engine cache>/open_clip`. With `offline=True` the Hugging Face hub is told to use only its cache
for the duration of the call, and a miss becomes an OfflineError that says what was needed and where.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DownloadError, ModelNotFoundError, OfflineError, UnsafeFileError, WeightsError
from engine.models.registry import HF_HUB_PREFIX, ModelEntry
from engine.models.safe_load import check_pickle_file
from engine.models.transforms import PreprocessConfig
from engine.paths import cache_dir

logger = logging.getLogger(__name__)


@dataclass
class OpenClipParts:
    model: Any  # open_clip CLIP / CustomTextCLIP nn.Module, eval mode
    transform: Any  # open_clip's eval transform: PIL -> [3, H, W]
    tokenizer: Any  # callable: list[str] -> LongTensor [N, context]
    preprocess: PreprocessConfig
    dim: int


def open_clip_cache_dir() -> Path:
    path = cache_dir() / "open_clip"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _hub_offline(enabled: bool):
    """huggingface_hub reads its offline switch from a module constant; flip it only inside this block."""
    if not enabled:
        yield
        return
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _check_architecture(name: str) -> None:
    import open_clip

    if name.startswith(HF_HUB_PREFIX):
        return
    known = open_clip.list_models()
    if name not in known:
        raise ModelNotFoundError(
            f"open_clip has no architecture {name!r}; some that exist: {', '.join(known[:12])} … "
            f"(open_clip.list_models() lists all {len(known)})"
        )


def _preprocess_config(model, fallback: PreprocessConfig | None) -> PreprocessConfig:
    cfg = getattr(getattr(model, "visual", None), "preprocess_cfg", None) or {}
    base = fallback or PreprocessConfig()
    size = cfg.get("size", base.image_size)
    return PreprocessConfig(
        image_size=size if isinstance(size, int) else int(size[0]),
        mean=tuple(cfg.get("mean", base.mean)),
        std=tuple(cfg.get("std", base.std)),
        interpolation=cfg.get("interpolation", base.interpolation),
        resize_mode=cfg.get("resize_mode", base.resize_mode),
    )


def _embed_dim(model) -> int:
    projection = getattr(model, "text_projection", None)
    if projection is not None and hasattr(projection, "shape"):
        return int(projection.shape[-1])
    return int(getattr(model.visual, "output_dim", 0) or model.embed_dim)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _download_failure(name: str, offline: bool, error: Exception) -> Exception:
    if offline:
        return OfflineError(
            f"{name}: its weights are not in the local cache ({open_clip_cache_dir()}) and offline mode is on; "
            f"run once with network access, or pass a local weights file"
        )
    return DownloadError(f"could not get the files for {name}: {error}")


def create_open_clip(entry: ModelEntry, weights: str | Path | None = None, *, offline: bool = False) -> OpenClipParts:
    """Build an open_clip model. `weights` (a local file) replaces the entry's pretrained tag."""
    import open_clip

    name = entry.open_clip_name or ""
    _check_architecture(name)
    pretrained: str | None = str(Path(weights).expanduser()) if weights else entry.open_clip_pretrained
    if weights and not Path(pretrained).is_file():
        raise WeightsError(f"weights file not found: {pretrained}")
    if weights and not pretrained.lower().endswith(".safetensors"):
        check_pickle_file(Path(pretrained))  # refused here, by name, before torch.load ever sees it
    try:
        with _hub_offline(offline):
            model, _, transform = open_clip.create_model_and_transforms(
                name, pretrained=pretrained, cache_dir=str(open_clip_cache_dir())
            )
            tokenizer = open_clip.get_tokenizer(name, cache_dir=str(open_clip_cache_dir()))
    except (ModelNotFoundError, WeightsError):
        raise
    except pickle.UnpicklingError as e:  # torch's refusal; its advice (weights_only=False) would be unsafe
        why = _first_line(e)
        raise UnsafeFileError(f"refusing to load {pretrained}: it is not a plain weights file ({why})") from e
    except RuntimeError as e:
        message = str(e)
        if "is not a known tag" in message:
            tags = open_clip.list_pretrained_tags_by_model(name)
            raise ModelNotFoundError(
                f"open_clip has no pretrained tag {pretrained!r} for {name}; known tags: {', '.join(tags) or 'none'}"
            ) from e
        if not message.startswith("Failed to download"):
            raise WeightsError(f"open_clip could not build {entry.name!r}: {e}") from e
        raise _download_failure(entry.name, offline, e) from e
    except Exception as e:  # hub errors while fetching configs/tokenizers come in many types
        raise _download_failure(entry.name, offline, e) from e
    model.eval()
    return OpenClipParts(
        model=model,
        transform=transform,
        tokenizer=tokenizer,
        preprocess=_preprocess_config(model, entry.preprocess),
        dim=_embed_dim(model),
    )
