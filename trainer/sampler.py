"""A distributed sampler whose global batches do not depend on the number of ranks.

Layout, for `num_replicas` ranks with per-rank batch B (global batch GB = B × num_replicas):

    perm          = permutation of range(N) drawn from (seed, epoch)      (identity when shuffle=False)
    global batch g = perm[g*GB : (g+1)*GB]
    rank r, step g = global batch g [r*B : (r+1)*B]

so a 2-rank run with B per rank sees exactly the global batches of a 1-rank run with batch 2B, in the same order —
together with per-sample randomness from (seed, epoch, index) (trainer.masking.sample_rng) this makes a run
independent of how it is spread over processes. Use it with `DataLoader(dataset, batch_size=B, sampler=...)`, or
pass `sampler.batches()` as the DataLoader's `batch_sampler` to get the rank's index lists directly.

drop_last=True (training): only whole global batches, every rank gets the same number of steps.
drop_last=False (evaluation): the last, partial global batch is cut into per-rank slices of B in order, so later
ranks may get a shorter or empty last batch — meant for single-process or rank-0 evaluation, as the reference does.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class GlobalBatchSampler(Sampler[int]):
    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        *,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.dataset_size = int(dataset_size)
        self.batch_size = int(batch_size)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        self.start_batch = 0

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.num_replicas

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation; `start_batch` skips the first global batches (resuming mid-epoch)."""
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)

    def batches_per_epoch(self) -> int:
        """Steps (global batches) in a whole epoch, whatever `start_batch` is."""
        if self.drop_last:
            return self.dataset_size // self.global_batch_size
        return -(-self.dataset_size // self.global_batch_size)

    def batches(self) -> RankBatches:
        """This rank's batches as index lists, for `DataLoader(batch_sampler=...)`; follows `set_epoch`."""
        return RankBatches(self)

    def permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.dataset_size)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        return rng.permutation(self.dataset_size)

    def _rank_indices(self) -> np.ndarray:
        perm = self.permutation()
        gb, b = self.global_batch_size, self.batch_size
        parts = []
        for g in range(min(self.start_batch, self.batches_per_epoch()), self.batches_per_epoch()):
            batch = perm[g * gb : (g + 1) * gb]
            parts.append(batch[self.rank * b : (self.rank + 1) * b])
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._rank_indices().tolist())

    def __len__(self) -> int:
        # Arithmetic, not len(list(iter(self))): DataLoader asks often and a 1.6M permutation is not free.
        b, gb = self.batch_size, self.global_batch_size
        full = self.dataset_size // gb
        length = max(0, full - self.start_batch) * b
        tail = self.dataset_size - full * gb
        if not self.drop_last and tail and self.start_batch <= full:
            length += min(b, max(0, tail - self.rank * b))
        return length


class RankBatches(Sampler[list[int]]):
    """A `GlobalBatchSampler` cut into this rank's batches of `batch_size` (the last may be short without drop_last)."""

    def __init__(self, sampler: GlobalBatchSampler):
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[int]]:
        indices = self.sampler._rank_indices().tolist()
        b = self.sampler.batch_size
        for start in range(0, len(indices), b):
            yield indices[start : start + b]

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.sampler.batch_size)
