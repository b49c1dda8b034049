"""bench.relevance: its metrics are the textbook ones, and on the demo library hybrid never loses to vector-only."""

from __future__ import annotations

import math

import pytest

from bench.relevance import NONSENSE, QUERIES, score_ranking


def test_precision_ndcg_and_reciprocal_rank_by_hand():
    relevant = {1, 2, 3}
    perfect = score_ranking([1, 2, 3, 9, 8], relevant)
    assert (perfect.p10, perfect.ndcg10, perfect.rr) == (0.3, pytest.approx(1.0), 1.0)
    late = score_ranking([9, 8, 1], relevant)
    assert late.p10 == 0.1 and late.rr == pytest.approx(1 / 3)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert late.ndcg10 == pytest.approx((1 / math.log2(4)) / ideal)
    assert score_ranking([], relevant) == score_ranking([7, 8], relevant) == (0.0, 0.0, 0.0)


def test_the_query_set_covers_every_kind_with_paraphrases_and_has_nonsense():
    assert len(QUERIES) == 11 and all(len(q) >= 3 for q in QUERIES.values())
    assert "" in NONSENSE and any(not q.isascii() for q in NONSENSE) and "radiograhp" in NONSENSE


@pytest.mark.slow
def test_on_the_demo_library_hybrid_is_at_least_vector_only_and_nonsense_is_judged_none(capsys):
    from bench.relevance import main

    assert main(["--skip-synthetic"]) == 0
    out = capsys.readouterr().out
    assert "hybrid >= vector only on every metric: yes" in out
    assert "17 of 17 nonsense judged none" in out
