"""BERT WordPiece tokenisation as PMC-CLIP does it (pmc-clip.md §3.1).

Uncased WordPiece, [CLS] … [SEP], padded with [PAD] (id 0) to 77 and truncated there. The PubMedBERT vocabulary
puts [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4; a generated vocabulary (tests, synthetic data) keeps that order
so the same code paths and ids hold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from transformers import BertTokenizer, PreTrainedTokenizerBase

from engine.errors import WeightsError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)


def load_tokenizer(folder: str | Path) -> PreTrainedTokenizerBase:
    """A BERT tokenizer from a folder holding `vocab.txt` (and optionally its tokenizer config)."""
    folder = Path(folder)
    if not (folder / "vocab.txt").is_file() and not (folder / "tokenizer.json").is_file():
        raise WeightsError(f"no tokenizer in {folder}: expected a BERT vocab.txt (or tokenizer.json) there")
    tokenizer = BertTokenizer.from_pretrained(str(folder))
    if tokenizer.cls_token_id != CLS_ID or tokenizer.pad_token_id != PAD_ID:
        raise WeightsError(
            f"tokenizer in {folder} has [CLS]={tokenizer.cls_token_id}, [PAD]={tokenizer.pad_token_id}; "
            f"PMC-CLIP needs [CLS]={CLS_ID} and [PAD]={PAD_ID} (the PubMedBERT vocabulary)"
        )
    return tokenizer


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], context_length: int = 77) -> torch.Tensor:
    """Token ids [N, context_length]: padded to max length, truncated (HF keeps the final [SEP])."""
    encoded = tokenizer(
        list(texts), padding="max_length", truncation=True, max_length=context_length, return_tensors="pt"
    )
    return encoded["input_ids"]


def build_vocab(texts: Iterable[str], out_dir: str | Path, min_count: int = 1, max_words: int = 30000) -> Path:
    """Write a small uncased word-level `vocab.txt` (+ single characters for WordPiece fall-back) for `texts`.

    For tests and synthetic-data runs: every word becomes one token, so captions tokenise without [UNK].
    """
    counts: Counter[str] = Counter()
    chars: set[str] = set()
    for text in texts:
        for word in re.findall(r"\w+|[^\w\s]", text.lower()):
            counts[word] += 1
            chars.update(word)
    words = [w for w, c in counts.most_common(max_words) if c >= min_count]
    pieces = sorted(chars) + [f"##{c}" for c in sorted(chars)]
    vocab = list(SPECIAL_TOKENS) + [w for w in dict.fromkeys(words + pieces) if w not in SPECIAL_TOKENS]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return out_dir
