"""Start PMC-CLIP's text tower from a Hugging Face BERT (PubMedBERT), as the reference does (pmc-clip.md §1.3).

The reference builds its text tower with `AutoModel.from_pretrained("microsoft/BiomedNLP-PubMedBERT-base-uncased-
abstract-fulltext")` and trains all of it. Here a run config says `model.text.init: hf:<repo>[@revision]`; the repo's
`config.json`, weights and `vocab.txt` come through `engine.hub` (progress, resume, checksum, offline message) and
the weights are copied into our `BertModel` strictly:

- the `bert.` prefix of pretraining checkpoints (`BertForPreTraining`, `BertForMaskedLM`) is removed;
- the `cls.*` pretraining heads (MLM and next-sentence) are dropped: PMC-CLIP has its own MLM head;
- `embeddings.position_ids` / `token_type_ids`, buffers only old transformers saved, are dropped;
- every other missing or unexpected key is a `CheckpointKeyError` naming it, and the repo's config must agree
  with `model.text` field by field (a mismatch names the field), because a half-loaded tower trains on silently.

`model.safetensors` is preferred; repos that only have `pytorch_model.bin` (PubMedBERT does) are read with the
engine's safe unpickler.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import ConfigError, OfflineError, RemoteFileMissingError, WeightsError
from engine.models.checkpoint import BERT_REBUILT_BUFFERS, LoadReport, load_state_dict_strict, read_weights_file
from engine.models.pmc_clip import TextConfig

logger = logging.getLogger(__name__)

HF_INIT_PREFIX = "hf:"
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
VOCAB_FILE = "vocab.txt"
OPTIONAL_TOKENIZER_FILES = ("tokenizer_config.json",)
PRETRAINING_PREFIX = "bert."
PRETRAINING_HEADS = "cls."

# config.json key -> TextConfig field; these decide every tensor shape, so they must agree.
_SHAPE_FIELDS = {
    "vocab_size": "vocab_size",
    "hidden_size": "hidden_size",
    "num_hidden_layers": "num_hidden_layers",
    "num_attention_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "max_position_embeddings": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
}


@dataclass(frozen=True)
class HfBertSource:
    repo_id: str
    revision: str = "main"

    @classmethod
    def parse(cls, spec: str) -> HfBertSource:
        """`hf:owner/name` or `hf:owner/name@revision`."""
        if not spec.startswith(HF_INIT_PREFIX):
            raise ConfigError(f"model.text.init must be hf:<owner>/<repo>[@revision] (or empty), not {spec!r}")
        repo, _, revision = spec[len(HF_INIT_PREFIX) :].strip().partition("@")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ConfigError(f"model.text.init {spec!r}: expected hf:<owner>/<repo>")
        return cls(repo, revision or "main")


def fetch_hf_bert(source: HfBertSource, *, offline: bool = False, progress: Callable | None = None) -> Path:
    """The local folder holding the repo's config.json, weights and vocab.txt (downloaded once, verified)."""
    from engine.hub import RemoteFile, fetch, local_path

    def remote(name: str) -> RemoteFile:
        return RemoteFile(source.repo_id, name, revision=source.revision)

    config = fetch(remote(CONFIG_FILE), offline=offline, progress=progress)
    fetch(remote(VOCAB_FILE), offline=offline, progress=progress)
    for name in OPTIONAL_TOKENIZER_FILES:
        try:
            fetch(remote(name), offline=offline, progress=progress)
        except (RemoteFileMissingError, OfflineError):  # the vocabulary alone is enough for BERT's tokenizer
            logger.debug("%s: no %s; the tokenizer uses BERT's defaults", source.repo_id, name)
    candidates = [remote(name) for name in WEIGHT_FILES]
    if any(local_path(f) is not None for f in candidates):
        return config.parent
    for file in candidates:
        try:
            fetch(file, offline=offline, progress=progress)
            return config.parent
        except RemoteFileMissingError:
            logger.info("%s has no %s; trying the next weights file", source.repo_id, file.filename)
    raise WeightsError(f"Hugging Face repo {source.repo_id} has none of {', '.join(WEIGHT_FILES)}")


def weights_file_in(folder: Path) -> Path:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise WeightsError(f"{folder} holds none of {', '.join(WEIGHT_FILES)}")


def check_config(text: TextConfig, config_path: Path) -> None:
    """The repo's config.json must describe the tower `text` builds; every disagreement is named."""
    try:
        hf = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise WeightsError(f"cannot read {config_path}: {e}") from e
    if hf.get("model_type", "bert") != "bert":
        raise ConfigError(f"{config_path} describes a {hf.get('model_type')!r} model, not a BERT")
    wrong = [
        f"{field} = {getattr(text, field)} (the checkpoint has {key} = {hf[key]})"
        for key, field in _SHAPE_FIELDS.items()
        if key in hf and hf[key] != getattr(text, field)
    ]
    if wrong:
        raise ConfigError(f"model.text does not match {config_path}: {'; '.join(wrong)}")


def bert_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """(BertModel keys -> tensors, the keys dropped on purpose) from a HF checkpoint's state dict."""
    mapped: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, tensor in state.items():
        if key.startswith(PRETRAINING_HEADS):
            dropped.append(key)
            continue
        name = key[len(PRETRAINING_PREFIX) :] if key.startswith(PRETRAINING_PREFIX) else key
        if name in mapped:
            raise WeightsError(
                f"the checkpoint holds {name} twice (with and without the {PRETRAINING_PREFIX!r} prefix)"
            )
        mapped[name] = tensor
    return mapped, tuple(dropped)


def load_hf_bert(bert: torch.nn.Module, folder: Path, text: TextConfig) -> LoadReport:
    """Copy the HF checkpoint in `folder` into `bert` (our `BertModel`), strictly (see the module docstring)."""
    folder = Path(folder)
    check_config(text, folder / CONFIG_FILE)
    path = weights_file_in(folder)
    state = read_weights_file(path)
    if not isinstance(state, Mapping):
        raise WeightsError(f"{path} is not a state dict")
    mapped, heads = bert_state_dict(state)
    rebuilt = {name: "rebuilt by transformers, saved only by old versions" for name in BERT_REBUILT_BUFFERS}
    report = load_state_dict_strict(bert, mapped, str(path), droppable=rebuilt)
    report = LoadReport(report.source, report.loaded, heads + report.dropped)
    logger.info("text tower from %s: %d tensors, %d pretraining-head tensors dropped", path, report.loaded, len(heads))
    return report
