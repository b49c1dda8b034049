"""`pmc-search embed-corpus SOURCE --out DIR`: encode a whole corpus, spread over processes, GPUs and machines.

    pmc-search embed-corpus /data/pmc_oa/train.jsonl --out /data/vectors --model pmc-clip            # one process
    torchrun --nproc_per_node 8 -m app embed-corpus /data/pmc_oa/train.jsonl --out /data/vectors      # 8 GPUs
    torchrun --nnodes 4 --node_rank R --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29400 \\
        -m app embed-corpus /data/pmc_oa/train.jsonl --out /shared/vectors                            # 4 machines
    pmc-search --library LIB index /data/pmc_oa/train.jsonl --vectors /data/vectors                   # then import

Each rank (RANK of WORLD_SIZE, from torchrun's environment; 0 of 1 without it) decodes and encodes every
WORLD_SIZE-th figure of the source on its own device (cuda:LOCAL_RANK when GPUs are there) and writes its shard
under DIR (engine.library.corpus_shards). Run the same command again after a crash: every rank resumes where its
manifest says. With several processes a gloo/nccl group is joined only to wait for all ranks at the end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.commands._arg_types import MAX_BATCH, bounded_int
from engine.errors import UserInputError
from engine.types import ModelSpec

MAX_PART = 1_000_000  # figures per shard part: a part is held in memory while it fills


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed-corpus",
        help="encode a corpus into vector shards, one per torchrun rank (then: index SOURCE --vectors DIR)",
        description="Encode every figure of SOURCE into float32 vector shards under --out; run it under torchrun "
        "to spread the work over GPUs and machines. Re-running resumes an interrupted run.",
    )
    parser.add_argument("source", metavar="SOURCE", help="image folder, PMC packages, PMC-OA jsonl or ROCO tree")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the shards go (shared by all ranks)")
    parser.add_argument("--kind", default="auto", choices=["auto", "folder", "pmc", "pmc-oa", "roco"])
    parser.add_argument("--model", default="pmc-clip", help="registry name, open_clip:ARCH/TAG or local-dir:PATH")
    parser.add_argument("--weights", metavar="FILE_OR_DIR", help="checkpoint file or folder")
    parser.add_argument("--tokenizer", metavar="DIR", help="tokenizer folder (vocab.txt)")
    parser.add_argument("--device", default="auto", help="auto (cuda:LOCAL_RANK if there is a GPU), cpu, cuda:N")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), default=64, help="images per forward pass (64)")
    parser.add_argument("--part-size", type=bounded_int(1, MAX_PART), default=4096,
                        help="figures per shard part file (4096)")
    parser.add_argument("--offline", action="store_true", help="use only local files, never download")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _rank_and_world() -> tuple[int, int, int]:
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise UserInputError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers: {e}") from e
    if world < 1 or not 0 <= rank < world:
        raise UserInputError(f"RANK {rank} is not within WORLD_SIZE {world}")
    return rank, world, local


def _device(requested: str, local_rank: int) -> str:
    if requested not in ("auto", ""):
        return requested
    import torch

    return f"cuda:{local_rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"


def _join_group(world: int, device: str):
    """A process group only to wait for every rank at the end; None for a single process."""
    if world == 1:
        return None
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo", init_method="env://")
    return dist


def run(args) -> int:
    from tqdm import tqdm

    from engine.library import create_model_encoder
    from engine.library.corpus_embed import RankJob, embed_rank
    from engine.progress import run_to_end

    source = Path(args.source)
    if not source.exists():
        raise UserInputError(f"{source} does not exist")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out} is a file; give a folder for the shards")
    kind = args.kind
    if kind == "auto":
        from engine.ingest import detect_source_kind

        kind = detect_source_kind(source.resolve())
    rank, world, local_rank = _rank_and_world()
    device = _device(args.device, local_rank)
    factory = args.encoder_factory or create_model_encoder
    encoder = factory(ModelSpec(args.model, args.weights, args.tokenizer), device, args.offline, None)
    group = _join_group(world, encoder.device)
    job = RankJob(encoder=encoder, source=source, kind=kind, out=out, rank=rank, world_size=world,
                  batch_size=args.batch_size, part_size=args.part_size)
    label = f"rank {rank}/{world}"
    with tqdm(desc=label, unit="fig", file=sys.stderr, disable=args.quiet or rank != 0) as bar:
        manifest = run_to_end(embed_rank(job), lambda progress: bar.update(progress.done - bar.n))
    print(f"{label}: {manifest.vectors} vectors, {len(manifest.problems)} problems, {manifest.model_id} "
          f"on {encoder.device} -> {args.out}")
    if group is not None:
        group.barrier()
        group.destroy_process_group()
    return 0
