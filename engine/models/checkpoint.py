"""Loading PMC-CLIP weights from the layouts the authors released, strictly (pmc-clip.md §1.8, §1.9, §7).

Two layouts:
- the full training checkpoint `checkpoint.pt`: a dict with `state_dict` (keys prefixed `module.` by DDP, maybe
  `text_encoder.embeddings.position_ids` from old transformers) next to `epoch`, `optimizer`, … — or a bare
  state dict;
- the three extracted files in one folder: `image_encoder(resnet50).pth` (ModifiedResNet keys, no prefix),
  `text_encoder.pth` (BertModel keys) and `text_projection_layer.pth` (a bare [768, 768] tensor).

"Strict" means every key is accounted for: each one either loads into a parameter/buffer of the same shape, or is
on a short list of keys we drop on purpose (with the reason logged). Anything else raises CheckpointKeyError
naming the keys and the file, because a silently half-loaded model gives plausible but wrong embeddings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import CheckpointKeyError, WeightsError
from engine.models.pmc_clip import PMCClip
from engine.models.safe_load import load_weights_file

logger = logging.getLogger(__name__)

IMAGE_ENCODER_FILE = "image_encoder(resnet50).pth"
TEXT_ENCODER_FILE = "text_encoder.pth"
TEXT_PROJECTION_FILE = "text_projection_layer.pth"
EXTRACTED_FILES = (IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE, TEXT_PROJECTION_FILE)

DDP_PREFIX = "module."
# Non-persistent buffers in current transformers; old versions saved them (issue #27). They are arange/zeros
# that the model rebuilds itself, so dropping them loses nothing.
BERT_REBUILT_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


@dataclass(frozen=True)
class LoadReport:
    source: str
    loaded: int  # tensors copied into the model
    dropped: tuple[str, ...]  # keys skipped on purpose (see the module docstring)
    kept_initial: tuple[str, ...] = ()  # model keys the layout does not carry (extracted files: fusion, MLM head)


def read_weights_file(path: str | Path):
    """A tensor or a dict from a .pt/.pth/.bin/.safetensors file, never unpickling arbitrary objects."""
    return load_weights_file(Path(path))


def _state_dict_of(obj, source: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{source} is not a PMC-CLIP checkpoint: expected a state dict of tensors")
    return {str(k): v for k, v in obj.items()}


def _without_common_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """An extracted file cut from the full layout may keep its `visual.`/`text_encoder.` prefix on every key."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict


def strip_ddp_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DDP's `module.` prefix where present (a checkpoint may mix; each key is handled on its own)."""
    return {(k[len(DDP_PREFIX) :] if k.startswith(DDP_PREFIX) else k): v for k, v in state_dict.items()}


def load_state_dict_strict(
    module: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    *,
    droppable: Mapping[str, str] | None = None,
) -> LoadReport:
    """Copy `state_dict` into `module`, every key accounted for. `droppable` maps keys (or prefixes ending in
    ".") that may be skipped to the reason, which is logged."""
    droppable = droppable or {}
    expected = module.state_dict()
    dropped = []
    kept = {}
    unexpected = []
    for key, tensor in state_dict.items():
        reason = _drop_reason(key, droppable)
        if key in expected:
            kept[key] = tensor
        elif reason is not None:
            dropped.append(key)
            logger.debug("%s: dropping %s (%s)", source, key, reason)
        else:
            unexpected.append(key)
    missing = [k for k in expected if k not in kept]
    if missing or unexpected:
        raise CheckpointKeyError(source, missing, unexpected)
    bad_shapes = [
        f"{k} {tuple(v.shape)} (model {tuple(expected[k].shape)})"
        for k, v in kept.items()
        if tuple(v.shape) != tuple(expected[k].shape)
    ]
    if bad_shapes:
        raise WeightsError(f"{source} does not match the model's shapes: {', '.join(bad_shapes[:10])}")
    module.load_state_dict(kept, strict=False)
    return LoadReport(source=source, loaded=len(kept), dropped=tuple(dropped))


def _drop_reason(key: str, droppable: Mapping[str, str]) -> str | None:
    if key in droppable:
        return droppable[key]
    for prefix, reason in droppable.items():
        if prefix.endswith(".") and key.startswith(prefix):
            return reason
    return None


def _bert_droppable(prefix: str) -> dict[str, str]:
    return {f"{prefix}{name}": "rebuilt by transformers, saved only by old versions" for name in BERT_REBUILT_BUFFERS}


def load_full_state_dict(model: PMCClip, state_dict: Mapping[str, torch.Tensor], source: str) -> LoadReport:
    """Load the official full layout (`visual.*`, `text_encoder.*`, fusion, projections, …) strictly."""
    state_dict = strip_ddp_prefix(state_dict)
    droppable = _bert_droppable("text_encoder.")
    if model.mlm_projection is None:
        # An inference model has no MLM head; the training checkpoint's head is not needed to embed anything.
        droppable["mlm_projection"] = "this model is built without the MLM head (mlm=False)"
    if model.config.fusion_layers == 0:
        # The fusion transformer only feeds the MLM loss; an inference model leaves it out (~28M parameters).
        droppable["fusion_module."] = "this model is built without the fusion transformer (fusion_layers=0)"
    return load_state_dict_strict(model, state_dict, source, droppable=droppable)


def load_extracted(
    model: PMCClip, image_encoder: str | Path, text_encoder: str | Path, text_projection: str | Path
) -> LoadReport:
    """Load the three extracted files; the fusion/MLM branch and logit scale keep their initial values (the
    extracted release does not carry them and embedding never uses them)."""
    visual = _state_dict_of(read_weights_file(image_encoder), str(image_encoder))
    visual = _without_common_prefix(strip_ddp_prefix(visual), "visual.")
    vis_report = load_state_dict_strict(model.visual, visual, str(image_encoder))
    text = _state_dict_of(read_weights_file(text_encoder), str(text_encoder))
    text = _without_common_prefix(strip_ddp_prefix(text), "text_encoder.")
    text_report = load_state_dict_strict(model.text_encoder, text, str(text_encoder), droppable=_bert_droppable(""))
    projection = read_weights_file(text_projection)
    if isinstance(projection, Mapping) and len(projection) == 1:  # tolerate {"text_projection": tensor}
        projection = next(iter(projection.values()))
    if not isinstance(projection, torch.Tensor):
        raise WeightsError(f"{text_projection} should hold one tensor (the text projection matrix)")
    if tuple(projection.shape) != tuple(model.text_projection.shape):
        raise WeightsError(
            f"{text_projection} has shape {tuple(projection.shape)}, the model needs "
            f"{tuple(model.text_projection.shape)} (text width × embed dim)"
        )
    with torch.no_grad():
        model.text_projection.copy_(projection)
    covered = {"visual.", "text_encoder.", "text_projection"}
    kept_initial = tuple(k for k in model.state_dict() if not k.startswith(tuple(covered)))
    return LoadReport(
        source=str(Path(image_encoder).parent),
        loaded=vis_report.loaded + text_report.loaded + 1,
        dropped=vis_report.dropped + text_report.dropped,
        kept_initial=kept_initial,
    )


def find_extracted_files(folder: str | Path) -> tuple[Path, Path, Path] | None:
    folder = Path(folder)
    paths = tuple(folder / name for name in EXTRACTED_FILES)
    return paths if all(p.is_file() for p in paths) else None  # type: ignore[return-value]


def load_pmc_clip_weights(model: PMCClip, path: str | Path) -> LoadReport:
    """Load weights from a full checkpoint file or a folder with the three extracted files."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = find_extracted_files(path)
        if files is None:
            present = sorted(p.name for p in path.iterdir())[:10]
            raise WeightsError(
                f"{path} is a folder but does not hold the three extracted PMC-CLIP files "
                f"({', '.join(EXTRACTED_FILES)}); it holds: {', '.join(present) or 'nothing'}"
            )
        report = load_extracted(model, *files)
    elif path.is_file():
        report = load_full_state_dict(model, _state_dict_of(read_weights_file(path), str(path)), str(path))
    else:
        raise WeightsError(f"weights not found: {path} (give a checkpoint.pt or a folder of extracted files)")
    logger.info("loaded %d tensors from %s (dropped %d on purpose)", report.loaded, report.source, len(report.dropped))
    return report


def split_full_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, object]:
    """The official full layout cut into the extracted-file layout: {file name: state dict or tensor}."""
    state_dict = strip_ddp_prefix(state_dict)
    visual = {k[len("visual.") :]: v for k, v in state_dict.items() if k.startswith("visual.")}
    text = {k[len("text_encoder.") :]: v for k, v in state_dict.items() if k.startswith("text_encoder.")}
    text = {k: v for k, v in text.items() if k not in BERT_REBUILT_BUFFERS}
    return {IMAGE_ENCODER_FILE: visual, TEXT_ENCODER_FILE: text, TEXT_PROJECTION_FILE: state_dict["text_projection"]}
