"""`pmc-trainer data fetch NAME [--dest DIR]` and `pmc-trainer data verify NAME DIR`.

    pmc-trainer data fetch medmnist --dest data/medmnist                      # the paper's 3 subsets, 28 px
    pmc-trainer data fetch medmnist --subsets chestmnist,pathmnist --sizes 28,224
    pmc-trainer data fetch roco --dest data/roco                              # test/radiology + its images
    pmc-trainer data fetch pmc-oa --dest data/pmc-oa [--only test.jsonl,images.zip]
    pmc-trainer data fetch vqa-rad --dest data/vqa-rad ; pmc-trainer data fetch slake --dest data/slake
    pmc-trainer data verify roco data/roco

Downloads show progress, resume after an interruption, are checked (pinned sha256/md5, or the hub's hash), and
with --offline (or HF_HUB_OFFLINE=1) a missing file is named with where it is expected and how to get it.
`eval all --data-root DIR` expects the folders these commands create: DIR/{pmc-oa,roco,medmnist,vqa-rad,slake}.
"""

from __future__ import annotations

import argparse
import json

from tqdm import tqdm

from trainer.datasets.fetch import DATASETS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="fetch the paper's data sets from their public homes, and verify a copy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="data_command", metavar="VERB", required=True)
    fetch = verbs.add_parser("fetch", help="download (resumably) and unpack a data set into DEST")
    fetch.add_argument("name", choices=DATASETS)
    fetch.add_argument("--dest", help="target folder (default data/NAME)")
    fetch.add_argument("--offline", action="store_true", help="use only files already there; name what is missing")
    fetch.add_argument("--only", default="", help="pmc-oa/slake: comma-separated remote file names")
    fetch.add_argument("--subsets", default="", help="medmnist: comma-separated flags (default: the paper's three)")
    fetch.add_argument("--sizes", default="28", help="medmnist: comma-separated sizes among 28,64,128,224")
    fetch.add_argument("--splits", default="test", help="roco: comma-separated among train,validation,test")
    fetch.add_argument("--classes", default="radiology", help="roco: radiology and/or non-radiology")
    fetch.add_argument("--no-images", action="store_true", help="text/metadata only (no images.zip, no packages)")
    fetch.add_argument("--keep-archives", action="store_true", help="keep zips and packages after extracting")
    fetch.set_defaults(run=run_fetch)
    verify = verbs.add_parser("verify", help="count rows and images of a fetched data set; name what is missing")
    verify.add_argument("name", choices=DATASETS)
    verify.add_argument("dir", metavar="DIR")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=run_verify)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class DownloadBars:
    """One tqdm bar per file, fed by engine.hub's DownloadProgress values."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, p) -> None:
        bar = self.bars.get(p.filename)
        if bar is None:
            bar = self.bars[p.filename] = tqdm(
                total=p.total_bytes, desc=p.filename, unit="B", unit_scale=True, dynamic_ncols=True, disable=None
            )
        bar.update(p.done_bytes - bar.n)
        if p.total_bytes is not None and p.done_bytes >= p.total_bytes:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_fetch(args: argparse.Namespace) -> int:
    from trainer.datasets import medmnist
    from trainer.datasets.fetch import FetchOptions, fetch_dataset

    try:
        sizes = tuple(int(s) for s in _csv(args.sizes))
    except ValueError:
        from engine.errors import UserInputError

        raise UserInputError(f"--sizes must be integers among {medmnist.SIZES}, not {args.sizes!r}") from None
    options = FetchOptions(
        offline=args.offline,
        only=_csv(args.only),
        subsets=_csv(args.subsets) or medmnist.PAPER_SUBSETS,
        sizes=sizes,
        splits=_csv(args.splits),
        classes=_csv(args.classes),
        images=not args.no_images,
        keep_archives=args.keep_archives,
    )
    bars = DownloadBars()
    try:
        report = fetch_dataset(args.name, args.dest or f"data/{args.name}", options, progress=bars, note=print)
    finally:
        bars.close()
    print(
        f"{args.name}: {len(report.files)} files in {report.dest}; check it with "
        f"`pmc-trainer data verify {args.name} {report.dest}`"
    )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from trainer.datasets.verify import verify_dataset

    report = verify_dataset(args.name, args.dir)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0 if report.ok else 1
