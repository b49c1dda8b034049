"""Argument types that refuse out-of-range, NaN, infinite and absurdly large values at the command line.

argparse turns the ArgumentTypeError message into "pmc-search query: error: argument -k: …" and exit code 2,
the documented code for bad input: a value like `-k 10000000000000000000` never reaches SQLite or hnswlib (where it
used to end in an OverflowError traceback).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from engine.text import clean_text


def _bounded(convert: Callable[[str], float], expected: str, low: float, high: float) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = convert(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {text.strip()!r}")
        return value

    parse.__name__ = convert.__name__  # what argparse names in its own messages
    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    return _bounded(int, "a whole number", low, high)


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """A finite number: NaN and infinity are refused like any value out of range."""
    return _bounded(float, "a number", low, high)


def text(value: str) -> str:
    """Free text from the command line, made valid Unicode: an argument with undecodable bytes (Python keeps them
    as lone surrogates) would otherwise fail deep inside the tokenizer or SQLite."""
    return clean_text(value) or ""


MAX_RESULTS = 10_000
MAX_OFFSET = 1_000_000
YEARS = (0, 9999)
MAX_BATCH = 4096
MAX_WEIGHT = 100.0
MAX_SCORE = 1000.0  # --min-score: strength is a few units, closeness 0-100; beyond this is a typo
