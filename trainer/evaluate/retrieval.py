"""`eval retrieval`: image→text and text→image R@1/5/10, mean and median rank on ROCO test or a PMC-OA jsonl.

Protocols (`trainer.evaluate.protocols`): `reference` (the official 2k draw with replacement, seeded, scored in
whole batches of 32: 1,984 pairs — the setting of the paper's ROCO table), `fixed2k` (2,000 distinct shipped ids)
and `full` (every pair). Rank rules (`trainer.metrics`): `official` by default, `pessimistic` on request.
Bootstrap confidence intervals resample the queries (the gallery stays the scored set) with a seeded generator.

Pairs whose image file is absent (a ROCO package PMC no longer serves) are left out before any sampling, and the
count is reported: the official CSV could only list pairs whose image had been downloaded either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserInputError
from trainer.distributed import DistInfo
from trainer.evaluate.encode import Progress, encode_sharded, images_decoded_whole
from trainer.evaluate.protocols import (
    PROTOCOLS,
    REFERENCE_EVAL_BATCH,
    REFERENCE_SEED,
    REFERENCE_SUBSET,
    draw_fixed_ids,
    fixed_rows,
    read_id_list,
    reference_rows,
    shipped_fixed2k,
)
from trainer.metrics import TIE_RULES, paired_ranks, summarize_ranks

logger = logging.getLogger(__name__)

KS = (1, 5, 10)
DIRECTIONS = ("image_to_text", "text_to_image")


@dataclass(frozen=True)
class RetrievalSet:
    name: str  # "roco test/radiology", "pmc-oa test.jsonl", …
    ids: list[str]  # one per pair, in file order
    images: list[Path]
    captions: list[str]
    dropped: int = 0  # pairs left out because their image file is absent
    fixed2k_name: str | None = None  # the shipped fixed2k list for this set, if any

    def __len__(self) -> int:
        return len(self.ids)


def roco_set(path: Path, split: str = "test", cls: str = "radiology") -> RetrievalSet:
    """ROCO pairs from a fetched ROCO folder (or the split/class folder itself)."""
    from trainer.datasets import roco

    path = Path(path)
    folder = path if (path / "captions.txt").is_file() else roco.folder_of(path, split, cls)
    pairs = roco.read_pairs(folder)
    kept = [p for p in pairs if p.image is not None]
    if not kept:
        raise UserInputError(f"no ROCO images under {folder}/images: fetch them (`pmc-trainer data fetch roco`)")
    name = f"{folder.parent.name}/{folder.name}"
    return RetrievalSet(
        name=f"roco {name}",
        ids=[p.roco_id for p in kept],
        images=[p.image for p in kept],
        captions=[p.caption for p in kept],
        dropped=len(pairs) - len(kept),
        fixed2k_name=f"roco_{folder.parent.name}_{folder.name}".replace("-", "_"),
    )


def jsonl_set(path: Path, image_root: Path | None = None) -> RetrievalSet:
    """Pairs of a PMC-OA-style jsonl/csv; images relative to `image_root` (default: PMC-OA's layout or the file's
    folder)."""
    from trainer.data import read_rows, resolve_image_root

    path = Path(path)
    rows = read_rows(path).rows
    if image_root is None:
        pmc_images = path.parent / "images"
        image_root = resolve_image_root(pmc_images) if pmc_images.is_dir() else path.parent
    kept = [r for r in rows if (Path(image_root) / r.image).is_file()]
    if not kept:
        raise UserInputError(f"none of the {len(rows)} images of {path} is under {image_root}")
    return RetrievalSet(
        name=f"{path.parent.name} {path.name}",
        ids=[r.image for r in kept],
        images=[Path(image_root) / r.image for r in kept],
        captions=[r.caption for r in kept],
        dropped=len(rows) - len(kept),
    )


def choose_rows(
    data: RetrievalSet,
    protocol: str,
    *,
    batch_size: int = REFERENCE_EVAL_BATCH,
    seed: int = REFERENCE_SEED,
    subset: int = REFERENCE_SUBSET,
    ids_file: Path | None = None,
) -> tuple[np.ndarray, dict]:
    """(row indices to score, in order; a description of how they were chosen)."""
    if protocol == "reference":
        rows = reference_rows(len(data), subset=subset, batch_size=batch_size, seed=seed)
        info = {"draw": f"numpy seed {seed}, {subset} with replacement, drop_last at batch {batch_size}"}
    elif protocol == "fixed2k":
        if ids_file is not None:
            chosen, source = read_id_list(ids_file), str(ids_file)
        elif data.fixed2k_name and (shipped := shipped_fixed2k(data.fixed2k_name)) is not None:
            chosen, source = shipped, f"shipped list {data.fixed2k_name}"
        else:
            chosen, source = draw_fixed_ids(data.ids), "drawn from this file: default_rng(0), without replacement"
        rows = fixed_rows(data.ids, chosen)
        info = {"draw": source, "ids": chosen if ids_file is None and source.startswith("drawn") else None}
    elif protocol == "full":
        rows, info = np.arange(len(data)), {"draw": "every pair"}
    else:
        raise UserInputError(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    info = {k: v for k, v in info.items() if v is not None}
    return rows, {**info, "scored": int(len(rows)), "distinct": int(len(np.unique(rows)))}


def bootstrap_ci(ranks: np.ndarray, ties: str, n_boot: int, seed: int) -> dict[str, list[float]]:
    """95% percentile intervals of each metric, resampling queries with replacement `n_boot` times."""
    rng = np.random.default_rng(seed)
    draws = [summarize_ranks(ranks[rng.integers(0, len(ranks), len(ranks))], KS, ties) for _ in range(n_boot)]
    return {key: [float(np.percentile([d[key] for d in draws], q)) for q in (2.5, 97.5)] for key in draws[0]}


def evaluate_retrieval(
    encoder,
    data: RetrievalSet,
    *,
    protocol: str = "reference",
    ties: str = "official",
    batch_size: int = REFERENCE_EVAL_BATCH,
    seed: int = REFERENCE_SEED,
    ids_file: Path | None = None,
    bootstrap: int = 0,
    dist_info: DistInfo | None = None,
    progress: Progress = None,
) -> dict:
    """The metrics of `encoder` on `data` under `protocol`; keys like result["image_to_text"]["R@10"]."""
    if ties not in TIE_RULES:
        raise UserInputError(f"--ties must be one of {', '.join(TIE_RULES)}")
    rows, how = choose_rows(data, protocol, batch_size=batch_size, seed=seed, ids_file=ids_file)
    unique, inverse = np.unique(rows, return_inverse=True)  # a pair drawn twice is encoded once
    images = encode_sharded(
        images_decoded_whole(encoder), [data.images[i] for i in unique], dist_info=dist_info, progress=progress
    )[inverse]
    texts = encode_sharded(encoder.encode_texts, [data.captions[i] for i in unique], dist_info=dist_info)[inverse]
    ranks = paired_ranks(images, texts, ties=ties)
    n = len(rows)
    result: dict = {
        "dataset": data.name,
        "protocol": protocol,
        "ties": ties,
        **how,
        "pairs_without_image": data.dropped,
        "chance": {f"R@{k}": min(k, n) / n for k in KS} | {"mean_rank": (n + 1) / 2},
    }
    for direction in DIRECTIONS:
        result[direction] = summarize_ranks(ranks[direction], KS, ties)
        if bootstrap:
            result[direction]["ci95"] = bootstrap_ci(ranks[direction], ties, bootstrap, seed)
    return result


def format_result(result: dict) -> list[str]:
    lines = [
        f"{result['dataset']}: protocol {result['protocol']} ({result['draw']}), {result['scored']} pairs scored "
        f"({result['distinct']} distinct), ties {result['ties']}"
    ]
    for direction in DIRECTIONS:
        m = result[direction]
        recalls = "  ".join(f"R@{k} {100 * m[f'R@{k}']:.2f}" for k in KS)
        lines.append(f"  {direction:14s} {recalls}  mean rank {m['mean_rank']:.1f}  median {m['median_rank']:.0f}")
        if "ci95" in m:
            cis = "  ".join(
                f"R@{k} [{100 * m['ci95'][f'R@{k}'][0]:.1f}, {100 * m['ci95'][f'R@{k}'][1]:.1f}]" for k in KS
            )
            lines.append(f"  {'':14s} 95% CI {cis}")
    chance = "  ".join(f"R@{k} {100 * result['chance'][f'R@{k}']:.2f}" for k in KS)
    lines.append(f"  {'chance':14s} {chance}")
    if result["pairs_without_image"]:
        lines.append(f"  ({result['pairs_without_image']} pairs left out: image file absent)")
    return lines
