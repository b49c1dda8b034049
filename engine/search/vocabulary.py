"""Which query words a model cannot read: its tokenizer turns them into [UNK] or breaks them into single letters.

Such a word gives the text tower nothing to go on, so its vector lands wherever meaningless text lands, and the
search answers with confident-looking noise. Naming the word ("not known to this model: pneumothorax") tells the
user why, and a query made only of such words is judged "no match" without asking the vectors.

The encoder says how it splits a word through an optional `word_pieces(word) -> list[str] | None` method (WordPiece
tokenizers have it; byte-level BPE tokenizers never produce an unknown token and return None). Unknown pieces come
back as "[UNK]"; continuation pieces keep WordPiece's "##" prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

UNKNOWN_PIECE = "[UNK]"
# Words of two or more letters (single letters and numbers always tokenise).
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def is_unknown(word: str, pieces: list[str] | None) -> bool:
    """True when the pieces carry nothing of the word: an [UNK], or only single characters for a longer word."""
    if pieces is None:
        return False  # the tokenizer cannot say: assume it reads the word
    if not pieces or UNKNOWN_PIECE in pieces:
        return True
    return len(word) > 1 and all(len(piece.removeprefix("##")) <= 1 for piece in pieces)


def unknown_words(encoder: Any, words: Iterable[str]) -> list[str]:
    """The words (in order) that `encoder`'s tokenizer cannot read; [] for encoders that cannot tell."""
    pieces_of = getattr(encoder, "word_pieces", None)
    if pieces_of is None:
        return []
    return [word for word in words if is_unknown(word, pieces_of(word))]


def text_is_readable(encoder: Any, text: str) -> bool:
    """Whether the encoder knows every word of `text` (used to keep only the prompts a model can read)."""
    return not unknown_words(encoder, _WORD.findall(text.lower()))
