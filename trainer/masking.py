"""Whole-word MLM masking exactly as the PMC-CLIP reference does it (pmc-clip.md §3.2).

Per caption: split on whitespace; each word is selected with probability `mask_ratio` (0.15 in training, 0 at
validation). A selected word is, with probability 0.8, replaced by as many ``[MASK]`` strings as it has WordPiece
sub-tokens; with 0.1 replaced by ONE random vocabulary entry; with 0.1 kept. The label string gets the original
word. A word that is not selected stays in the input and puts ``[PAD]`` × (its sub-token count) in the label.
Both strings are re-joined with single spaces and tokenised to `context_length` ids; the tokenizer recognises the
``[MASK]``/``[PAD]`` text as special tokens. So label ids are 0 ([PAD], ignored by the loss) everywhere except
at selected words and — as in the reference — at the [CLS]/[SEP] positions (ids 2/3).

Randomness comes only from a numpy Generator seeded with (seed, epoch, sample index), never from global state, so
a sample is masked the same way whatever the number of ranks, data workers or the order items are fetched in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from engine.models.tokenizer import tokenize

MASK_TOKEN = "[MASK]"
PAD_TOKEN = "[PAD]"

# Independent random streams derived from the same (seed, epoch, index): changing the mask ratio must not change
# the crop of an image, and vice versa.
STREAM_MASKING = 0
STREAM_CROP = 1


def sample_rng(seed: int, epoch: int, index: int, stream: int) -> np.random.Generator:
    """The generator for one sample's random choices in one epoch; a pure function of its arguments."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index), int(stream)]))


@dataclass(frozen=True)
class MaskedCaption:
    """One caption after masking, as the two strings the reference builds and their token ids."""

    input_text: str
    label_text: str
    selected_words: int  # words chosen for prediction (all three 80/10/10 outcomes)
    total_words: int


class WholeWordMasker:
    """Masks captions at whitespace-word level; picklable, so DataLoader workers can carry it."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, mask_ratio: float = 0.15, context_length: int = 77):
        if not 0.0 <= mask_ratio <= 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1], got {mask_ratio}")
        self.tokenizer = tokenizer
        self.mask_ratio = float(mask_ratio)
        self.context_length = int(context_length)
        self._replacement_vocab = replacement_vocabulary(tokenizer)
        self._subtoken_counts: dict[str, int] = {}

    def subtoken_count(self, word: str) -> int:
        """How many WordPiece tokens `word` becomes on its own (the reference's encode(word) minus [CLS]/[SEP])."""
        count = self._subtoken_counts.get(word)
        if count is None:
            count = len(self.tokenizer.tokenize(word))
            if len(self._subtoken_counts) < 200_000:  # a cache, not a leak: captions share most words
                self._subtoken_counts[word] = count
        return count

    def mask_text(self, caption: str, rng: np.random.Generator) -> MaskedCaption:
        words = caption.split()
        inputs: list[str] = []
        labels: list[str] = []
        selected = 0
        # One uniform draw per word decides both "selected?" and the 80/10/10 outcome, like the reference.
        draws = rng.random(len(words)) if words else np.empty(0)
        for word, draw in zip(words, draws, strict=True):
            if self.mask_ratio > 0 and draw < self.mask_ratio:
                selected += 1
                outcome = draw / self.mask_ratio
                if outcome < 0.8:
                    inputs.extend([MASK_TOKEN] * self.subtoken_count(word))
                elif outcome < 0.9:
                    inputs.append(self._replacement_vocab[int(rng.integers(len(self._replacement_vocab)))])
                else:
                    inputs.append(word)
                labels.append(word)
            else:
                inputs.append(word)
                labels.extend([PAD_TOKEN] * self.subtoken_count(word))
        return MaskedCaption(" ".join(inputs), " ".join(labels), selected, len(words))

    def encode(self, caption: str, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, MaskedCaption]:
        """(input_ids [L], mlm_labels [L], the masked strings) for one caption."""
        masked = self.mask_text(caption, rng)
        ids = tokenize(self.tokenizer, [masked.input_text, masked.label_text], self.context_length)
        return ids[0], ids[1], masked


def replacement_vocabulary(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Vocabulary entries a selected word may be swapped for (the 10 % case).

    Special tokens are excluded (as in the reference), and so are ``##`` continuation pieces and ``[unusedN]``-style
    bracketed entries: written into the caption as text they would be re-tokenised into several pieces
    ("##ing" → "#", "#", "ing"), which is not "one random token".
    """
    special = set(tokenizer.all_special_tokens)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    words = [tok for tok, _ in vocab if tok not in special and not tok.startswith("##") and not _BRACKETED(tok)]
    if not words:
        raise ValueError("the tokenizer's vocabulary has no ordinary tokens to use as random replacements")
    return words


_BRACKETED = re.compile(r"^\[[^\]]*\]$").match
