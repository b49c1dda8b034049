"""A small fake Hugging Face BERT repo in PubMedBERT's real layout, for the text-tower start tests.

`config.json` (the keys `BertConfig.to_dict()` writes, `model_type: bert`), the weights of a `BertForPreTraining`
(keys `bert.*` plus the `cls.*` pretraining heads, as PubMedBERT's `pytorch_model.bin` has them) as
`model.safetensors` and/or `pytorch_model.bin`, and a `vocab.txt` whose first five entries are PubMedBERT's
special tokens ([PAD] 0 … [MASK] 4).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import torch
from safetensors.torch import save as safetensors_bytes
from transformers import BertConfig, BertForPreTraining

from engine.models.pmc_clip import TextConfig
from engine.models.tokenizer import SPECIAL_TOKENS
from tests.local_hub import LocalHub, ServedFile

REPO = "microsoft/tiny-fake-pubmedbert"
WORDS = [
    "chest",
    "x",
    "ray",
    "brain",
    "mri",
    "ct",
    "scan",
    "of",
    "the",
    "showing",
    "a",
    "lesion",
    "normal",
    "pneumonia",
    "tumor",
    "axial",
    "image",
    "figure",
    "histology",
    "stain",
    "blot",
    "western",
    "plot",
]


@dataclass
class FakeBert:
    text: TextConfig  # the model.text config a run must use with it
    state: dict[str, torch.Tensor]  # what the checkpoint file holds (bert.* and cls.*)
    files: dict[str, bytes]


def vocabulary() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)] + [".", ",", "-", "(", ")"]
    return list(SPECIAL_TOKENS) + WORDS + [c for c in letters if c not in WORDS] + [f"##{c}" for c in letters]


def make_fake_bert(
    *, safetensors: bool = True, bin: bool = False, seed: int = 0, hidden: int = 32, context: int = 16
) -> FakeBert:
    vocab = vocabulary()
    text = TextConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max(context, 16),
        context_length=context,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        **{
            k: getattr(text, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "max_position_embeddings",
                "type_vocab_size",
            )
        }
    )
    model = BertForPreTraining(config)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    files = {
        "config.json": json.dumps({**config.to_dict(), "model_type": "bert"}).encode(),
        "vocab.txt": ("\n".join(vocab) + "\n").encode(),
        "tokenizer_config.json": json.dumps({"do_lower_case": True}).encode(),
    }
    if safetensors:
        files["model.safetensors"] = safetensors_bytes(state)
    if bin:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        files["pytorch_model.bin"] = buffer.getvalue()
    assert any(k.startswith("cls.") for k in state) and all(k.startswith(("bert.", "cls.")) for k in state)
    return FakeBert(text, state, files)


def serve_fake_bert(hub: LocalHub, fake: FakeBert, repo: str = REPO) -> str:
    """Put the repo on the local hub; returns the `model.text.init` value that names it."""
    for name, content in fake.files.items():
        hub.add(f"{repo}/resolve/main/{name}", ServedFile(content))
    return f"hf:{repo}"
