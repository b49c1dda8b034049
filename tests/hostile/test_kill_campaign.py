"""Issue 15, must-do 6 (second half): kill -9 at random points of creation, ingest, remove and index save.

The default suite runs one trial per phase on a small source; `pytest -m slow` runs the campaign the issue asks
for (20 random kills per phase, a 1,000-figure ingest), which `python -m tests.hostile.kill_campaign` also runs
standalone and reports (RELIABILITY.md quotes it).
"""

from __future__ import annotations

import pytest

from tests.hostile.kill_campaign import PHASES, run_campaign, summary

pytestmark = pytest.mark.skipif(__import__("os").name != "posix", reason="SIGKILL")


def test_one_kill_per_phase_loses_and_duplicates_nothing(tmp_path):
    results = run_campaign(tmp_path, trials=1, figures=150, seed=7)
    assert [r.phase for r in results] == list(PHASES)
    assert all(r.passed for r in results), "\n".join(summary(results))


@pytest.mark.slow
def test_twenty_random_kills_per_phase_during_a_thousand_figure_library(tmp_path):
    results = run_campaign(tmp_path, trials=20, figures=1000, seed=15)
    print("\n".join(summary(results)))
    assert len(results) == 80
    assert all(r.passed for r in results), "\n".join(summary(results))
