"""GlobalBatchSampler: the same global batches whatever the number of ranks; per-epoch deterministic shuffles."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from trainer.sampler import GlobalBatchSampler


def rank_batches(n: int, per_rank: int, replicas: int, rank: int, epoch: int, **kwargs) -> list[list[int]]:
    sampler = GlobalBatchSampler(n, per_rank, num_replicas=replicas, rank=rank, **kwargs)
    sampler.set_epoch(epoch)
    loader = DataLoader(list(range(n)), batch_size=per_rank, sampler=sampler)
    return [batch.tolist() for batch in loader]


@pytest.mark.parametrize("epoch", [0, 1, 7])
def test_two_ranks_with_batch_b_see_the_global_batches_of_one_rank_with_2b(epoch):
    n, b = 103, 4
    single = rank_batches(n, 2 * b, 1, 0, epoch, seed=11)
    rank0 = rank_batches(n, b, 2, 0, epoch, seed=11)
    rank1 = rank_batches(n, b, 2, 1, epoch, seed=11)
    assert len(single) == len(rank0) == len(rank1) == n // (2 * b)
    for g, global_batch in enumerate(single):
        assert rank0[g] + rank1[g] == global_batch


def test_four_ranks_match_two_ranks_too():
    two = [rank_batches(64, 4, 2, r, 3, seed=1) for r in range(2)]
    four = [rank_batches(64, 2, 4, r, 3, seed=1) for r in range(4)]
    for g in range(len(two[0])):
        assert two[0][g] + two[1][g] == four[0][g] + four[1][g] + four[2][g] + four[3][g]


def test_each_epoch_is_a_new_but_reproducible_permutation():
    epoch0 = rank_batches(50, 10, 1, 0, 0, seed=5)
    assert epoch0 == rank_batches(50, 10, 1, 0, 0, seed=5)
    assert epoch0 != rank_batches(50, 10, 1, 0, 1, seed=5)
    assert epoch0 != rank_batches(50, 10, 1, 0, 0, seed=6)
    assert sorted(sum(epoch0, [])) == list(range(50))


def test_without_shuffle_the_order_is_the_dataset_order():
    assert rank_batches(10, 2, 2, 1, 3, shuffle=False, drop_last=False) == [[2, 3], [6, 7]]
    assert rank_batches(10, 2, 2, 0, 3, shuffle=False, drop_last=False) == [[0, 1], [4, 5], [8, 9]]


def test_resuming_mid_epoch_continues_with_the_next_global_batch():
    sampler = GlobalBatchSampler(40, 3, num_replicas=2, rank=1, seed=2)
    sampler.set_epoch(4)
    whole = list(sampler)
    sampler.set_epoch(4, start_batch=2)
    assert list(sampler) == whole[2 * 3 :]
    assert len(sampler) == len(whole) - 6


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 60),
    per_rank=st.integers(1, 7),
    replicas=st.integers(1, 4),
    drop_last=st.booleans(),
    start=st.integers(0, 3),
)
def test_lengths_and_coverage(n, per_rank, replicas, drop_last, start):
    samplers = [
        GlobalBatchSampler(n, per_rank, num_replicas=replicas, rank=r, seed=0, drop_last=drop_last)
        for r in range(replicas)
    ]
    for s in samplers:
        s.set_epoch(1, start_batch=start)
    per_rank_indices = [list(s) for s in samplers]
    for s, indices in zip(samplers, per_rank_indices, strict=True):
        assert len(s) == len(indices)
    everything = sum(per_rank_indices, [])
    assert len(everything) == len(set(everything))  # no sample twice in an epoch
    gb = per_rank * replicas
    if drop_last:
        assert len({len(x) for x in per_rank_indices}) == 1  # every rank takes the same number of steps
        assert len(everything) == max(0, n // gb - start) * gb
    elif start == 0:
        assert sorted(everything) == list(range(n))  # evaluation sees every sample once


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        GlobalBatchSampler(10, 0)
    with pytest.raises(ValueError):
        GlobalBatchSampler(10, 2, num_replicas=2, rank=2)


def test_indices_are_plain_ints_for_any_dataset():
    sampler = GlobalBatchSampler(5, 2, seed=0)
    assert all(type(i) is int for i in sampler)
    assert torch.tensor(list(sampler)).dtype == torch.long


def test_batch_view_yields_the_same_batches_as_a_batched_loader():
    sampler = GlobalBatchSampler(45, 4, num_replicas=3, rank=2, seed=9, drop_last=False)
    sampler.set_epoch(2)
    via_batch_sampler = [b.tolist() for b in DataLoader(list(range(45)), batch_sampler=sampler.batches())]
    via_sampler = [b.tolist() for b in DataLoader(list(range(45)), batch_size=4, sampler=sampler)]
    assert via_batch_sampler == via_sampler and len(sampler.batches()) == len(via_sampler) == 4
