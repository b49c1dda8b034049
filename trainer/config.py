"""Run configuration: frozen dataclasses built from a YAML file plus `section.key=value` overrides.

The resolved config (every default filled in) is written into the run folder as `config.yaml`, so a run can be
reproduced from its folder alone and `--resume` can check it is continuing the same experiment.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError
from engine.models.pmc_clip import PMCClipConfig, TextConfig, VisionConfig
from engine.models.precision import TRAINING_PRECISIONS

PRESETS_DIR = Path(__file__).parent / "presets"


@dataclass(frozen=True)
class DataConfig:
    train: str = ""  # PMC-OA jsonl (or csv) with one figure–caption pair per row
    valid: str | None = None
    image_root: str | None = None  # image path = image_root / row[image_key]; None: the path in the row as is
    image_key: str = "image"
    caption_key: str = "caption"
    tokenizer: str = ""  # folder with a BERT vocab.txt (PubMedBERT's for real runs)
    crop_scale: tuple[float, float] = (0.5, 1.0)  # RandomResizedCrop scale range of the reference
    mask_ratio: float = 0.15
    num_workers: int = 2
    # Validation pool, as the reference draws it (pmc-clip.md §4.2): a file of more than `valid_max_rows` rows is
    # cut to `valid_max_rows` indices drawn WITH replacement (numpy seeded with train.seed), visited in a per-epoch
    # random order and scored in whole batches of train.batch_size (drop_last). "without_replacement" (ours): a fixed
    # subset of distinct rows in file order, every one scored.
    valid_max_rows: int | None = 20000
    valid_sampling: str = "reference"  # "reference" | "without_replacement"


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    warmup_steps: int = 500
    schedule: str = "cosine"  # "cosine" (per step, to 0) or "constant" (after warm-up)
    grad_clip_norm: float | None = None  # the reference does not clip
    # Learning-rate multiplier for the text tower (BERT) only; 1.0 = the reference (one lr for everything).
    text_lr_scale: float = 1.0


@dataclass(frozen=True)
class LossConfig:
    w_clip: float = 0.5
    w_mlm: float = 0.5
    # The three options below make a multi-process run compute exactly what one process with the same global
    # batch computes; the reference (and default) leaves them off — see README "Distributed training".
    gather_with_grad: bool = False
    mlm_global_norm: bool = False


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    batch_size: int = 128  # per process
    accum_steps: int = 1
    # "amp" = the reference: fp16 autocast + GradScaler on GPUs (fp32 on the CPU); "amp_bf16": bf16 autocast (no
    # scaler needed); "amp_fp16": fp16 everywhere it runs; "fp32".
    precision: str = "amp"
    grad_checkpointing: bool = False
    sync_bn: bool = False
    # BERT's dropout (hidden and attention) during training; None keeps the model's 0.1 (the reference). 0 makes
    # steps deterministic across rank counts and is what open_clip's text tower does.
    text_dropout: float | None = None
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    save_every_epochs: int = 5  # epoch_N.pt every N epochs (latest.pt is written after every epoch)
    save_every_steps: int = 0  # also refresh latest.pt every N optimizer steps (long epochs); 0 = off
    log_every_steps: int = 20
    max_steps_per_epoch: int | None = None  # cap for smoke runs and benchmarks


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    output_dir: str = "runs"
    model: PMCClipConfig = field(default_factory=PMCClipConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


PRECISIONS = TRAINING_PRECISIONS
VALID_SAMPLINGS = ("reference", "without_replacement")


# --------------------------------------------------------------------------------------------------- building


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Coerce a YAML value to the annotated type, so a bad value fails here and not 3 hours into a run."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {value!r}")
        return _build(hint, value, where + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(v, item, where) for v in value)
    scalar = _SCALARS.get(hint)
    return scalar(value, where) if scalar is not None else value


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, not {value!r}")
    return float(value)


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, not {value!r}")
    return value


def _to_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def _to_str(value: Any, where: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return str(value)


_SCALARS = {float: _to_float, int: _to_int, bool: _to_bool, str: _to_str}


def _build(cls: type, values: dict, where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(where + k for k in unknown)}; known: {', '.join(sorted(names))}"
        )
    kwargs = {k: _convert(v, hints[k], f"{where}{k}") for k, v in values.items()}
    if cls is PMCClipConfig:  # its nested configs must be objects, defaults filled in
        kwargs.setdefault("vision", VisionConfig())
        kwargs.setdefault("text", TextConfig())
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain YAML-safe data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """`train.epochs=3` -> (["train", "epochs"], 3); the value is read as YAML, so `null`, `[1,2]`, `1e-4` work."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    value = yaml.safe_load(raw) if raw.strip() else ""
    return key.strip().split("."), value


def _set_path(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file() and (PRESETS_DIR / f"{path}.yaml").is_file():
        path = PRESETS_DIR / f"{path}.yaml"  # a bare preset name such as "tiny"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        presets = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
        raise ConfigError(f"cannot read config {path} ({e.strerror}); presets: {presets}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections")
    return data


def build_config(values: dict | None = None, overrides: list[str] = ()) -> RunConfig:
    tree = to_dict(values or {})
    for text in overrides:
        path, value = parse_override(text)
        _set_path(tree, path, value)
    cfg = _build(RunConfig, tree)
    validate(cfg)
    return cfg


def load_config(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    return build_config(load_yaml(path) if path else {}, overrides)


def preset_model_config(preset: str = "tiny", **changes: Any) -> PMCClipConfig:
    """A preset's `model:` section with `changes` merged in (sections as dicts: `text={"vocab_size": 64}`).

    The one source of small architectures: tests and benchmarks take the tiny preset and change only what they
    must (a smaller width for speed, their own vocabulary), so they exercise what users train.
    """
    model = to_dict(load_yaml(preset).get("model", {}))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key] = {**model[key], **value}
        else:
            model[key] = value
    return _build(PMCClipConfig, model, "model.")


def validate(cfg: RunConfig) -> None:
    t = cfg.train
    if t.precision not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, not {t.precision!r}")
    if t.batch_size < 1 or t.accum_steps < 1 or t.epochs < 0:
        raise ConfigError("train.batch_size and train.accum_steps must be >= 1 and train.epochs >= 0")
    if cfg.optim.schedule not in ("cosine", "constant"):
        raise ConfigError(f"optim.schedule must be cosine or constant, not {cfg.optim.schedule!r}")
    if not 0.0 <= cfg.data.mask_ratio < 1.0:
        raise ConfigError("data.mask_ratio must be in [0, 1)")
    if cfg.loss.w_mlm > 0 and not cfg.model.mlm:
        raise ConfigError("loss.w_mlm > 0 needs model.mlm: true")
    if cfg.model.text.hidden_size % cfg.model.fusion_heads:
        raise ConfigError("model.text.hidden_size must be divisible by model.fusion_heads")
    if cfg.model.mlm and cfg.model.embed_dim != cfg.model.text.hidden_size:
        # The fusion module reads the image embedding as one more token of the text sequence.
        raise ConfigError(
            f"model.embed_dim ({cfg.model.embed_dim}) must equal model.text.hidden_size "
            f"({cfg.model.text.hidden_size}) when model.mlm is true"
        )
    if cfg.data.valid_sampling not in VALID_SAMPLINGS:
        raise ConfigError(f"data.valid_sampling must be one of {', '.join(VALID_SAMPLINGS)}")
    if cfg.optim.text_lr_scale <= 0:
        raise ConfigError("optim.text_lr_scale must be > 0")
    if cfg.model.text.init:
        from engine.models.hf_bert import HfBertSource

        HfBertSource.parse(cfg.model.text.init)  # a malformed spec fails now, not after the data is read


def save_config(cfg: RunConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")


def config_from_dict(values: dict) -> RunConfig:
    """A resolved config stored in a checkpoint or run folder -> RunConfig (no overrides)."""
    return build_config(values)
