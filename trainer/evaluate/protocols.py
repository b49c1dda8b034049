"""Which pairs a retrieval evaluation scores: the reference's draw, a fixed shipped subset, or everything.

The reference (`src/training/data.py`, `get_pmc_dataset`, read at b0b81e3) evaluates like this, and `reference`
reproduces it:
1. numpy's global RNG is seeded with `seed + rank` (0 on the master rank) before the data sets are built;
2. a file of more than 20,000 rows is cut to `np.random.choice(range(n), 20000)` — WITH replacement;
3. `--test-2000` then draws `np.random.choice(range(n), 2000)`, again with replacement, from the RNG state the
   20,000 draw left (so on a large file the 2k subset differs from a fresh seed-0 draw);
4. a drawn subset is visited through `SubsetRandomSampler`, i.e. in a random order; a file that was not cut is read
   in file order;
5. the DataLoader has `drop_last=True` at the eval batch size (32 in the README's eval command), so the last
   partial batch is never scored: 62 × 32 = 1,984 of the 2,000 draws.
Step 4's order comes from torch's global RNG, whose state after building the model cannot be reproduced outside the
official process; we draw it from `torch.Generator().manual_seed(seed)` instead. That changes only WHICH 16 of the
2,000 draws fall off the end, not the 2,000 themselves (README, "Differences from the reference code").

`fixed2k` (ours): 2,000 distinct rows, drawn once without replacement and shipped as a list of ids
(`trainer/evaluate/fixed2k/`), so a number can be reproduced by anyone with the same test split. `full`: every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserInputError

REFERENCE_POOL_CAP = 20_000
REFERENCE_SUBSET = 2_000
REFERENCE_EVAL_BATCH = 32
REFERENCE_SEED = 0
FIXED_SUBSET = 2_000
FIXED_SEED = 0
FIXED2K_DIR = Path(__file__).parent / "fixed2k"
PROTOCOLS = ("reference", "fixed2k", "full")


@dataclass(frozen=True)
class Pool:
    indices: np.ndarray  # row indices into the file, duplicates possible (reference)
    sampled: bool  # True: drawn (visited in a random order by the reference); False: the file as is


def reference_pool(
    n: int, *, pool_cap: int | None = REFERENCE_POOL_CAP, subset: int | None = None, seed: int = 0
) -> Pool:
    """The rows the reference's eval loader holds, before order and drop_last (steps 1–3 above)."""
    rng = np.random.RandomState(seed)  # the legacy global RNG np.random.seed() sets; choice(range(n), k) == randint
    indices, sampled = np.arange(n), False
    if pool_cap is not None and n > pool_cap:
        indices, sampled = rng.randint(0, n, size=pool_cap), True
    if subset is not None:
        indices, sampled = rng.randint(0, n, size=subset), True
    return Pool(indices.astype(np.int64), sampled)


def reference_visit_order(n: int, batch_size: int, *, seed: int = 0, shuffle: bool = True) -> np.ndarray:
    """Positions 0..n-1 in the order the reference's loader visits them, cut to whole batches (steps 4–5)."""
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    else:
        order = np.arange(n)
    return order[: (n // batch_size) * batch_size].astype(np.int64)


def reference_rows(
    n: int, *, subset: int | None = REFERENCE_SUBSET, batch_size: int = REFERENCE_EVAL_BATCH, seed: int = REFERENCE_SEED
) -> np.ndarray:
    """Row indices the reference scores, in scoring order (the `--test-2000` evaluation by default)."""
    pool = reference_pool(n, subset=subset, seed=seed)
    return pool.indices[reference_visit_order(len(pool.indices), batch_size, seed=seed, shuffle=pool.sampled)]


def draw_fixed_ids(ids: list[str], size: int = FIXED_SUBSET, seed: int = FIXED_SEED) -> list[str]:
    """`size` distinct ids drawn without replacement, in their file order (how the shipped lists were made)."""
    if len(ids) <= size:
        return list(ids)
    chosen = np.sort(np.random.default_rng(seed).choice(len(ids), size=size, replace=False))
    return [ids[int(i)] for i in chosen]


def read_id_list(path: Path) -> list[str]:
    """One id a line; `#` lines are comments."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def shipped_fixed2k(name: str) -> list[str] | None:
    path = FIXED2K_DIR / f"{name}.txt"
    return read_id_list(path) if path.is_file() else None


def fixed_rows(ids: list[str], chosen: list[str]) -> np.ndarray:
    """Row indices of `chosen` ids in a file whose row ids are `ids`; an id the file lacks is an error naming it."""
    where = {row_id: i for i, row_id in enumerate(ids)}
    missing = [c for c in chosen if c not in where]
    if missing:
        raise UserInputError(
            f"{len(missing)} of the {len(chosen)} fixed-subset ids are not in the data "
            f"(first: {', '.join(missing[:5])}): is it the right split, and complete? (`pmc-trainer data verify`)"
        )
    return np.array([where[c] for c in chosen], dtype=np.int64)
