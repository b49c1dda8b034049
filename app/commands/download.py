"""`pmc-search download`: fetch a model's files now, e.g. before taking the machine (or its cache) offline.

    pmc-search download                      # PMC-CLIP's three extracted encoder files + the PubMedBERT tokenizer
    pmc-search download --full-checkpoint    # also the 2.4 GB full training checkpoint (fusion + MLM head)

Files land in the engine's cache folder (under PMC_SEARCH_HOME/cache when that is set); an interrupted run resumes
where it stopped. HF_ENDPOINT selects a hub mirror.
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

from engine import paths
from engine.hub import MODEL_FILES, PMC_CLIP_FULL_CHECKPOINT, DownloadProgress, RemoteFile, fetch, local_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download model files now, for later use without internet",
        description="Download a model's files now, e.g. before taking this machine (or a copy of its cache) offline.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="pmc-clip", choices=sorted(MODEL_FILES), help="model (default: pmc-clip)")
    parser.add_argument(
        "--full-checkpoint",
        action="store_true",
        help="also download the full 2.4 GB training checkpoint (only needed to fine-tune with the MLM head)",
    )
    parser.set_defaults(run=run)


def files_to_download(model: str, full_checkpoint: bool) -> list[RemoteFile]:
    files = list(MODEL_FILES[model])
    if full_checkpoint:
        files.append(PMC_CLIP_FULL_CHECKPOINT)
    return files


def run(args) -> int:
    for remote in files_to_download(args.model, args.full_checkpoint):
        cached = local_path(remote)
        if cached is not None:
            print(f"{remote.filename}: already here ({cached})")
            continue
        with tqdm(desc=remote.filename, unit="B", unit_scale=True, unit_divisor=1024, leave=True) as bar:

            def show(progress: DownloadProgress, bar=bar) -> None:
                bar.total = progress.total_bytes
                bar.n = progress.done_bytes
                bar.refresh()

            path = fetch(remote, progress=show)
        print(f"{remote.filename}: {path}")
    print(f"done; the files are under {paths.cache_dir() / 'hf'}")
    return 0
