"""Reciprocal rank fusion: combine ranked lists without having to calibrate their scores against each other.

score(d) = sum over lists of 1 / (k + rank_in_list(d)), ranks from 1. k = 60 is the value from Cormack et al.
(2009); it keeps one list's top hit from drowning everything the other list agrees on.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(*ranked_lists: Sequence[int], k: int = RRF_K) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores
