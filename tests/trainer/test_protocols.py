"""Which pairs are scored: the reference's draw (with replacement, seeded, drop_last), fixed2k and full."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UserInputError
from tests.trainer.tiny import RandomPairs, tiny_run_config
from trainer.evaluate.protocols import (
    draw_fixed_ids,
    fixed_rows,
    reference_pool,
    reference_rows,
    reference_visit_order,
    shipped_fixed2k,
)
from trainer.run import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_reference_2k_draw_is_numpys_seeded_choice_with_replacement():
    np.random.seed(0)
    expected = np.random.choice(range(8179), 2000)  # what the reference's --test-2000 does on ROCO test
    pool = reference_pool(8179, subset=2000, seed=0)
    assert np.array_equal(pool.indices, expected) and pool.sampled
    assert len(np.unique(pool.indices)) < 2000  # with replacement: duplicates


def test_on_a_large_file_the_2k_draw_follows_the_20k_draw():
    np.random.seed(0)
    np.random.choice(range(50_000), 20_000)
    expected = np.random.choice(range(50_000), 2000)
    assert np.array_equal(reference_pool(50_000, subset=2000).indices, expected)
    np.random.seed(0)
    assert np.array_equal(reference_pool(50_000).indices, np.random.choice(range(50_000), 20_000))


def test_a_small_file_is_read_whole_in_file_order():
    pool = reference_pool(500)
    assert np.array_equal(pool.indices, np.arange(500)) and not pool.sampled
    assert np.array_equal(reference_visit_order(500, 32, shuffle=False), np.arange(480))  # 15 whole batches


def test_reference_scores_1984_of_the_2000_draws_at_batch_32():
    rows = reference_rows(8179)
    pool = reference_pool(8179, subset=2000).indices
    assert len(rows) == 1984
    # a permutation of the draw, minus one partial batch: the multiset of rows comes from the draw
    assert np.isin(rows, pool).all()
    assert (np.bincount(rows, minlength=8179) <= np.bincount(pool, minlength=8179)).all()


def test_fixed_ids_are_distinct_seeded_and_in_file_order():
    ids = [f"ROCO_{i:05d}" for i in range(5000)]
    chosen = draw_fixed_ids(ids)
    assert len(chosen) == 2000 == len(set(chosen)) and chosen == sorted(chosen)
    assert chosen == draw_fixed_ids(ids)
    assert np.array_equal(fixed_rows(ids, chosen[:3]), [ids.index(c) for c in chosen[:3]])
    with pytest.raises(UserInputError, match="ROCO_99999"):
        fixed_rows(ids, ["ROCO_99999"])


def test_the_shipped_roco_list_is_2000_distinct_roco_test_ids():
    ids = shipped_fixed2k("roco_test_radiology")
    assert ids is not None and len(ids) == 2000 == len(set(ids))
    assert all(i.startswith("ROCO_") for i in ids)


def _val_samples(tmp_path, *overrides) -> float:
    cfg = tiny_run_config(tmp_path, "train.epochs=1", "train.batch_size=4", *overrides)
    result = run_training(cfg, datasets=(RandomPairs(16), RandomPairs(14, seed=1)))
    return result.history[0]["val_num_samples"]


def test_training_validation_scores_whole_batches_by_default_and_every_row_on_request(tmp_path):
    assert _val_samples(tmp_path / "a") == 12  # 14 rows, batch 4, drop_last: the reference's rule
    assert _val_samples(tmp_path / "b", "data.valid_sampling=without_replacement") == 14
